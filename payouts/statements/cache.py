"""Rendered statement bodies, kept per web worker.

A statement's data is a snapshot frozen when its run is posted and never changed afterwards
(``StatementSnapshot.data``, with ``digest`` its sha256). Rendering it — Jinja, money formatting and
above all the QR code — was two thirds of the statement page's time (bench/README.md). So each worker
keeps the rendered body keyed by the snapshot's *digest*, the locale and the verification URL: the key
names the input completely, so an entry can never be stale and nothing needs invalidating. What changes
(paid status, receipts, confirmation, objections) lives outside the body and is read on every request.
The cache is bounded (LRU), so a worker's memory stays flat however many households visit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

#: bodies are 5–8 KB: a full cache costs a worker about 30 MB
MAX_BODIES = 4096


class RenderedCache:
    """A thread-safe, bounded LRU of rendered text. ``get(key, build)`` renders only on a miss."""

    def __init__(self, maxsize: int = MAX_BODIES):
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, build: Callable[[], str]) -> str:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return value
            self.misses += 1
        value = build()                       # outside the lock: two threads may render the same body once each
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


statement_bodies = RenderedCache()
