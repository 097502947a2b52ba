"""记账凭证 printed (issue 15 §4): one A4 page per voucher, read back with pdftotext — 记字号, date, 摘要, 科目 with
its 明细科目, 借方/贷方, 合计 in figures and in capital numerals, 附件, the signature boxes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ledger.books import vouchers
from ledger.queries import get_book

A, B = "TA-COOP", "TB-COOP"

PDFTOTEXT, PDFINFO = shutil.which("pdftotext"), shutil.which("pdfinfo")
pytestmark = pytest.mark.skipif(PDFTOTEXT is None or PDFINFO is None, reason="poppler-utils is not installed")


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "v.pdf"
    path.write_bytes(pdf)
    return subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "p.pdf"
    path.write_bytes(pdf)
    info = subprocess.run([PDFINFO, str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_a_voucher_prints_on_one_page_with_its_lines_totals_and_signatures(client, world, login, session, tmp_path):
    first = vouchers(session, get_book(session, A), 2025, 1, 1)[0]
    login(client, "acc_a")
    response = client.get(f"/e/{A}/reports/vouchers.pdf?voucher=2025-0001")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _text(response.data, tmp_path)
    assert _pages(response.data, tmp_path) == 1
    for expected in ("记账凭证", "记字第 1 号", first["date"], "摘要", "借方金额", "贷方金额", "合计", first["words"],
                     "会计主管", "记账", "审核", "出纳", "制单", first["lines"][0]["name"]):
        assert expected in text, expected
    assert f"{first['total']:,.2f}" in text and first["words"].startswith("人民币")


def test_a_range_prints_one_page_per_voucher_and_nothing_outside_scope(client, world, login, session, tmp_path):
    count = len(vouchers(session, get_book(session, A), 2025, 1, 3))
    login(client, "acc_a")
    response = client.get(f"/e/{A}/reports/vouchers.pdf?year=2025&from=1&to=3")
    assert response.status_code == 200 and _pages(response.data, tmp_path) == count >= 2
    for path in (f"/e/{A}/reports/vouchers.pdf?voucher=2025-9999", f"/e/{A}/reports/vouchers.pdf?voucher=x-1",
                 f"/e/{A}/reports/vouchers.pdf?voucher=2025-²", f"/e/{A}/reports/vouchers.pdf?voucher=２０２５-1",
                 f"/e/{B}/reports/vouchers.pdf?voucher=2025-0001"):
        assert client.get(path).status_code == 404, path
