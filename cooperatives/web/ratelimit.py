"""Limits on guessing secrets (passwords, PINs): every attempt is counted *before* the secret is checked.

Flask-Limiter's ``deduct_when`` tests a limit before the view and counts a failure after it, so requests
arriving together were all tested against the same count and all checked (60 parallel wrong PINs: 60
checked against a limit of 10). A plain ``limiter.limit`` instead *hits* the limit before the view: with
the fixed-window strategy (Flask-Limiter's default, used here) a hit is one increment-and-compare in the
storage — ``INCRBY`` + ``EXPIRE`` in one Lua script on Redis (``limits.storage.RedisStorage.incr``), so
atomic across processes. A right secret then gives its attempt back (:func:`forgive_attempt`), so only
wrong ones use up the limit, as before; a wrong one never gets its attempt back.

limits' own memory storage (``memory://``, one process) is not atomic under threads: a new key's lock is
dropped by ``get`` until its expiry is set, and ``Counter.__missing__`` runs Python code between the read
and the write of ``storage[key] += amount``, so a burst on a new key loses increments (measured: 40
threads, 300 bursts, 8 let 11-15 through a limit of 10). :class:`AtomicMemoryStorage` replaces it for
``memory://`` with one lock around every operation.
"""

from __future__ import annotations

import threading

from flask_limiter import Limiter
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

__all__ = ["AtomicMemoryStorage", "forgive_attempt"]


class AtomicMemoryStorage(MemoryStorage):
    """limits' memory storage with one lock around counting, reading, clearing and expiring: an
    increment-and-compare is atomic among the threads of a process. Registered for ``memory://`` in place
    of limits' own class (``STORAGE_SCHEME``), for every limiter of the process."""

    STORAGE_SCHEME = ["memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._one_at_a_time = threading.RLock()         # before the base class starts its expiry timer
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._one_at_a_time:
            return super().incr(key, expiry, amount)

    def get(self, key: str) -> int:
        with self._one_at_a_time:
            return super().get(key)

    def clear(self, key: str) -> None:
        with self._one_at_a_time:
            super().clear(key)

    def reset(self) -> int | None:
        with self._one_at_a_time:
            return super().reset()

    def _MemoryStorage__expire_events(self) -> None:     # the base class's expiry timer (a name-mangled method)
        with self._one_at_a_time:
            super()._MemoryStorage__expire_events()

    def __setstate__(self, state: dict) -> None:
        self._one_at_a_time = threading.RLock()
        super().__setstate__(state)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_one_at_a_time", None)
        return state


def forgive_attempt(limiter: Limiter) -> None:
    """Give back the attempt this request counted against each of its limits: call after the secret was
    right. The count stays at or above the number of wrong attempts, so a burst can still never check
    more wrong secrets than the limit allows. (Fixed window only: other strategies keep the attempt.)"""
    strategy = limiter.limiter
    if not isinstance(strategy, FixedWindowRateLimiter):
        return
    for counted in limiter.current_limits:
        if counted.breached:
            continue
        key = counted.limit.key_for(*counted.request_args)
        if strategy.storage.get(key) > 0:
            strategy.storage.incr(key, counted.limit.get_expiry(), amount=-1)
