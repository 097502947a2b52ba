"""The write paths the pages and the JSON API share: validate with the import rules, call the
operation, commit once — or roll back and say which field is wrong, in ``{field: [messages]}`` form.

One path for both doors, so a value refused on a page is refused by the API with the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cooperatives import operations
from cooperatives.access import Principal
from cooperatives.forms import parse_form
from cooperatives.imports import create_import_job
from cooperatives.kinds import KINDS
from cooperatives.models import Entity, ImportJob, Member
from cooperatives.operations import RecordError, record
from ledger.errors import ClosedPeriod, LedgerError, Problem
from ledger.errors import field_errors as _field_errors
from ledger.i18n import as_message

Errors = dict[str, list[str]]


class Refused(Exception):
    """A write refused for reasons the user can fix; ``errors`` maps field -> messages in the reader's
    language."""

    def __init__(self, errors: Errors):
        self.errors = errors
        super().__init__(errors)


def field_errors(problems: Iterable[Problem], rename: Mapping[str, str] | None = None) -> Errors:
    """``{field: [messages]}`` in the page's language (the one place problems become words on the web)."""
    return _field_errors(problems, _, rename=dict(rename or {}))


def post_record(session: Session, entity: Entity, kind: str, data: Mapping, *, actor: Principal):
    """Validate ``data`` (raw strings, as in a form) as a record of ``kind``, then :func:`post_values`."""
    values, problems = parse_form(kind, data)
    if problems:
        raise Refused(field_errors(problems))
    return post_values(session, entity, kind, values, actor=actor)


def post_values(session: Session, entity: Entity, kind: str, values: dict, *, actor: Principal):
    """Record validated ``values`` of ``kind``, post its entry and commit. Raises :class:`Refused`
    (after a rollback) for what the operation refuses: an unknown member, a closed year, a contract
    number already used."""
    date_field = KINDS[kind].date_column
    try:
        row = record(session, entity, kind, values, actor=actor)
        session.commit()
    except (RecordError, LedgerError) as exc:
        session.rollback()
        where = date_field if isinstance(exc, ClosedPeriod) else None      # the year the date falls in is closed
        problems = [p if p.column else Problem.of(p.reason, where) for p in exc.problems]
        raise Refused(field_errors(problems)) from None
    except IntegrityError:
        session.rollback()
        raise Refused({"contract_no" if kind == "land" else "_schema": [_("This record is already there.")]}) from None
    return row


def void(session: Session, entity: Entity, kind: str, record_id: int, reason: str | None, *, actor: Principal):
    """Void a record (:func:`cooperatives.operations.void_record`) and commit. Raises :class:`Refused` (after
    a rollback) when it is voided already, its year is closed, or no reason is given."""
    try:
        entries = operations.void_record(session, entity, kind, record_id, reason=reason or "", actor=actor)
        session.commit()
    except (RecordError, LedgerError) as exc:
        session.rollback()
        raise Refused(field_errors(exc.problems)) from None
    except IntegrityError:                  # voided at the same moment by someone else: its reversal exists
        session.rollback()
        raise Refused({"_schema": [_("This record was voided already.")]}) from None
    return entries


def dispose(session: Session, entity: Entity, asset_id: int, values: Mapping, *, actor: Principal) -> list[int]:
    """Dispose of a fixed asset (:func:`cooperatives.operations.dispose_asset`) and commit; Refused as :func:`void`."""
    try:
        ids = operations.dispose_asset(session, entity, asset_id, on=values["date"], proceeds=values["proceeds"],
                                       method=values["method"], actor=actor)
        session.commit()
    except (RecordError, LedgerError) as exc:
        session.rollback()
        raise Refused(field_errors(exc.problems)) from None
    return ids


def put_in_use(session: Session, entity: Entity, asset_id: int, values: Mapping, *, actor: Principal) -> int:
    """An asset under construction comes into use (:func:`cooperatives.operations.put_asset_in_use`) and commit;
    Refused as :func:`void`."""
    try:
        entry_id = operations.put_asset_in_use(session, entity, asset_id, on=values["date"], actor=actor)
        session.commit()
    except (RecordError, LedgerError) as exc:
        session.rollback()
        raise Refused(field_errors(exc.problems)) from None
    return entry_id


def post_opening_form(session: Session, entity: Entity, raw_lines: list[Mapping], *, actor: Principal):
    """Opening-balance lines as typed on the page (the ``opening`` sheet's columns, raw): each checked by the
    sheet's rules (errors keyed ``lines.<n>.<column>``, n from 1; blank lines skipped), then
    :func:`post_opening`."""
    lines, errors = [], {}
    for n, raw in enumerate(raw_lines, 1):
        if not any(str(v or "").strip() for v in raw.values()):
            continue
        values, problems = parse_form("opening", raw)
        for column, messages in field_errors(problems).items():
            errors.setdefault(f"lines.{n}.{column}", []).extend(messages)
        if values is not None:
            lines.append((n, values))
    if errors:
        raise Refused(errors)
    return post_opening(session, entity, lines, actor=actor)


def post_opening(session: Session, entity: Entity, lines: list[tuple[int, dict]], *, actor: Principal):
    """Post checked opening-balance lines (``(n, values)``: the line's number as its author sees it, and its
    typed values) through :func:`cooperatives.operations.post_opening`; commit. A line's refusal is keyed
    ``lines.<n>.<column>``. Raises :class:`Refused` (after a rollback)."""
    try:
        entry = operations.post_opening(session, entity, [v for _, v in lines], actor=actor)
        session.commit()
    except (RecordError, LedgerError) as exc:
        session.rollback()
        out: Errors = {}
        for p in exc.problems:            # a line's problem names its line (row: its place among the lines)
            key = f"lines.{lines[p.row - 1][0]}.{p.column}" if p.row and p.column else "_schema"
            out.setdefault(key, []).append(as_message(p.reason).translate(_))
        raise Refused(out) from None
    except IntegrityError:
        session.rollback()
        raise Refused({"_schema": [_("The opening balances are already posted.")]}) from None
    return entry


#: the voucher's own fields (the rest of a refusal is about one of its lines)
VOUCHER_FIELDS = ("date", "memo", "attachments")


def post_voucher_form(session: Session, entity: Entity, head: Mapping, raw_lines: list[Mapping], *,
                      actor: Principal):
    """A voucher as typed on the page: its ``head`` (date, memo, attachments: raw strings, checked by the
    ``journal`` sheet's rules) and its lines (the ``opening`` sheet's columns: account, member, debit, credit;
    errors keyed ``lines.<n>.<column>``, n from 1; blank lines skipped), then :func:`post_voucher`."""
    errors: Errors = {}
    values, problems = parse_form("journal", {"voucher": "-", "account": "-", **{f: head.get(f, "") for f in VOUCHER_FIELDS}})
    for column, messages in field_errors(problems).items():
        errors.setdefault(column, []).extend(messages)
    lines = []
    for n, raw in enumerate(raw_lines, 1):
        if not any(str(v or "").strip() for v in raw.values()):
            continue
        line, problems = parse_form("opening", raw)
        for column, messages in field_errors(problems).items():
            errors.setdefault(f"lines.{n}.{column}", []).extend(messages)
        if line is not None:
            lines.append((n, line))
    if errors:
        raise Refused(errors)
    return post_voucher(session, entity, {f: values.get(f) for f in VOUCHER_FIELDS}, lines, actor=actor)


def post_voucher(session: Session, entity: Entity, head: dict, lines: list[tuple[int, dict]], *, actor: Principal):
    """Post a checked voucher (its ``head``: date, memo, attachments; its lines as ``(n, values)``) through
    :func:`cooperatives.operations.post_vouchers`; commit. Raises :class:`Refused` (after a rollback), a line's
    refusal keyed ``lines.<n>.<column>``."""
    try:
        [voucher] = operations.post_vouchers(session, entity, [{**head, "lines": [v for _, v in lines]}], actor=actor)
        session.commit()
    except (RecordError, LedgerError) as exc:
        session.rollback()
        out: Errors = {}
        for p in exc.problems:
            if p.sheet == "lines" and p.row and p.column:
                key = f"lines.{lines[p.row - 1][0]}.{p.column}"
            else:
                key = p.column if p.column in VOUCHER_FIELDS else "_schema"
            out.setdefault(key, []).append(as_message(p.reason).translate(_))
        raise Refused(out) from None
    return voucher


def parse_member(data: Mapping) -> tuple[dict | None, Errors]:
    """Validate a registration (household columns and membership columns) with the import rules."""
    household, problems = parse_form("households", data)
    membership, more = parse_form("members", {**data, "member": data.get("code", "")})
    errors = field_errors([*problems, *more], rename={"member": "code"})
    if errors:
        return None, errors
    return {**household, **membership}, {}


def enrol(session: Session, entity: Entity, data: Mapping, *, actor: Principal) -> Member:
    """Validate a registration and enrol it (:func:`cooperatives.operations.enrol`); commit. Raises
    :class:`Refused` (after a rollback) when anything is wrong."""
    values, errors = parse_member(data)
    if errors:
        raise Refused(errors)
    try:
        member = operations.enrol(session, entity, values, actor=actor)
        session.commit()
    except RecordError as exc:
        session.rollback()
        raise Refused(field_errors(exc.problems)) from None
    except IntegrityError:
        session.rollback()
        raise Refused({"member_no": [_("This member number or household is already registered.")]}) from None
    return member


# --------------------------------------------------------------------------------------------- uploads


def start_import(session: Session, entity: Entity, files: list, *, actor: Principal, dry_run: bool = False
                 ) -> ImportJob:
    """Store an uploaded workbook (one ``.xlsx`` file, or ``.csv`` files one per sheet) as an import job of
    ``entity``, commit, and start the job (``coop.import_launcher``: its own process, or a Celery worker).
    The request returns at once: it never holds the write lock while the workbook is read."""
    job = create_import_job(session, entity, [(f.filename or "upload", f.read()) for f in files], dry_run=dry_run,
                            actor=actor)
    session.commit()
    current_app.extensions["coop.import_launcher"](job.id)
    return job
