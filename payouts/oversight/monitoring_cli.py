"""Monitored households' commands (``coopledger monitoring …``, INTERFACES §2): import the county's list, and the
report of the monitored households' income with its warnings. Thin: a session, one operation or one read, a summary.
A refused list prints every problem in the command line's language (``COOP_LANG``) on stderr and exits 1; nothing
is written.

A plain click group (this module is not named ``cli``, so it keeps Flask out): the group pushes the app's context
itself, from the ``ScriptInfo`` the ``coopledger`` command (and the test runner) gives it."""

from __future__ import annotations

import json
from typing import NoReturn

import click

from cooperatives.access import CONSOLE  # commands act as the console: whoever runs them holds the database

monitoring_cli = click.Group("monitoring_commands", help="Monitored households.")


@monitoring_cli.group("monitoring")
@click.pass_context
def monitoring_group(ctx):
    """The county's list of monitored households (防止返贫监测对象) and their income from every entity."""
    info = ctx.obj          # flask.cli's ScriptInfo: the commands run in its app's context, as AppGroup's do
    if info is not None and hasattr(info, "load_app"):
        ctx.with_resource(info.load_app().app_context())


def _township(session, name: str | None):
    from sqlalchemy import select

    from cooperatives.models import Township

    if name is None:
        return None
    township = session.scalar(select(Township).where(Township.name == name))
    if township is None:
        raise click.ClickException(f"no township {name!r}")
    return township


def _refused(session, exc) -> NoReturn:
    from ledger.i18n import command_gettext

    session.rollback()
    gettext = command_gettext()
    for problem in exc.problems:
        click.echo(problem.text(gettext), err=True)
    raise SystemExit(1)


@monitoring_group.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--township", default=None, help="The township whose households it lists (default: every township).")
def import_command(path: str, township: str | None):
    """Import the county's list (.xlsx, .csv or a folder): open and close each household's periods, keeping history."""
    from cooperatives.monitoring import MonitoringError, import_monitoring_list, listed_rows, read_monitoring_list
    from ledger.i18n import command_gettext
    from ledger.web.support import get_session

    session = get_session()
    place = _township(session, township)
    try:
        source = read_monitoring_list(path)
    except MonitoringError as exc:
        _refused(session, exc)
    record = import_monitoring_list(session, source, township=place, actor=CONSOLE)
    listed = listed_rows(record)
    summary = (f"list {record.id}: {record.rows} rows, {record.matched} matched, {record.unmatched} unmatched, "
               f"{record.opened} periods opened, {record.closed} closed, {record.conflicts} conflicts")
    session.commit()
    click.echo(summary)
    gettext = command_gettext()
    if listed.unmatched:
        click.echo(f"unmatched ({len(listed.unmatched)}):")
        for item in listed.unmatched:
            click.echo(f"  row {item['row']}: {item['who']} {item['category']}: {item['message'].translate(gettext)}")
    if listed.conflicts:
        click.echo(f"conflicts ({len(listed.conflicts)}):")
        for item in listed.conflicts:
            click.echo(f"  row {item['row']}: {item['household']} {item['category']}: "
                       f"{item['message'].translate(gettext)}")


@monitoring_group.command("report")
@click.option("--township", required=True, help="The township's name.")
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (INTERFACES §2).")
def report_command(township: str, year: int, as_json: bool):
    """Every household monitored during the year: its income from every entity that year and the year before,
    by channel, with its warnings (nothing_received, income_fell)."""
    from ledger.i18n import command_gettext
    from ledger.web.support import get_session
    from payouts.oversight.monitoring import fall_pct_setting, monitoring_report

    session = get_session(write=False)
    place = _township(session, township)
    try:
        pct = fall_pct_setting()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = monitoring_report(session, township_id=place.id, year=year, fall_pct=pct, gettext=command_gettext())
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    header = ("household", "category", "dividends", "wages", "produce", "land_rent", "total", "previous", "per_person")
    lines = [header]
    for row in report["households"]:
        lines.append((row["household"], row["category"], *row["income"].values(), row["total"], row["previous_total"],
                      row["per_person"] or "-"))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(str(cell).ljust(width) if i < 2 else str(cell).rjust(width)
                             for i, (cell, width) in enumerate(zip(line, widths, strict=True))).rstrip())
    for row in report["households"]:
        for warning in row["warnings"]:
            click.echo(f"{row['household']}: {warning['rule']}: {warning['detail']}")
    if not report["households"]:
        click.echo(f"no household of {township} was monitored in {year}")
