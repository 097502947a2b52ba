"""The real app on a committed database of its own, served from a background thread: shared by the
browser tests' fixtures (``live``, ``hostile_live``, ``demo_url``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def live_app(database_url: str, secret_key: str = "x", **settings):
    """``create_app`` on ``database_url`` with its tables created, cookies allowed over plain HTTP
    (``settings``: more fields of ``Settings``, e.g. ``proxy_hops=1``)."""
    from ledger.db import Base
    from payouts.app import create_app
    from payouts.settings import Settings

    app = create_app(Settings(database_url=database_url, secret_key=secret_key, cookie_secure=False, **settings))
    Base.metadata.create_all(app.extensions["ledger.sessionmaker"]["engine"])
    return app


def cli_of(app) -> Callable[..., str]:
    """``cli("import", path)`` runs a ``coopledger`` command in ``app``; asserts it succeeded; its stdout."""
    runner = app.test_cli_runner()

    def cli(*args) -> str:
        result = runner.invoke(args=list(args), catch_exceptions=False, env={"COOP_LANG": "en"})
        assert result.exit_code == 0, result.output
        return result.stdout

    return cli


@contextmanager
def served(app, name: str = "coopledger-live") -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1; yields its base URL; afterwards stops the server and
    disposes the app's engine (no pooled connection left to the garbage collector)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["ledger.sessionmaker"]["engine"].dispose()
