"""Alembic environment. Uses the connection handed over in ``config.attributes`` (``coopledger init``,
tests) or else ``DATABASE_URL``. Batch mode on SQLite, whose ALTER TABLE is limited."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

import cooperatives.models  # noqa: F401
import ledger.models  # noqa: F401
import payouts.models  # noqa: F401
from ledger.db import Base, Fixed

config = context.config
target_metadata = Base.metadata


def _render_item(type_, obj, autogen_context):
    """Render our exact-decimal types as what they are in the database, so migrations need no app code."""
    if type_ == "type" and isinstance(obj, Fixed):
        return "sa.BigInteger()"
    return False


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_item=_render_item,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("DATABASE_URL", "sqlite:///instance/coopledger.db")
    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)


def run_migrations_offline() -> None:
    context.configure(url=os.environ.get("DATABASE_URL", "sqlite:///instance/coopledger.db"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
