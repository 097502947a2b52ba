"""Issue 7: a one-page household statement PDF under 150 KB, its CJK font embedded as a subset, without
losing the Chinese: read back with pdffonts, pdfinfo and pdftotext from the PDFs `coopledger statements`
writes. The size comes from the font (statement.css): one TrueType face, WenQuanYi Micro Hei; Noto Sans
CJK's CFF subsets cost ~130 KB per face, so any character or bold run falling back to it breaks the budget."""

import json
import logging
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from samples import POLICY_70_30, worked_example_workbook
from sqlalchemy import select

from ledger.numerals import capital_numerals
from payouts.models import StatementSnapshot
from payouts.statements.render import html_to_pdf, render_statement_html

pytestmark = pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils is not installed")

BUDGET = 150_000                     # bytes (issue 7)
NAMES = {"H001": "覃秀英", "H002": "黄德贵", "H003": "罗建华"}
# every character capital numerals use (reference/domain.md §6.1), in two amounts: with 角分, and 整
ALL_NUMERALS = "零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整"
AMOUNTS = (Decimal("1203456789.56"), Decimal("80000.00"))


def run_tool(*args) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def faces(path) -> list[dict]:
    """pdffonts' rows as {name, emb, sub} (the name without its subset tag)."""
    rows = []
    for line in run_tool("pdffonts", str(path)).splitlines()[2:]:
        cols = line.split()
        rows.append({"name": cols[0].split("+")[-1], "emb": cols[-5], "sub": cols[-4]})
    return rows


def assert_one_subset_face(path):
    rows = faces(path)
    names = {r["name"] for r in rows}
    assert all(r["emb"] == "yes" and r["sub"] == "yes" for r in rows), rows
    assert "WenQuanYi-Micro-Hei" in names, f"{names}: install fonts-wqy-microhei (scripts/system-deps.sh)"
    # no fallback to Noto (a character WenQuanYi lacks) and no second copy of the face for bold text
    assert names <= {"WenQuanYi-Micro-Hei", "DejaVu-Sans-Mono"}, names


@pytest.fixture
def posted(session, cli, xlsx, policy_file):
    """The worked example (reference/domain.md §1.3) with real names and an input on credit, posted."""
    book = worked_example_workbook(code="SZ")
    book["households"] = [book["households"][0]] + [[code, NAMES[code], "茶园村"] for code, *_ in book["households"][1:]]
    book["inputs"] = [["date", "member", "item", "amount"], ["2025-03-01", "H002", "有机肥", "860"]]
    assert cli("import", xlsx(book)).exit_code == 0
    run = json.loads(cli("distribute", "--entity", "SZ", "--year", "2025", "--policy", policy_file(POLICY_70_30),
                         "--json").stdout)["run"]
    assert cli("run", "approve", str(run), "--meeting-date", "2026-03-01", "--attended", "3",
               "--votes-for", "3").exit_code == 0
    assert cli("run", "post", str(run)).exit_code == 0
    return run


def test_each_statement_is_one_page_under_150_kb_with_one_subset_face_and_reads_back(posted, cli, session, tmp_path):
    out = tmp_path / "out"
    assert cli("statements", "--run", str(posted), "--out", str(out), "--workers", "1").exit_code == 0
    snaps = session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == posted)).all()
    assert len(snaps) == 3
    for snap in snaps:
        data = snap.content
        pdf = out / f"{data['member']['member_no']:05d}-{data['member']['code']}.pdf"
        assert pdf.stat().st_size < BUDGET, (pdf.name, pdf.stat().st_size)
        assert re.search(r"^Pages:\s+1$", run_tool("pdfinfo", str(pdf)), re.M), pdf.name
        assert_one_subset_face(pdf)
        text = run_tool("pdftotext", str(pdf), "-")
        net = Decimal(data["net"])
        assert NAMES[data["member"]["code"]] in text
        assert f"{net:,.2f}" in text and capital_numerals(net) in text.replace("\n", "")
    # the public notice list: same face, names masked
    notice = out / "notice-SZ-2025.pdf"
    assert_one_subset_face(notice)
    assert "覃*英" in run_tool("pdftotext", str(notice), "-")


def test_every_capital_numeral_comes_from_the_embedded_face_with_no_missing_glyph(posted, session, tmp_path, caplog):
    words = [capital_numerals(amount) for amount in AMOUNTS]
    assert set(ALL_NUMERALS) <= set("".join(words))              # the two amounts do use every numeral
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "H003"))
    for amount, in_words in zip(AMOUNTS, words, strict=True):
        data = {**snap.content, "net": f"{amount:.2f}", "net_words": in_words}
        with caplog.at_level(logging.WARNING, logger="weasyprint"):
            pdf = html_to_pdf(render_statement_html(data, verify_url=f"http://x/verify/{snap.code}"))
        path = tmp_path / f"{amount}.pdf"
        path.write_bytes(pdf)
        assert len(pdf) < BUDGET
        assert_one_subset_face(path)
        assert in_words in run_tool("pdftotext", str(path), "-").replace("\n", "")
    assert ".notdef" not in caplog.text                          # WeasyPrint's word for an empty box
