"""The write paths the pages and the JSON API share: validate with the import rules, call the
operation, commit once — or roll back and say which field is wrong, in ``{field: [messages]}`` form.

One path for both doors, so a value refused on a page is refused by the API with the same reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from cooperatives.forms import parse_form
from cooperatives.importer import ImportRefused, ImportResult, import_path
from cooperatives.models import Entity, Household, Member
from cooperatives.operations import (
    RecordError,
    ensure_village,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from cooperatives.workbook import Problem, WorkbookError
from ledger.errors import ClosedPeriod, LedgerError

Errors = dict[str, list[str]]
HOUSEHOLD_COLUMNS = ("code", "head_name", "phone", "id_number", "bank_account", "monitoring", "poverty_exited")


class Refused(Exception):
    """A write refused for reasons the user can fix; ``errors`` maps field -> messages."""

    def __init__(self, errors: Errors):
        self.errors = errors
        super().__init__(errors)


def field_errors(problems: Iterable[Problem], rename: Mapping[str, str] | None = None) -> Errors:
    errors: Errors = {}
    for p in problems:
        column = (rename or {}).get(p.column, p.column) or "_schema"
        if p.reason not in errors.get(column, []):
            errors.setdefault(column, []).append(p.reason)
    return errors


def _ledger_errors(exc: LedgerError, date_field: str) -> Errors:
    if isinstance(exc, ClosedPeriod):
        return {date_field: [_("The books of %(book)s for %(year)s are closed.", book=exc.book, year=exc.year)]}
    return {"_schema": [str(exc)]}


def post_record(session: Session, entity: Entity, kind: str, data: Mapping, *, actor_id: int):
    """Validate ``data`` (raw strings, as in a form) as a record of ``kind``, then :func:`post_values`."""
    values, problems = parse_form(kind, data)
    if problems:
        raise Refused(field_errors(problems))
    return post_values(session, entity, kind, values, actor_id=actor_id)


def post_values(session: Session, entity: Entity, kind: str, values: dict, *, actor_id: int):
    """Record validated ``values`` of ``kind``, post its entry and commit. Raises :class:`Refused`
    (after a rollback) for an unknown member, a closed year, a contract number already used."""
    try:
        row = (record_land_contract(session, entity, values, actor_id=actor_id) if kind == "land"
               else record(session, entity, kind, values, actor_id=actor_id))
        session.commit()
    except RecordError as exc:
        session.rollback()
        raise Refused({exc.field: [str(exc)]}) from None
    except LedgerError as exc:
        session.rollback()
        raise Refused(_ledger_errors(exc, "start_on" if kind == "land" else "date")) from None
    except IntegrityError:
        session.rollback()
        raise Refused({"contract_no" if kind == "land" else "_schema": [_("This record is already there.")]}) from None
    return row


def parse_member(data: Mapping) -> tuple[dict | None, Errors]:
    """Validate a registration (household columns and membership columns) with the import rules."""
    household, problems = parse_form("households", data)
    membership, more = parse_form("members", {**data, "member": data.get("code", "")})
    errors = field_errors([*problems, *more], rename={"member": "code"})
    if errors:
        return None, errors
    return {**household, **membership}, {}


def enrol(session: Session, entity: Entity, data: Mapping, *, actor_id: int) -> Member:
    """Register a household (unless its code is registered already, in this township) and make it a
    member of ``entity``; commit. Raises :class:`Refused` (after a rollback) when anything is wrong."""
    values, errors = parse_member(data)
    if errors:
        raise Refused(errors)
    try:
        _check_enrolment(session, entity, values)
        household = session.scalar(select(Household).where(Household.code == values["code"]))
        if household is None:
            village = ensure_village(session, entity.township, values["village"])
            register_household(session, village=village, actor_id=actor_id, **{k: values[k] for k in HOUSEHOLD_COLUMNS})
        member = register_member(session, entity, code=values["code"], member_no=values["member_no"],
                                 joined_on=values["joined_on"], left_on=values.get("left_on"),
                                 farmer=values["farmer"], actor_id=actor_id)
        session.commit()
    except RecordError as exc:
        session.rollback()
        raise Refused({exc.field: [str(exc)]}) from None
    except IntegrityError:
        session.rollback()
        raise Refused({"member_no": [_("This member number or household is already registered.")]}) from None
    return member


def _check_enrolment(session: Session, entity: Entity, values: dict) -> None:
    code, number = values["code"], values["member_no"]
    household = session.scalar(select(Household).options(joinedload(Household.village))
                               .where(Household.code == code))
    if household is not None and household.village.township_id != entity.township_id:
        # household codes are global: never reveal (or enrol) a household of another township
        raise RecordError("code", _("The household code %(code)s is already used in another township.", code=code))
    taken = session.execute(select(Member.code, Member.member_no).where(
        Member.entity_id == entity.id, (Member.code == code) | (Member.member_no == number))).all()
    for taken_code, taken_no in taken:
        if taken_code == code:
            raise RecordError("code", _("%(code)s is already member no. %(n)s.", code=code, n=taken_no))
        raise RecordError("member_no", _("Member no. %(n)s is already %(code)s.", n=number, code=taken_code))


# --------------------------------------------------------------------------------------------- uploads


class ImportFailed(Exception):
    """Nothing was imported: ``lines`` say why (``sheet:row:column: reason``); ``status`` is 422 or 409."""

    def __init__(self, lines: list[str], status: int):
        self.lines, self.status = lines, status
        super().__init__("\n".join(lines))


def import_upload(session: Session, entity: Entity, files: list, *, actor_id: int, dry_run: bool = False
                  ) -> ImportResult:
    """Import an uploaded workbook into ``entity`` (a workbook naming another entity is refused), and
    commit — or roll back for a dry run. Raises :class:`ImportFailed` (after a rollback)."""
    with saved_upload(files) as path:
        try:
            result = import_path(session, path, entity_code=entity.code, actor_id=actor_id, dry_run=dry_run)
        except WorkbookError as exc:
            session.rollback()
            raise ImportFailed(problem_lines(exc.problems, path), 422) from None
        except ImportRefused as exc:
            session.rollback()
            raise ImportFailed([str(exc)], 409) from None
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return result


@contextmanager
def saved_upload(files: list) -> Iterator[Path]:
    """Save an uploaded workbook — one ``.xlsx`` file, or several ``<sheet>.csv`` files — in a temporary
    place and yield the path to read (the file, or the folder of CSV files). Removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="coop-upload-") as tmp:
        names = [_upload_name(f.filename or "") for f in files]
        if len(files) == 1 and not names[0].lower().endswith(".csv"):
            path = Path(tmp) / names[0]
            files[0].save(path)
            yield path
            return
        folder = Path(tmp) / "workbook"
        folder.mkdir()
        for upload, name in zip(files, names, strict=True):
            upload.save(folder / (name if name.lower().endswith(".csv") else name + ".csv"))
        yield folder


def _upload_name(filename: str) -> str:
    """The last part of an uploaded file's name, safe as a file name (Chinese sheet names are kept)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    if len(name) > 60:                   # file systems allow 255 bytes; a Chinese character takes 3
        stem, dot, suffix = name.rpartition(".")
        name = stem[:50] + dot + suffix[:8] if dot else name[:60]
    return name if name not in ("", ".", "..") and not name.startswith(".") else "upload"


def problem_lines(problems: Iterable[Problem], path: Path) -> list[str]:
    """``sheet:row:column: reason`` lines, naming the uploaded file rather than the temporary path."""
    prefix = str(path.parent) + os.sep
    return [str(p).replace(prefix, "") for p in problems]
