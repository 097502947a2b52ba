"""Importing a workbook through the command line: all or nothing, every problem named, never twice."""

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from cooperatives.models import Delivery, Entity, Household, Member
from ledger.models import JournalEntry, Posting
from ledger.queries import account_balance, get_book, trial_balance

D = Decimal

GOOD = {
    "entity": [["code", "name", "kind", "township"], ["T-COOP", "测试藤茶合作社", "farmer_coop", "测试乡"]],
    "households": [["code", "head_name", "village", "id_number"],
                   ["T-H1", "王大山", "一村", "430821195001011237"], ["T-H2", "李秀英", "二村", ""]],
    "members": [["member", "member_no", "joined_on"], ["T-H1", 1, "2020-01-01"], ["T-H2", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-05", "T-H1", "1000.00"], ["2025-01-05", "T-H2", "500"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid", "paid_by"],
                   ["2025-05-01", "T-H1", "藤茶鲜叶", "100", "jin", "5.6", "no", ""],
                   ["2025-05-01", "T-H2", "藤茶鲜叶", "50.5", "jin", "4.2", "yes", "bank"],
                   ["2025-05-02", "T-H1", "藤茶鲜叶", "10", "kg", "11.2", "no", ""]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-06-01", "湘西茶业", "干茶", "3000.00"]],
    "land": [["member", "contract_no", "area_mu", "base_rent_per_mu", "start_on", "end_on"],
             ["T-H1", "TD-1", "2.5", "600", "2025-07-01", ""]],
}


def write_xlsx(path, sheets):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return str(path)


def counts(session):
    return (session.scalar(select(func.count(JournalEntry.id))), session.scalar(select(func.count(Household.id))),
            session.scalar(select(func.count(Entity.id))), session.scalar(select(func.count(Delivery.id))))


def test_good_workbook_imports_and_balances(session, cli, tmp_path):
    result = cli("import", write_xlsx(tmp_path / "good.xlsx", GOOD))
    assert result.exit_code == 0, result.output
    book = get_book(session, "T-COOP")
    # 100 jin × 5.6 + 50.5 jin × 4.2 + 10 kg × 11.2 = 560 + 212.10 + 112 = 884.10 of member trade
    assert session.scalar(select(func.sum(Delivery.amount))) is not None
    assert account_balance(session, book, "521") == D("884.10") + D("756.16")   # + half a year's land rent
    # land rent 2.5 亩 × 600 × 184/365 days = 756.16
    assert account_balance(session, book, "114", party="T-H1") == -(D("560.00") + D("112.00") + D("756.16"))
    assert account_balance(session, book, "114", party="T-H2") == 0     # paid on delivery
    assert sum(r.closing for r in trial_balance(session, book)) == 0
    assert cli("verify", "--entity", "T-COOP").exit_code == 0
    # member ID numbers are stored encrypted, never in clear
    hh = session.scalar(select(Household).where(Household.code == "T-H1"))
    assert b"430821195001011237" not in (hh.id_number_enc or b"") and hh.id_number_masked == "4308**********1237"


def test_reimporting_the_same_workbook_is_refused(session, cli, tmp_path):
    path = write_xlsx(tmp_path / "good.xlsx", GOOD)
    assert cli("import", path).exit_code == 0
    before = counts(session)
    again = cli("import", path)
    assert again.exit_code == 1
    assert "already imported" in again.stderr
    assert counts(session) == before


def test_same_content_as_csv_folder_is_recognised_as_the_same_workbook(session, cli, tmp_path):
    assert cli("import", write_xlsx(tmp_path / "good.xlsx", GOOD)).exit_code == 0
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, rows in GOOD.items():
        (folder / f"{name}.csv").write_text("\n".join(",".join(str(c) for c in row) for row in rows), encoding="utf-8")
    assert cli("import", str(folder)).exit_code == 1


def test_dry_run_writes_nothing(session, cli, tmp_path):
    before = counts(session)
    result = cli("import", write_xlsx(tmp_path / "good.xlsx", GOOD), "--dry-run")
    assert result.exit_code == 0 and "would import" in result.output
    assert counts(session) == before


def test_bad_workbook_reports_every_problem_and_imports_nothing(session, cli, tmp_path):
    bad = {k: [list(r) for r in v] for k, v in GOOD.items()}
    bad["deliveries"][1][3] = "-100"            # negative quantity          -> deliveries:2:quantity
    bad["deliveries"][2][1] = "T-H9"            # unknown member             -> deliveries:3:member
    bad["deliveries"][3][0] = "2025-02-30"      # impossible date            -> deliveries:4:date
    bad["capital"][2][2] = "500.123"            # three decimals             -> capital:3:amount
    bad["sales"] = [["date", "product", "amount"], ["2025-06-01", "干茶", "3000.00"]]   # no buyer column
    before = counts(session)
    result = cli("import", write_xlsx(tmp_path / "bad.xlsx", bad))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for expected in (
        "deliveries:2:quantity: must be positive",
        "deliveries:3:member: T-H9 is not a member of T-COOP.",
        "deliveries:4:date: not a date (expected YYYY-MM-DD): '2025-02-30'",
        "capital:3:amount: more than two decimal places: '500.123'",
        "sales:1:buyer: missing required column",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    assert "nothing was imported" in result.stderr
    assert "Traceback" not in result.output
    assert counts(session) == before


@pytest.mark.parametrize("path", ["/nonexistent/file.xlsx", __file__])
def test_not_a_workbook_is_a_clear_error(cli, path):
    result = cli("import", path)
    assert result.exit_code == 1 and "not a workbook" in result.stderr


def test_records_in_a_closed_year_are_refused(session, cli, tmp_path):
    from ledger.operations import close_period

    assert cli("import", write_xlsx(tmp_path / "good.xlsx", GOOD)).exit_code == 0
    close_period(session, get_book(session, "T-COOP"), 2025)
    late = {"deliveries": [["date", "member", "product", "quantity", "unit", "unit_price"],
                           ["2025-12-30", "T-H1", "藤茶鲜叶", "1", "kg", "1"]]}
    result = cli("import", write_xlsx(tmp_path / "late.xlsx", late), "--entity", "T-COOP")
    assert result.exit_code == 1 and "deliveries:2:date: 2025 is closed" in result.stderr
    early = {"deliveries": [["date", "member", "product", "quantity", "unit", "unit_price"],
                            ["2024-12-30", "T-H1", "藤茶鲜叶", "1", "kg", "1"]]}    # the books start in 2025
    result = cli("import", write_xlsx(tmp_path / "early.xlsx", early), "--entity", "T-COOP")
    assert result.exit_code == 1 and "deliveries:2:date: 2024-12-30 is before the books of T-COOP start" in result.stderr


def test_import_posts_one_summary_voucher_per_kind_and_day(session, cli, tmp_path):
    assert cli("import", write_xlsx(tmp_path / "good.xlsx", GOOD)).exit_code == 0
    book = get_book(session, "T-COOP")
    sources = session.scalars(select(JournalEntry.source).where(JournalEntry.book_id == book.id)).all()
    delivery_vouchers = [s for s in sources if ":deliveries:" in s]
    assert len(delivery_vouchers) == 2                      # 2025-05-01 and 2025-05-02
    rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert rows[0].entry_id == rows[1].entry_id != rows[2].entry_id
    # Dr 521 772.10 / Cr 114 T-H1 560.00 (unpaid) / Cr 101 212.10 (T-H2 paid in cash: nets off 114)
    legs = session.execute(select(Posting.amount).where(Posting.entry_id == rows[0].entry_id)
                           .order_by(Posting.amount)).scalars().all()
    assert legs == [D("-560.00"), D("-212.10"), D("772.10")]
    assert session.scalar(select(func.count(Member.id))) == 2
    assert dt.date(2025, 5, 1) == rows[0].date


def test_records_are_stored_in_date_order_file_order_within_a_day(session, cli, tmp_path, monkeypatch):
    """The bulk path inserts each sheet's records sorted by date (stable), in chunks; every record keeps its
    day's voucher whichever chunk it lands in."""
    import cooperatives.importer as importer

    monkeypatch.setattr(importer, "CHUNK", 2)          # 5 deliveries in 3 chunks
    sheets = dict(GOOD, deliveries=[
        ["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
        ["2025-05-03", "T-H1", "藤茶鲜叶", "3", "kg", "10", "no"],
        ["2025-05-01", "T-H2", "藤茶鲜叶", "1", "kg", "10", "no"],
        ["2025-05-03", "T-H2", "藤茶鲜叶", "4", "kg", "10", "yes"],
        ["2025-05-02", "T-H1", "藤茶鲜叶", "2", "kg", "10", "no"],
        ["2025-05-01", "T-H1", "藤茶鲜叶", "5", "kg", "10", "yes"]],
        transfers=[["date", "from", "to", "amount"], ["2025-05-01", "bank", "cash", "100"]])     # 提现 to pay in cash
    assert cli("import", write_xlsx(tmp_path / "shuffled.xlsx", sheets)).exit_code == 0
    rows = session.execute(select(Delivery.date, Delivery.quantity, JournalEntry.date)
                           .join(JournalEntry, JournalEntry.id == Delivery.entry_id).order_by(Delivery.id)).all()
    assert [(r[0].day, r[1]) for r in rows] == [(1, D("1.000")), (1, D("5.000")), (2, D("2.000")), (3, D("3.000")),
                                                (3, D("4.000"))]
    assert all(delivered == voucher for delivered, _, voucher in rows)
    book = get_book(session, "T-COOP")
    assert account_balance(session, book, "114", party="T-H1") == -(D("30.00") + D("20.00") + D("756.16"))
    assert account_balance(session, book, "114", party="T-H2") == D("-10.00")
    assert cli("verify", "--entity", "T-COOP").exit_code == 0


def test_keyed_in_finds_keys_past_any_chunk_size(session):
    """``ledger.db.keyed_in`` (one = ANY(array) on PostgreSQL, IN lists of 500 on SQLite) finds every key of a
    long list and nothing else."""
    from ledger.db import keyed_in
    from ledger.models import Party
    from ledger.operations import create_book, ensure_parties

    book = create_book(session, code="KEYED", name="键查找", chart="fpc2021")
    ids = ensure_parties(session, book, {f"P{n:04d}": f"户{n}" for n in range(1203)})
    asked = [f"P{n:04d}" for n in range(1203)] + ["NOPE", "P9999"]
    found = keyed_in(session, Party.code, Party.id, asked, Party.book_id == book.id)
    assert found == ids and len(found) == 1203
    assert keyed_in(session, Party.code, Party.id, [], Party.book_id == book.id) == {}
