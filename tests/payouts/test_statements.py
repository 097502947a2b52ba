"""Statements read back from real PDFs (pdftotext, pdffonts): names, figures, capital numerals,
verification codes; the notice list leaks no ID or phone number; re-rendering is stable."""

import json
import logging
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from sqlalchemy import select

from cooperatives import privacy
from cooperatives.models import Household
from ledger.numerals import capital_numerals
from payouts.models import PayoutRun, PolicyVersion, StatementSnapshot
from payouts.statements.render import RefusedFetch, html_to_pdf, render_statement_html

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")

POLICY = '[[pools]]\nname = "patronage"\npct = "70"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "30"\nbasis = "capital"\nreserve_pct = "10"\n'
WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["ST", "结算单测试合作社", "farmer_coop", "测试乡"]],
    "households": [["code", "head_name", "village", "phone", "id_number"],
                   ["S1", "王大山", "一村", "13912345678", "430821195001011237"],
                   ["S2", "李秀英", "一村", "13887654321", "430821196202024565"],
                   ["S3", "张建国", "二村", "", ""]],
    "members": [["member", "member_no", "joined_on"], ["S1", 1, "2020-01-01"], ["S2", 2, "2020-01-01"],
                ["S3", 3, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-01", "S1", "5000"], ["2025-01-01", "S2", "3000"],
                ["2025-01-01", "S3", "2000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-05-01", "S1", "藤茶鲜叶", "1200", "jin", "5.6", "bank"], ["2025-05-01", "S2", "藤茶鲜叶", "800", "jin", "5.6", "bank"],
                   ["2025-05-02", "S3", "藤茶鲜叶", "300", "kg", "11", "bank"]],
    "inputs": [["date", "member", "item", "amount"], ["2025-03-01", "S1", "有机肥", "800"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "50000"]],
}


def text_of(pdf: bytes, tmp_path, name="x.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def posted(session, cli, xlsx, policy_file):
    assert cli("import", xlsx(WORKBOOK)).exit_code == 0
    run = json.loads(cli("distribute", "--entity", "ST", "--year", "2025", "--policy", policy_file(POLICY),
                         "--json").stdout)
    assert cli("run", "approve", str(run["run"]), "--meeting-date", "2026-03-01", "--attended", "3",
               "--votes-for", "3").exit_code == 0
    assert cli("run", "post", str(run["run"])).exit_code == 0
    return run


def test_every_statement_pdf_names_the_household_and_its_net_in_figures_and_words(posted, cli, tmp_path, session):
    out = tmp_path / "out"
    result = cli("statements", "--run", str(posted["run"]), "--out", str(out), "--workers", "1")
    assert result.exit_code == 0, result.output
    snapshots = session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == posted["run"])).all()
    assert len(snapshots) == 3
    for snap in snapshots:
        data = snap.content
        pdf = (out / f"{data['member']['member_no']:05d}-{data['member']['code']}.pdf")
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        net = Decimal(data["net"])
        assert data["member"]["name"] in text
        assert f"{net:,.2f}" in text
        assert capital_numerals(net) in text.replace("\n", "")
        assert snap.code in text
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "WenQuanYi-Micro-Hei" in fonts and " yes yes yes " in fonts   # the CJK font, embedded and subset
    pages = subprocess.run(["pdfinfo", str(out / "00001-S1.pdf")], capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", pages, re.M)              # one page with the production font


def test_deductions_are_itemised_payable_minus_deductions_is_net(posted, session):
    s1 = next(m for m in posted["members"] if m["member"] == "S1")
    assert s1["deductions"] == "800.00"
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "S1"))
    data = snap.content
    assert data["deductions"] == [{"what": "inputs", "amount": "800.00"}]
    assert Decimal(data["total"]) - Decimal(data["deductions_total"]) == Decimal(data["net"])


def test_notice_list_masks_names_and_shows_no_id_or_phone(posted, cli, tmp_path, session):
    out = tmp_path / "out"
    assert cli("statements", "--run", str(posted["run"]), "--out", str(out), "--workers", "1").exit_code == 0
    notice = subprocess.run(["pdftotext", str(out / "notice-ST-2025.pdf"), "-"], capture_output=True, text=True).stdout
    assert "王*山" in notice and "王大山" not in notice
    for hh in session.scalars(select(Household).where(Household.code.in_(["S1", "S2", "S3"]))):
        for secret in (privacy.decrypt(hh.id_number_enc), hh.phone):
            if secret:
                assert secret not in notice and secret[-8:] not in notice
    run = session.get(PayoutRun, posted["run"])
    assert run.notice_code in notice


def test_rerendering_after_household_and_policy_edits_gives_the_same_text(posted, session, tmp_path):
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "S2"))
    url = f"http://127.0.0.1:5000/verify/{snap.code}"
    before = text_of(html_to_pdf(render_statement_html(snap.content, verify_url=url)), tmp_path, "a.pdf")
    hh = session.scalar(select(Household).where(Household.code == "S2"))
    hh.head_name = "李改名"
    session.add(PolicyVersion(entity_id=session.get(PayoutRun, posted["run"]).entity_id, version=99,
                              body='{"pools": []}'))
    session.flush()
    again = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "S2"))
    after = text_of(html_to_pdf(render_statement_html(again.content, verify_url=url)), tmp_path, "b.pdf")
    assert after == before and "李秀英" in after and "李改名" not in after


def test_statements_fetch_nothing_outside_the_static_folder(posted, session, caplog):
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "S1"))
    html = render_statement_html(snap.content, verify_url="http://x/verify/C")
    hostile = html.replace("</body>", '<img src="http://169.254.169.254/latest/meta-data/">'
                                      '<img src="file:///etc/passwd"><link rel="stylesheet" href="/etc/hosts">'
                                      '<style>@import url("http://example.com/x.css");</style></body>')
    import urllib.request

    opened = []
    original = urllib.request.OpenerDirector.open

    def spy(self, request, *args, **kwargs):
        opened.append(request.full_url if hasattr(request, "full_url") else request)
        return original(self, request, *args, **kwargs)

    urllib.request.OpenerDirector.open = spy
    try:
        with caplog.at_level(logging.WARNING, logger="weasyprint"):
            pdf = html_to_pdf(hostile)
    finally:
        urllib.request.OpenerDirector.open = original
    assert pdf.startswith(b"%PDF")
    # only the embedded QR code (a data: URI) was opened: no network, no file outside the static folder
    assert opened and all(url.startswith("data:") for url in opened), opened
    assert "RefusedFetch" in caplog.text or "outside the app's static folder" in caplog.text
    assert RefusedFetch.__name__


def test_fonts_are_subset_by_harfbuzz_not_the_slow_fallback(posted, session, caplog):
    """Without Debian's libharfbuzz-subset0 WeasyPrint falls back to fontTools, 40x slower (pitfalls §1)."""
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "S3"))
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        html_to_pdf(render_statement_html(snap.content, verify_url="http://x/verify/C"))
    assert "fontTools instead of HarfBuzz" not in caplog.text
    assert "Unable to subset" not in caplog.text
