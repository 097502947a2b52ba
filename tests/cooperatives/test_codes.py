"""Look-alike codes (cooperatives.codes): one spelling per code, through the import workbook.

A zero-width space, Cyrillic or Greek letters, a right-to-left override and the other invisible characters
make a code that reads as an existing one; each is refused with its reason. Full-width letters and digits
(``Ａ-H001``) are the same code as their ASCII form, and then the same household. The pages and the API
are driven in ``tests/web/test_lookalike_codes.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from cooperatives.codes import PATTERN, code_problem, normalize_code
from cooperatives.models import Delivery, Household, Member
from cooperatives.workbook import WorkbookError, read_workbook

#: codes that look like ``H001`` / ``A-H001`` (or one another) but are other strings
LOOKALIKES = {
    "zero-width space": "H\u200b001",
    "zero-width joiner": "H0\u200d01",
    "word joiner": "H\u2060001",
    "soft hyphen": "H\u00ad001",
    "byte-order mark": "\ufeffH001",
    "Cyrillic Н": "\u041d001",
    "Greek Η": "\u0397001",
    "Latin with Cyrillic А": "\u0410-H001",
    "Cyrillic о for 0": "H\u043e01",
    "right-to-left override": "H\u202e100",
    "left-to-right mark": "H001\u200e",
    "right-to-left isolate": "\u2067H001\u2069",
    "Arabic letter mark": "H\u061c001",
    "private use": "H001\ue000",
    "unassigned": "H001\u0378",
    "line separator": "H\u2028001",
    "ideographic space": "H\u3000001",
    "no-break space": "H\u00a0001",
    "control character": "H\x01001",
    "en dash for -": "A\u2013H001",
    "hyphen U+2010 for -": "A\u2010H001",
    "mathematical bold H": "\U0001d407001",
    "Cherokee Ꭺ": "\u13aa-H001",
    "slash": "A/H001",
    "leading dash": "-H001",
    "dot": "..",
}
REASONS = {"invisible character", "looks like another one", "a code may hold", "must begin with"}


@pytest.mark.parametrize("name", list(LOOKALIKES))
def test_each_lookalike_is_refused_with_a_reason(name):
    problem = code_problem(LOOKALIKES[name])
    assert problem is not None, name
    assert any(r in problem for r in REASONS) and problem.template and problem.code.startswith("code_")
    shown = str(problem)
    assert not any(unicodedata.category(c) in ("Cf", "Cc", "Co", "Cn", "Zl", "Zp") for c in shown), shown


@pytest.mark.parametrize("typed, code", [("Ａ-Ｈ００１", "A-H001"), ("Ａ-H001", "A-H001"), ("ｊｇｐ－ｈ００１", "jgp-h001"),
                                         ("Ｈ＿１．２", "H_1.2"), ("茶-H001", "茶-H001"), ("〇一-7", "〇一-7"),
                                         ("A-H001", "A-H001"), ("TA-COOP", "TA-COOP")])
def test_full_width_forms_are_the_ascii_code(typed, code):
    assert code_problem(typed) is None
    assert normalize_code(typed) == code and code_problem(code) is None


@given(st.text(max_size=8))
def test_the_pattern_is_the_rule_and_normalising_stays_inside_it(text):
    assert (code_problem(text) is None) == bool(re.fullmatch(PATTERN, text))
    if code_problem(text) is None:
        code = normalize_code(text)
        assert code_problem(code) is None and normalize_code(code) == code
        assert all(c.isascii() or "CJK UNIFIED" in unicodedata.name(c) or c == "〇" for c in code)


# ------------------------------------------------------------------------------------------- the workbook


def _book(tmp_path, households: list[list], deliveries: list[list]):
    """The sheets as CSV files (an .xlsx cannot even hold a control character) and as an .xlsx when it can."""
    import csv

    import openpyxl

    sheets = {"households": [["code", "head_name", "village"], *households],
              "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price"], *deliveries]}
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, rows in sheets.items():
        with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)
    paths = [folder]
    if not any("\x01" in str(cell) for rows in sheets.values() for row in rows for cell in row):
        book = openpyxl.Workbook()
        book.remove(book.active)
        for name, rows in sheets.items():
            sheet = book.create_sheet(name)
            for row in rows:
                sheet.append(row)
        book.save(tmp_path / "codes.xlsx")
        paths.append(tmp_path / "codes.xlsx")
    return paths


def test_the_workbook_refuses_every_lookalike_in_a_code_column(tmp_path):
    rows = [[code, f"户主{i}", "一村"] for i, code in enumerate(LOOKALIKES.values())]
    (folder,) = _book(tmp_path, rows, [["2025-05-01", code, "茶", 1, "kg", 1] for code in LOOKALIKES.values()])
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder)
    problems = caught.value.problems
    by_sheet = {sheet: sorted(p.row for p in problems if p.sheet == sheet and p.column in ("code", "member"))
                for sheet in ("households", "deliveries")}
    expected = list(range(2, 2 + len(LOOKALIKES)))
    # a code that is all spaces after trimming is blank, and another reason names it; every other one is here
    assert by_sheet["households"] == expected and by_sheet["deliveries"] == expected
    assert all(any(r in str(p) for r in REASONS | {"must not contain spaces"}) for p in problems
               if p.column in ("code", "member"))


def test_the_workbook_reads_full_width_codes_as_ascii(tmp_path):
    paths = _book(tmp_path, [["Ａ-Ｈ００１", "王大山", "一村"]], [["2025-05-01", "Ａ-H001", "茶", 1, "kg", 1]])
    assert len(paths) == 2
    for path in paths:
        book = read_workbook(path)
        assert [r.values["code"] for r in book.sheets["households"]] == ["A-H001"]
        assert [r.values["member"] for r in book.sheets["deliveries"]] == ["A-H001"]


def test_an_import_with_a_full_width_code_finds_the_same_household(session, cli, xlsx, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    households = session.scalar(select(func.count()).select_from(Household))
    more = {"households": [["code", "head_name", "village"], ["Ｈ００１", "甲", "一村"]],
            "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                           ["2025-06-01", "Ｈ００１", "藤茶鲜叶", "10", "kg", "6", "bank"]]}
    result = cli("import", xlsx(more), "--entity", "WX")
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Household)) == households
    delivered = session.scalars(select(Member.code).join(Delivery, Delivery.member_id == Member.id)
                                .where(Delivery.date == dt.date(2025, 6, 1))).all()
    assert delivered == ["H001"]


def test_an_import_with_a_lookalike_code_imports_nothing(session, cli, xlsx, worked_example, monkeypatch):
    monkeypatch.setenv("COOP_LANG", "en")
    assert cli("import", xlsx(worked_example())).exit_code == 0
    before = session.scalar(select(func.count()).select_from(Household))
    sheets = worked_example(code="WY", township="例乡")
    sheets["households"][1][0] = "\u041d001"          # Cyrillic Н
    sheets["members"][1][0] = "\u041d001"
    result = cli("import", xlsx(sheets))
    assert result.exit_code == 1
    assert "U+041D CYRILLIC CAPITAL LETTER EN" in result.stderr and "nothing was imported" in result.stderr
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Household)) == before
