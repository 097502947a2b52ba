"""Benchmark: the statement stylesheet against another one (e.g. an older version), same statements, A/B.

    git show 930ae41:payouts/static/statement.css > /tmp/old-statement.css     # Noto Sans CJK SC + bold
    .venv/bin/python bench/statement_fonts.py --against /tmp/old-statement.css [--households 100]

Each statement's HTML (bench/statements.py's snapshots) is rendered by WeasyPrint with the app's URL fetcher
and shared FontConfiguration, once with payouts/static/statement.css (*current*) and once with the other
file (*against*), alternating which goes first, in one warm process writing nothing: machine load hits
both alike, so the ratio holds on a busy machine where two separate runs would not compare. Prints the
rate, median time and mean PDF size of each and the ratio of rates.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from statements import snapshots  # noqa: E402

from payouts.statements.render import STATIC, _fetcher, _fonts, render_statement_html  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", required=True, help="the other statement stylesheet")
    parser.add_argument("--households", type=int, default=100)
    args = parser.parse_args()
    from weasyprint import CSS, HTML

    fonts = _fonts()
    sheets = {"current": CSS(filename=str(STATIC / "statement.css"), font_config=fonts),
              "against": CSS(filename=args.against, font_config=fonts)}
    htmls = [re.sub(r'<link rel="stylesheet"[^>]*>', "", render_statement_html(s, verify_url=f"http://127.0.0.1:5000/verify/{s['code']}"))
             for s in snapshots(args.households)]

    def render(html: str, which: str) -> bytes:
        return HTML(string=html, base_url=str(STATIC) + "/", url_fetcher=_fetcher()).write_pdf(
            stylesheets=[sheets[which]], font_config=fonts)

    for which in sheets:                                    # warm: fonts loaded for both
        render(htmls[0], which)
    times: dict[str, list[float]] = {"current": [], "against": []}
    sizes: dict[str, list[int]] = {"current": [], "against": []}
    for i, html in enumerate(htmls):
        for which in ("current", "against") if i % 2 == 0 else ("against", "current"):
            t0 = time.perf_counter()
            pdf = render(html, which)
            times[which].append(time.perf_counter() - t0)
            sizes[which].append(len(pdf))
    for which in sheets:
        print(f"{which}: {len(times[which]) / sum(times[which]):.2f} statements/s, median "
              f"{statistics.median(times[which]) * 1000:.0f} ms, mean PDF {sum(sizes[which]) / len(sizes[which]) / 1024:.1f} KiB")
    print(f"current/against rate: {sum(times['against']) / sum(times['current']):.2f}x")


if __name__ == "__main__":
    main()
