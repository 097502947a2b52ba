"""The trial balance on the command line, without Flask: ``coopledger trial-balance`` answers from here
without building the web app or importing Flask at all (the county-scale report, timed against ledger-cli and
a bare ``GROUP BY`` in bench/run.py, where start-up is most of the time). ``ledger.cli`` registers the same
command in the Flask CLI group."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import click

from ledger.money import fmt
from ledger.queries import get_book, trial_balance

TRIAL_BALANCE_HELP = "Trial balance (试算平衡表): opening, debits, credits and closing per account."


def book_or_fail(session, code: str):
    try:
        return get_book(session, code)
    except LookupError:
        raise click.ClickException(f"no entity {code!r}") from None


def trial_balance_options(command):
    for option in reversed((click.option("--entity", "entity_code", required=True), click.option("--year", type=int),
                            click.option("--json", "as_json", is_flag=True, help="Print JSON (amounts as strings)."))):
        command = option(command)
    return command


def show_trial_balance(session, entity_code: str, year: int | None, as_json: bool) -> None:
    """Print the trial balance of ``entity_code`` (one aggregate query; see ledger.queries.trial_balance)."""
    book = book_or_fail(session, entity_code)
    rows = trial_balance(session, book, year)
    totals = {k: sum((getattr(r, k) for r in rows), start=Decimal("0.00"))
              for k in ("opening", "debit", "credit", "closing")}
    if as_json:
        json.dump({
            "entity": entity_code, "year": year,
            "accounts": [{"code": r.code, "name": r.name, "type": r.type, "opening": fmt(r.opening),
                          "debit": fmt(r.debit), "credit": fmt(r.credit), "closing": fmt(r.closing)} for r in rows],
            "totals": {k: fmt(v) for k, v in totals.items()},
            "balanced": totals["closing"] == 0 and totals["debit"] == totals["credit"],
        }, sys.stdout, ensure_ascii=False, indent=2)
        click.echo()
        return
    click.echo(f"{'code':<6} {'account':<22} {'opening':>16} {'debit':>16} {'credit':>16} {'closing':>16}")
    for r in rows:
        click.echo(f"{r.code:<6} {r.name:<22} {fmt(r.opening):>16} {fmt(r.debit):>16} {fmt(r.credit):>16} "
                   f"{fmt(r.closing):>16}")
    click.echo(f"{'':<6} {'total':<22} {fmt(totals['opening']):>16} {fmt(totals['debit']):>16} "
               f"{fmt(totals['credit']):>16} {fmt(totals['closing']):>16}")




def standalone_trial_balance(database_url: str, args: list[str]) -> None:
    """``coopledger trial-balance`` without building the web app: the same options, output and exit codes,
    in about half the start-up time (it reads one book and needs no page, no translation and no login;
    bench/README.md). Exits like a click command."""
    from sqlalchemy.orm import Session

    from ledger.db import make_engine

    @click.command("trial-balance", help=TRIAL_BALANCE_HELP)
    @trial_balance_options
    def command(entity_code: str, year: int | None, as_json: bool):
        engine = make_engine(database_url)
        try:
            with Session(engine) as session:
                show_trial_balance(session, entity_code, year, as_json)
        finally:
            engine.dispose()

    command.main(args, prog_name="coopledger trial-balance")


