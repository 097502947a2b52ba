"""Bank batch commands (``coopledger payouts …``): the batch file for the bank, the bank's return file, the batch's
state, the texts to the households' phones, and the list of a run's batches. Thin: a session, one operation, one
commit, a summary. A refusal prints its problems in the command line's language (``COOP_LANG``) on stderr and
exits 1; nothing is written."""

from __future__ import annotations

from typing import NoReturn

import click
from flask.cli import AppGroup

from cooperatives.access import CONSOLE  # commands act as the console: whoever runs them holds the database

batches_cli = AppGroup("batches", help="Bank batches.")

#: the formats of the batch file, by the suffix of ``--out``
FORMATS = {".xlsx": "xlsx", ".csv": "csv"}


@batches_cli.group("payouts")
def payouts_group():
    """Pay a run's households through the bank (代发): the batch file, the bank's return file, texts."""


def _run(session, run_id: int):
    from payouts.models import PayoutRun

    run = session.get(PayoutRun, run_id)
    if run is None:
        raise click.ClickException(f"no run {run_id}")
    return run


def _batch(session, batch_id: int):
    from payouts.models import PayoutBatch

    batch = session.get(PayoutBatch, batch_id)
    if batch is None:
        raise click.ClickException(f"no batch {batch_id}")
    return batch


def _refused(session, exc) -> NoReturn:
    """Roll back and print every problem of a refusal (``sheet:row:column: reason`` when it has a place) in the
    command line's language on stderr; exit 1."""
    from ledger.i18n import command_gettext

    session.rollback()
    gettext = command_gettext()
    for problem in getattr(exc, "problems", None) or []:
        click.echo(problem.text(gettext), err=True)
    if not getattr(exc, "problems", None):
        click.echo(str(exc), err=True)
    raise SystemExit(1)


def _date(value):
    return value.date() if value is not None else None


def _money(amount) -> str:
    """``1234.5`` -> ``1234.50`` (two decimals, as the bank file writes it)."""
    from ledger.money import fmt

    return fmt(amount)


@payouts_group.command("export")
@click.option("--run", "run_id", type=int, required=True, help="The published run whose households are paid.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), required=True,
              help="The batch file for the bank: .xlsx or .csv.")
@click.option("--layout", type=click.Choice(["generic", "rcb"]), default="generic", show_default=True,
              help="The file's columns: generic, or the rural commercial bank's (docs/BANK_LAYOUTS.md).")
@click.option("--reason", default=None, help="Why the full account numbers are revealed (logged); default "
                                             "\"银行代发 第n批\".")
@click.option("--retry-uncorrected", is_flag=True,
              help="Put in again the households an earlier batch failed to pay, even if their account was not "
                   "corrected.")
def export_command(run_id: int, out_file: str, layout: str, reason: str | None, retry_uncorrected: bool):
    """Make a batch of every household the run still owes and write its file for the bank (代发文件)."""
    from pathlib import Path

    from ledger.i18n import command_gettext
    from ledger.web.support import get_session
    from payouts.batches.operations import BatchError, apart_reason, batch_file, create_batch
    from payouts.models import PayoutBatchLine

    path = Path(out_file)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise click.UsageError(f"--out must end in .xlsx or .csv, not {path.name!r}")
    session = get_session()
    run = _run(session, run_id)
    try:
        batch = create_batch(session, run, layout=layout, retry_uncorrected=retry_uncorrected, actor=CONSOLE)
        data = batch_file(session, batch, fmt=fmt, reason=reason or f"银行代发 第{batch.number}批", actor=CONSOLE)
    except BatchError as exc:
        _refused(session, exc)
    try:
        path.write_bytes(data)
    except OSError as exc:
        session.rollback()
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    from sqlalchemy import select

    apart = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id,
                                                          PayoutBatchLine.seq.is_(None))
                            .order_by(PayoutBatchLine.member_code)).all()
    batch_id, number, count, total = batch.id, batch.number, batch.count, batch.total
    session.commit()
    click.echo(f"batch {batch_id} (第{number}批, run {run_id}): {count} households, {_money(total)} yuan, "
               f"written to {path}")
    if apart:
        gettext = command_gettext()
        click.echo(f"listed apart ({len(apart)}):")
        for line in apart:
            click.echo(f"  {line.member_code} {line.name} {_money(line.amount)}: {apart_reason(line, gettext)}")


@payouts_group.command("results")
@click.option("--batch", "batch_id", type=int, required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day the bank paid (default: today, China's date).")
def results_command(batch_id: int, file: str, on):
    """Read the bank's return file of a batch: pay each success, keep each failure owed with its reason."""
    from pathlib import Path

    from ledger.web.support import get_session
    from payouts.batches.operations import BatchError, read_results

    path = Path(file)
    session = get_session()
    batch = _batch(session, batch_id)
    try:
        results = read_results(session, batch, path.read_bytes(), path.name, on=_date(on), actor=CONSOLE)
    except BatchError as exc:
        _refused(session, exc)
    session.commit()
    if results.already:
        click.echo(f"batch {batch_id}: already read: nothing changed")
        return
    click.echo(f"batch {batch_id}: {results.paid} paid, {_money(results.paid_total)} yuan; "
               f"{results.failed} failed, {_money(results.failed_total)} yuan")


def _move(action: str):
    @payouts_group.command(action)
    @click.option("--batch", "batch_id", type=int, required=True)
    def command(batch_id: int, **kwargs):
        from ledger.web.support import get_session
        from payouts.batches import operations

        session = get_session()
        batch = _batch(session, batch_id)
        operation = {"sent": operations.mark_sent, "close": operations.close_batch,
                     "cancel": operations.cancel_batch}[action]
        extra = {"on": _date(kwargs["on"])} if action == "sent" else {}
        try:
            operation(session, batch, actor=CONSOLE, **extra)
        except operations.BatchError as exc:
            _refused(session, exc)
        status = batch.status
        session.commit()
        click.echo(f"batch {batch_id}: {status}")

    command.__doc__ = {"sent": "The batch file was handed to the bank (网银 upload or counter).",
                       "close": "Done with a batch whose results are in: its failures stay owed on the run.",
                       "cancel": "A batch the bank has not paid and will not pay: its households are free again."}[action]
    if action == "sent":
        command = click.option("--on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                               help="The day it was handed over (default: today, China's date).")(command)
    return command


for _action in ("sent", "close", "cancel"):
    _move(_action)


@payouts_group.command("sms")
@click.option("--batch", "batch_id", type=int, required=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), required=True,
              help="The .csv (phone, text) for the township's SMS platform.")
def sms_command(batch_id: int, out_file: str):
    """A text to each household of the batch with a phone on record, as a file (the product sends nothing)."""
    from pathlib import Path

    from flask import current_app

    from ledger.web.support import get_session
    from payouts.batches.operations import BatchError, sms_file

    path = Path(out_file)
    if path.suffix.lower() != ".csv":
        raise click.UsageError(f"--out must end in .csv, not {path.name!r}")
    session = get_session()
    batch = _batch(session, batch_id)
    try:
        data, export = sms_file(session, batch, public_url=current_app.extensions["coop.settings"].public_url,
                                actor=CONSOLE)
    except BatchError as exc:
        _refused(session, exc)
    try:
        path.write_bytes(data)
    except OSError as exc:
        session.rollback()
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    count, without = export.count, export.without_phone
    session.commit()
    click.echo(f"batch {batch_id}: {count} texts written to {path}; {without} households without a phone")


@payouts_group.command("batches")
@click.option("--run", "run_id", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
def batches_command(run_id: int, as_json: bool):
    """List the run's bank batches: state, count and total, paid and failed."""
    import json

    from sqlalchemy import select

    from ledger.web.support import get_session
    from payouts.models import PayoutBatch

    session = get_session(write=False)
    _run(session, run_id)
    batches = session.scalars(select(PayoutBatch).where(PayoutBatch.run_id == run_id)
                              .order_by(PayoutBatch.number)).all()
    rows = [{"id": b.id, "number": b.number, "layout": b.layout, "status": b.status, "count": b.count,
             "total": _money(b.total), "paid_count": b.paid_count or 0, "paid_total": _money(b.paid_total or 0),
             "failed_count": b.failed_count or 0, "failed_total": _money(b.failed_total or 0),
             "sent_on": b.sent_on.isoformat() if b.sent_on else None,
             "paid_on": b.paid_on.isoformat() if b.paid_on else None} for b in batches]
    session.commit()          # the command's one boundary (it only reads)
    if as_json:
        click.echo(json.dumps({"run": run_id, "batches": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"run {run_id}: no batch")
        return
    for r in rows:
        click.echo(f"batch {r['id']} 第{r['number']}批 {r['layout']:<8} {r['status']:<10} {r['count']:>5} households "
                   f"{r['total']:>14}  paid {r['paid_count']} {r['paid_total']}  "
                   f"failed {r['failed_count']} {r['failed_total']}"
                   + (f"  sent {r['sent_on']}" if r["sent_on"] else "")
                   + (f"  paid on {r['paid_on']}" if r["paid_on"] else ""))
