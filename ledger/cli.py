"""Ledger commands: verify, trial-balance, export. Thin: get a session, call a query, print."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from ledger.beancount import export_beancount
from ledger.report_cli import TRIAL_BALANCE_HELP, book_or_fail, show_trial_balance, trial_balance_options
from ledger.verify import verify_books
from ledger.web.support import get_session

ledger_cli = AppGroup("ledger", help="The books.")


@ledger_cli.command("verify")
@click.option("--entity", "entity_code", help="Only this entity's books (default: all).")
def verify_command(entity_code: str | None):
    """Recompute hash chains and balances; exit 1 naming every difference."""
    session = get_session()
    books = [book_or_fail(session, entity_code)] if entity_code else None
    diffs = verify_books(session, books)
    # what the layers above keep beside the books (the audit log's chains): they register a
    # ``verifier(session, entity_code or None) -> differences``, so the ledger imports none of them
    for verifier in current_app.extensions.get("ledger.verifiers", ()):
        diffs.extend(verifier(session, entity_code))
    if diffs:
        for diff in diffs:
            click.echo(f"DIFFERENCE {diff}", err=True)
        raise SystemExit(1)
    from sqlalchemy import func, select

    from ledger.models import Book

    count = len(books) if books else session.scalar(select(func.count(Book.id)))
    click.echo(f"OK: {count} book(s) verified: hash chains intact, every entry balances, vouchers gapless.")


@ledger_cli.command("trial-balance", help=TRIAL_BALANCE_HELP)
@trial_balance_options
def trial_balance_command(entity_code: str, year: int | None, as_json: bool):
    show_trial_balance(get_session(), entity_code, year, as_json)


@ledger_cli.group("export")
def export_group():
    """Export the books."""


@export_group.command("beancount")
@click.option("--entity", "entity_code", required=True)
def export_beancount_command(entity_code: str):
    """The entity's ledger in Beancount syntax on stdout (check it with bean-check)."""
    session = get_session()
    book = book_or_fail(session, entity_code)
    out = sys.stdout
    for line in export_beancount(session, book):
        out.write(line + "\n")
