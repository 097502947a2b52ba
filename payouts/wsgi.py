"""The WSGI entry point for production servers: ``gunicorn -c gunicorn.conf.py payouts.wsgi:app``.

The app is built once here from the environment (``DATABASE_URL``, ``COOP_*``; see docs/DEPLOY.md). With
``preload_app`` (gunicorn.conf.py) that happens once in the master, before the workers fork, so each
worker starts with templates compiled and modules imported; the database pool is opened lazily in each
worker (no connection is made while building the app, and the master's pool is dropped after fork).
"""

from __future__ import annotations

from payouts.app import create_app

app = create_app()
