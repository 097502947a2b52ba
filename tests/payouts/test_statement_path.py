"""The statement explains the whole way from the year's surplus to the household's amount (issue 16): surplus →
reserve (with its rate) → distributable surplus → each pool (its rate and amount) → the household's basis, its
share of the pool (to as many decimals as reproduce the fen, or the exact product when the pool's split to the fen
moved one) and its amount. Every figure is the run's own (``PayoutRun.result``), pools are named in words (never
``patronage``/``residual``/``shares``), produce is shown in the unit it was traded in (斤 stays 斤), the 2020
reform's shares are named as such, and no internal reference such as ``(run:2)`` reaches the villager.

Checked on the demo world: its farmer cooperatives, the cluster project, nine village collectives and the
land-share cooperative."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from payouts.models import PayoutRun, StatementSnapshot
from payouts.statements.context import share_of
from payouts.statements.render import html_to_pdf, render_statement_body, render_statement_html

D = Decimal
FEN = D("0.01")


def number(text: str) -> Decimal:
    return D(text.replace(",", "").strip())


@pytest.fixture
def statements(demo_world):
    """Every statement of the demo's runs, by entity code: [(snapshot data, run result)]."""
    out = defaultdict(list)
    for snap in demo_world.scalars(select(StatementSnapshot).order_by(StatementSnapshot.id)):
        out[snap.run.entity.code].append((snap.content, snap.run.result))
    return out


def body(data: dict, locale: str = "en") -> str:
    return html.unescape(render_statement_body(data, locale=locale, verify_url="https://x.test/verify/" + data["code"]))


def test_the_demo_statements_explain_the_way_from_the_surplus_to_the_amount(statements, demo_world, tmp_path):
    """One demo world (loading it is the slow part), three checks."""
    pools_add_up(statements, demo_world)
    shares_reproduce_the_amounts(statements)
    units_share_kinds_references_and_one_page(statements, tmp_path)


def pools_add_up(statements, demo_world):
    """The pools come from the run and add up to the distributable surplus."""
    assert {"JGP-TEA", "TL-GRAPE", "TL-V01", "WX-LAND"} <= set(statements)
    for entity, items in statements.items():
        data, result = items[0]
        path = data["path"]
        assert [(p["name"], p["amount"]) for p in path["pools"]] == [(p["name"], p["amount"]) for p in result["pools"]]
        assert path["distributable"] == result["distributable"] == data["distributable"]
        drawn = sum((D(r["amount"]) for r in path["reserves"]), D(0))
        assert drawn == sum((D(r["amount"]) for r in result["reserves"]), D(0)), entity
        assert D(path["surplus"]) - D(path["prior_loss"]) - drawn + D(path["brought_forward"]) \
            == D(path["distributable"]), entity
        page = body(data)
        table = page.split('id="path"')[1].split("</table>")[0]
        pools = re.findall(r'<tr class="pool"><td>(.*?)</td><td class="num">([\d,.]+)</td>', table)
        assert len(pools) == len(result["pools"]) + len(result["preferred"]), entity
        assert sum((number(amount) for _name, amount in pools), D(0)) == number(
            re.search(r'id="distributable">([\d,.]+)<', page).group(1)) == D(result["distributable"]), entity
        for name, _amount in pools:                     # named in words, with the pool's rate
            assert not re.match(r"[a-z_]+\b", name) and re.search(r"\(\d+(\.\d+)? %\)", name), (entity, name)
        reserve = re.findall(r'<tr class="reserve"><td>− (.*?)</td><td class="num">([\d,.]+)</td>', table)
        assert [number(a) for _n, a in reserve] == [D(r["amount"]) for r in result["reserves"]
                                                    if D(r["amount"])], entity
        assert all(re.search(r"\(\d+(\.\d+)? %\)$", n) for n, _a in reserve), (entity, reserve)
        # the posted run's rates, as its policy snapshot has them, whatever the entity's policy says now
        run = demo_world.get(PayoutRun, data["run"])
        policy = {p["name"]: p["pct"] for p in run.input["policy"]["pools"]}
        assert {p["name"]: p["pct"] for p in data["path"]["pools"]} == policy, entity
    # the tea cooperative: 10 % reserve, then 60 % by member trade and 40 % by capital
    data, _result = statements["JGP-TEA"][0]
    page = body(data)
    table = page.split('id="path"')[1].split("</table>")[0]
    assert "Reserve fund (10 %)" in table
    assert "Return by member trade (60 %)" in table and "Distribution by capital (40 %)" in table
    assert "patronage" not in page and "residual" not in page


def shares_reproduce_the_amounts(statements):
    """Each household's share of each pool reproduces its amount to the fen."""
    lines = 0
    for entity, items in statements.items():
        for i, (data, _result) in enumerate(items):
            page = body(data) if i < 5 else None         # every statement's figures; the first few as printed
            for line in data["lines"]:
                lines += 1
                pool, basis, total, amount = (D(line[k]) for k in ("pool_amount", "basis", "basis_total", "amount"))
                share = line["share"]
                assert share == share_of(basis, total, pool, amount)
                exact = D(share["exact"])
                assert abs(exact - pool * basis / total) < D("0.0001") and abs(exact - amount) < FEN, (entity, line)
                reproduced = (pool * D(share["pct"]) / 100).quantize(FEN, rounding=ROUND_HALF_UP) == amount
                assert reproduced or share["rounded"], (entity, line)
                if not share["rounded"]:
                    assert reproduced
                if page is None:
                    continue
                assert f"= {share['pct']} %" in page                  # the share as shown
                if share["rounded"]:
                    assert f"= {exact.normalize():,f}; " in page, (entity, line)
                else:
                    assert f"× {share['pct']} % = {amount:,.2f} yuan" in page, (entity, line)
            assert sum((D(ln["amount"]) for ln in data["lines"]), D(0)) \
                + sum((D(p["amount"]) for p in data["preferred"]), D(0)) == D(data["total"])
    assert lines > 100


def units_share_kinds_references_and_one_page(statements, tmp_path):
    """Produce in the unit it was traded in; shares by how they came; no "(run:N)"; one printed page."""
    data, _result = statements["JGP-TEA"][0]
    produce = data["contributed"]["produce"]
    assert produce and {p["unit"] for p in produce} == {"jin"}     # the demo's fresh leaf is weighed in 斤
    zh = body(data, "zh_Hans_CN")
    for p in produce:
        assert f"{number(p['quantity']):,} 斤" in zh and "公斤" not in zh.split("<h2>")[1]
    # village shares from the 2020 reform are named as such, and the project's run is named without "(run:N)"
    data, _result = statements["TL-V01"][0]
    kinds = data["contributed"]["share_kinds"]
    assert [k["kind"] for k in kinds] == ["reform"] and kinds[0]["shares"] == data["contributed"]["shares"]
    page = body(data)
    row = re.search(r'<tr class="shares"><td>(.*?)</td>', page).group(1)
    assert "2020" in row and "Capital" not in page
    assert any(s["from"] != "own" for s in data["sources"])            # traced to the cluster project's run …
    for items in statements.values():
        for data, _result in items[:3]:
            assert "(run:" not in body(data)                             # … named without its internal reference
    if shutil.which("pdfinfo") is None:
        return

    def rows(data):                  # the longest demo statement still prints on one A4 page
        c = data["contributed"]
        return (len(c["produce"]) + len(c["land"]) + len(c["capital"]) + len(data["lines"]) * 3
                + len(data["deductions"]) + len(data["path"]["reserves"]) + len(data["path"]["pools"]))

    data = max((d for items in statements.values() for d, _r in items), key=rows)
    pdf = tmp_path / "longest.pdf"
    pdf.write_bytes(html_to_pdf(render_statement_html(data, locale="zh_Hans_CN", verify_url="https://x.test/v")))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info

