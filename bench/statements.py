"""Benchmark: statements rendered per second, 1 and 2 workers, beside a bare WeasyPrint loop.

    .venv/bin/python bench/statements.py [--households 1000]

The statements are realistic snapshots (a vine-tea household: produce, labour, land, capital,
two distribution lines with their formulas, a deduction, capital numerals, QR code). *bare* renders
the very same HTML (produced once, beforehand) with ``weasyprint.HTML(string=…).write_pdf()`` in a
loop in one warm process, writing nothing: the floor. *coopledger* runs ``render_locally`` — the
job the CLI and the Celery workers run: Jinja, QR code, WeasyPrint, file written atomically — with
1 and 2 worker processes. Rates exclude nothing: pool start-up and font loading are inside.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.numerals import capital_numerals  # noqa: E402
from payouts.runs.explain import explain_line  # noqa: E402
from payouts.statements.batch import render_locally  # noqa: E402
from payouts.statements.render import html_to_pdf, render_statement_html  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐向覃田彭"


def snapshots(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        trade = Decimal(rng.randint(2000, 30000))
        capital = Decimal(rng.choice([1000, 2000, 3000, 5000]))
        lines = [{"pool": "patronage", "basis_kind": "transactions", "measure": "amount", "money_basis": True,
                  "basis": f"{trade:.2f}", "basis_total": "947395.40", "pool_amount": "218348.78",
                  "amount": f"{trade * Decimal('0.2304'):.2f}"},
                 {"pool": "residual", "basis_kind": "capital", "measure": "amount", "money_basis": True,
                  "basis": f"{capital:.2f}", "basis_total": "414434.96", "pool_amount": "145565.86",
                  "amount": f"{capital * Decimal('0.3512'):.2f}"}]
        for ln in lines:
            ln["formula_zh"], ln["formula_en"] = explain_line(ln), explain_line(ln, locale="en")
        total = sum(Decimal(ln["amount"]) for ln in lines)
        deduction = Decimal(rng.choice([0, 0, 300, 800]))
        net = total - deduction
        out.append({
            "code": f"B{i:03d}A-{rng.randint(1000, 9999)}-XYZQ", "run": 1, "run_digest": "0" * 64, "year": 2025,
            "issued": "2026-03-20", "distributable": "363914.64",
            "entity": {"code": "JGP-TEA", "name": "金果坪藤茶种植专业合作社", "kind": "farmer_coop",
                       "township": "金果坪乡", "village": "茶园村"},
            "policy_pools": [], "member": {"code": f"JGP-H{i:04d}", "name": rng.choice(SURNAMES) + "大山",
                                           "village": "茶园村", "member_no": i},
            "contributed": {"produce": [{"product": "藤茶鲜叶", "quantity_kg": str(trade / 5), "amount": f"{trade:.2f}"}],
                            "labor": {"days": "6", "wages": "720.00"},
                            "land": [{"contract_no": f"TD-{i}", "area_mu": "2.5", "shares": "2.5",
                                      "rent_per_mu": "600.00", "base_rent": "1500.00"}],
                            "capital": [{"form": "cash", "amount": f"{capital:.2f}"}]},
            "lines": lines, "preferred": [], "sources": [], "reserve_share": "573.32", "subsidy_share": "2500.00",
            "total": f"{total:.2f}",
            "deductions": [{"what": "inputs", "amount": f"{deduction:.2f}"}] if deduction else [],
            "deductions_total": f"{deduction:.2f}", "net": f"{net:.2f}", "net_words": capital_numerals(net)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1000)
    args = parser.parse_args()
    items = snapshots(args.households)
    base = "http://127.0.0.1:5000"
    htmls = [render_statement_html(s, verify_url=f"{base}/verify/{s['code']}") for s in items]
    html_to_pdf(htmls[0])                                   # warm the bare process (fonts)
    t0 = time.perf_counter()
    sizes = [len(html_to_pdf(h)) for h in htmls]
    bare = len(htmls) / (time.perf_counter() - t0)
    print(f"bare WeasyPrint loop: {bare:.2f} statements/s (mean PDF {sum(sizes) / len(sizes) / 1024:.0f} KiB)",
          flush=True)
    for workers in (1, 2):
        out = tempfile.mkdtemp()
        t0 = time.perf_counter()
        names = render_locally(items, out, workers=workers, locale="zh_Hans_CN", base_url=base)
        rate = len(names) / (time.perf_counter() - t0)
        print(f"coopledger, {workers} worker(s): {rate:.2f} statements/s = {rate / bare:.2f}x bare", flush=True)


if __name__ == "__main__":
    main()
