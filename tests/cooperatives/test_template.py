"""The import template (导入模板): every sheet the importer reads, Chinese headers it accepts, validations for lists and
dates, a notes sheet, and example rows that import as they are."""

import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import Delivery, Entity, Household, Member
from cooperatives.operations import create_entity
from cooperatives.template import EntityFacts, build_template, header, sheet_title
from cooperatives.workbook import NOTES_SHEET, SHEETS, WorkbookError, read_workbook, sheet_kind

TODAY = dt.date(2026, 7, 6)


def _load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _save(tmp_path, data: bytes, name: str = "template.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_every_sheet_with_chinese_headers_the_importer_reads():
    book = _load(build_template(today=TODAY))
    assert book.sheetnames[0] == NOTES_SHEET
    assert {sheet_kind(title) for title in book.sheetnames[1:]} == set(SHEETS)
    for title in book.sheetnames[1:]:
        spec = SHEETS[sheet_kind(title)]
        assert not title.isascii()
        headers = [cell.value for cell in book[title][1]]
        assert headers == [header(spec.name, c) for c in spec.columns]
        for column, text in zip(spec.columns, headers, strict=True):
            assert not text.isascii(), (title, text)
            assert spec.column_for(text) == column.name, (title, text)      # read back as the same column


def test_validations_for_lists_and_dates_and_text_formats():
    book = _load(build_template(today=TODAY))
    sheet = book[sheet_title(SHEETS["deliveries"])]
    rules = {str(rule.sqref).split(":")[0][:-1]: rule for rule in sheet.data_validations.dataValidation}
    letters = {c.name: openpyxl.utils.get_column_letter(i) for i, c in enumerate(SHEETS["deliveries"].columns, 1)}
    assert rules[letters["date"]].type == "date"
    assert rules[letters["unit"]].type == "list" and rules[letters["unit"]].formula1 == '"公斤,斤"'
    assert rules[letters["paid"]].formula1 == '"是,否"'
    assert rules[letters["paid_by"]].formula1 == '"现金,银行,移动支付"'
    entity = book[sheet_title(SHEETS["entity"])]
    kinds = [r for r in entity.data_validations.dataValidation if r.type == "list"]
    assert '"农民专业合作社,土地股份合作社,村集体经济组织,联合体项目"' in [r.formula1 for r in kinds]
    households = book[sheet_title(SHEETS["households"])]
    assert households["A2"].number_format == "@"          # 户号 kept as text (leading zeros)
    assert sheet["A2"].number_format == "yyyy-mm-dd" and sheet["A2"].is_date


def test_notes_sheet_lists_every_column_with_its_key_and_whether_required():
    book = _load(build_template(today=TODAY))
    notes = list(book[NOTES_SHEET].iter_rows(values_only=True))
    at = notes.index(next(r for r in notes if r[0] == "Sheet"))
    listed = {(r[1], r[2], r[3]) for r in notes[at + 1:]}
    for name, spec in SHEETS.items():
        for column in spec.columns:
            assert (header(name, column), column.name, "yes" if column.required else "no") in listed


def test_the_template_as_downloaded_imports_its_examples(session, tmp_path):
    path = _save(tmp_path, build_template(today=TODAY))
    wb = read_workbook(path)                                   # every example cell is valid, the notes are skipped
    assert {kind for kind, rows in wb.sheets.items() if rows} == set(SHEETS) - {"shares"}          # (the share register: collectives only)
    result = import_path(session, path, actor=CONSOLE)
    entity = session.scalar(select(Entity).where(Entity.code == "EX-COOP"))
    assert result.entity_code == "EX-COOP" and entity.kind == "farmer_coop"
    assert session.scalar(select(func.count(Delivery.id)).where(Delivery.entity_id == entity.id)) == 1
    assert session.scalar(select(Household.head_name).where(Household.code == "EX-H001")) == "张示例"


@pytest.mark.parametrize("kind", ["farmer_coop", "collective"])
def test_an_entitys_template_imports_into_that_entity(session, tmp_path, kind):
    entity = create_entity(session, code="TPL-1", name="模板测试", kind=kind, township="模板乡",
                           books_start=dt.date(2026, 1, 1), actor=CONSOLE)
    facts = EntityFacts(entity.code, entity.name, entity.kind, "模板乡", None, None, entity.books_start,
                        has_entries=False, next_member_no=7)
    path = _save(tmp_path, build_template(entity=facts, today=TODAY))
    wb = read_workbook(path)
    assert bool(wb.sheets["shares"]) == (kind == "collective")
    checked = import_path(session, path, entity_code="TPL-1", actor=CONSOLE, dry_run=True)    # every row is valid
    assert checked.dry_run and checked.counts["members"] == 1
    with pytest.raises(WorkbookError) as refused:                  # but the examples never go into real books
        import_path(session, path, entity_code="TPL-1", actor=CONSOLE)
    assert {p.code for p in refused.value.problems} == {"example_row"}
    assert session.scalar(select(Member).where(Member.entity_id == entity.id)) is None
