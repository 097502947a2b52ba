"""The books and the statements as PDFs to print and sign (:mod:`payouts.reports.printing`), and a year's archive
(:mod:`payouts.reports.archive`). Staff only, within their scope (an entity outside it answers 404). Each view reads
its arguments the way the book's page does and hands the query to the printer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from cooperatives.web.access import entity_or_404
from ledger.books import RECONCILIATION_INPUTS, money_journal, period
from ledger.chart import ROLES
from ledger.web.support import STAFF, get_session, rule
from ledger.web.views import period_args, reconciliation_of
from payouts.reports import printing
from payouts.reports.cli import StatusFile
from payouts.reports.web import year_or_404

bp = Blueprint("printing", __name__, url_prefix="/e/<code>")
PDF = "application/pdf"


def _pdf(data: bytes, name: str):
    return send_file(BytesIO(data), mimetype=PDF, as_attachment=False, download_name=name)


@bp.get("/reports/<year>/statements.pdf")
@rule(*STAFF, scope="entity")
def statements_pdf(code: str, year: str):
    """The year's statements and 附注 (``?name=balance-sheet`` for one of them)."""
    year_ = year_or_404(year)
    entity = entity_or_404(code)
    name = request.args.get("name")
    if name is not None and name not in printing.STATEMENTS:
        abort(404)
    reports = printing.statements(get_session(), entity, year_, (name,) if name else printing.STATEMENTS)
    if not reports:
        abort(404)
    return _pdf(printing.reports_pdf(entity, year_, reports), f"{entity.code}-{year_}-statements.pdf")


@bp.get("/balances.pdf")
@rule(*STAFF, scope="entity")
def balances_pdf(code: str):
    """科目余额表, ``?year=&quarter=`` or ``&month=`` as on its page."""
    entity = entity_or_404(code)
    year, month, quarter = period_args(entity.book)
    return _pdf(printing.balances_pdf(get_session(), entity, year, month, quarter), f"{entity.code}-{year}-balances.pdf")


@bp.get("/money-journal.pdf")
@rule(*STAFF, scope="entity")
def money_journal_pdf(code: str):
    """日记账 of ``?account=`` (the first money account by default) for the period of its page."""
    entity = entity_or_404(code)
    year, month, quarter = period_args(entity.book)
    accounts = [c for c, _ in printing.money_accounts(get_session(), entity, year)]
    chosen = request.args.get("account") or (accounts[0] if accounts else "")
    if chosen not in accounts:
        abort(404)
    journal = money_journal(get_session(), entity.book.holding(year), chosen, *period(year, month, quarter))
    reconciliation, wrong = reconciliation_of(journal, ROLES.get(entity.book.holding(year).chart, {}))
    if wrong:
        abort(400)
    reconcile = {k: getattr(reconciliation, k) for k in RECONCILIATION_INPUTS} if reconciliation else None
    return _pdf(printing.money_journal_pdf(get_session(), entity, chosen, year, month, quarter, reconcile=reconcile),
                f"{entity.code}-{year}-{chosen}-journal.pdf")


@bp.get("/ledger.pdf", endpoint="ledger_pdf")
@bp.get("/general-ledger.pdf", endpoint="general_ledger_pdf")
@rule(*STAFF, scope="entity")
def ledger_pdf(code: str):
    """明细账 of ``?account=`` (``?member=`` for one member's sub-account; by default the account its page opens on)
    or 总账 of ``?account=`` — of every account with a movement when none is given (the months only: a few pages) —
    for ``?year=``. Every account's 明细账 at once is the archive's (it may run to hundreds of pages)."""
    entity = entity_or_404(code)
    year, _, _ = period_args(entity.book)
    general = request.path.endswith("/general-ledger.pdf")
    known = printing.ledger_accounts(get_session(), entity, year)
    account = request.args.get("account") or (None if general else (known[0] if known else None))
    if account is not None and account not in known:
        abort(404)
    member = None if general else request.args.get("member")
    data = printing.ledger_pdf(get_session(), entity, year, [account] if account else known, member=member,
                               general=general)
    return _pdf(data, f"{entity.code}-{year}-{'general-ledger' if general else 'ledger'}{'-' + account if account else ''}.pdf")


# ------------------------------------------------------------------------------------------ the archive


def _archive_paths(entity, year: int) -> tuple[Path, Path]:
    """(the ZIP, its status file) of ``entity``'s ``year`` archive under the instance folder."""
    folder = Path(current_app.instance_path) / "archives" / entity.code
    return folder / f"{entity.code}-{year}-archive.zip", folder / f"{year}-status.json"


def launch_archive(code: str, year: int, out: str, status: str) -> subprocess.Popen:
    """Start ``coopledger archive`` for the archive (detached from the request; it reports to ``status``), on this
    app's database, with its keys and public address (not whatever the server's environment says)."""
    env = current_app.extensions["coop.settings"].command_env()
    command = [str(Path(sys.executable).parent / "coopledger"), "archive", "--entity", code, "--year", str(year),
               "--out", out, "--status", status]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


#: how long a started archive may wait for its process to report before the page calls it failed
START_TIMEOUT = 300
#: how long a running archive may go without reporting a finished file before the page calls it failed (one file
#: of a very large entity — its 明细账 — may take minutes)
SILENCE_TIMEOUT = 1800


def status_of(path: Path) -> dict | None:
    """The archive's status file, or None; "running" with a process that is gone (killed, the machine restarted)
    or that never started is read as failed, so the page offers to start again."""
    try:
        status = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if status.get("status") == "running" and not _alive(status):
        status = {**status, "status": "failed", "error": _("It stopped before it was finished.")}
    return status


def _alive(status: dict) -> bool:
    """Whether the process making the archive is still at it: it has reported lately, and its process exists and is
    not a zombie (a killed child the web process has not reaped yet)."""
    pid, silent = status.get("pid"), time.time() - status.get("at", 0)
    if not pid:                                    # written by the page: has the process reported since?
        return silent < START_TIMEOUT
    if silent >= SILENCE_TIMEOUT:
        return False
    try:
        state = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state not in ("Z", "X")


@bp.get("/reports/<year>/archive")
@rule(*STAFF, scope="entity")
def archive_page(code: str, year: str):
    """The year's 会计档案: whether it is being made (files printed so far), ready (its size and when it was
    made) or failed; a button makes it (again)."""
    year_ = year_or_404(year)
    entity = entity_or_404(code)
    zip_path, status_path = _archive_paths(entity, year_)
    status = status_of(status_path)
    ready = zip_path.is_file()
    return render_template("payouts/reports/archive.html", entity=entity, year=year_, status=status, ready=ready,
                           name=None, chart=printing.statutory.chart_in(entity, year_),
                           size=zip_path.stat().st_size if ready else None,
                           refresh=bool(status and status.get("status") == "running"))


@bp.post("/reports/<year>/archive")
@rule("admin", "accountant", write=True, scope="entity")
def archive_start(code: str, year: str):
    """Make the year's archive in a process of its own (it prints hundreds of pages); the page follows it. The
    books' keepers make it (a write: it leaves a file behind); the township's auditor reads what they made."""
    year_ = year_or_404(year)
    entity = entity_or_404(code, write=True)
    zip_path, status_path = _archive_paths(entity, year_)
    status = status_of(status_path)
    if status and status.get("status") == "running":
        flash(_("The archive is being made."), "info")
    else:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        StatusFile(str(status_path)).write(status="running", done=0, total=0)
        try:
            current_app.extensions.get("coop.archive_launcher", launch_archive)(entity.code, year_, str(zip_path),
                                                                               str(status_path))
        except OSError as exc:            # the command could not be started: say so, and let it be tried again
            StatusFile(str(status_path)).write(status="failed", error=str(exc)[:300])
    return redirect(url_for("printing.archive_page", code=code, year=year_))


@bp.get("/reports/<year>/archive.zip")
@rule(*STAFF, scope="entity")
def archive_download(code: str, year: str):
    year_ = year_or_404(year)
    entity = entity_or_404(code)
    zip_path, _status_path = _archive_paths(entity, year_)
    if not zip_path.is_file():
        flash(_("The archive of %(year)s has not been made yet.", year=year_), "info")
        return redirect(url_for("printing.archive_page", code=code, year=year_))
    return send_file(zip_path, mimetype="application/zip", as_attachment=True, download_name=zip_path.name)
