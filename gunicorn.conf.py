"""gunicorn settings for coopledger (``gunicorn -c gunicorn.conf.py payouts.wsgi:app``); see docs/DEPLOY.md.

Every value can be overridden on the command line or with ``GUNICORN_CMD_ARGS``. Sync workers: each
request is a short database read or write; the pages do no outbound calls, so threads or async workers
buy nothing and make SQLite locking harder to reason about.
"""

import multiprocessing
import os

bind = os.environ.get("COOP_BIND", "127.0.0.1:8000")
#: web workers per machine (the statement PDF batches run on Celery workers, not here)
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "sync"
#: import the app and compile its templates once, in the master, before forking
preload_app = True
timeout = 60
graceful_timeout = 30
#: recycle workers now and then (bounded memory growth over months of uptime)
max_requests = 5000
max_requests_jitter = 500
#: gunicorn >= 25 otherwise writes a control socket into ~/.gunicorn (reference/pitfalls.md #12)
control_socket_disable = True
accesslog = os.environ.get("COOP_ACCESS_LOG") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    """Drop any database connection inherited from the master (a pooled connection must never be shared
    between processes)."""
    app = worker.app.wsgi()         # preloaded: the app built in the master
    makers = getattr(app, "extensions", {}).get("ledger.sessionmaker")
    if makers:
        makers["engine"].dispose(close=False)
