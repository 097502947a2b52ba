"""WeasyPrint given hostile resources through OUR renderer (``payouts.statements.render``): 0 fetches,
bounded time and memory (reliability.md §1.17, §2.11 P6).

Each rendering runs in a child process with an address-space limit (``RLIMIT_AS``) and a wall-clock
timeout, so the assertions are "it finished inside the limits" and never a measured time. The child
counts what was asked for and what happened:

* a local HTTP server on 127.0.0.1 counts every hit — the hostile ``http://`` resources point at it;
* ``file://`` canaries (a stylesheet and an SVG outside the static folder) would put a marker into the
  PDF's text if they were ever read; ``/etc/passwd`` would put ``root:`` there;
* every socket connection the child attempts is recorded, and any outside the loopback range is refused
  by the guard before it leaves the machine (so ``169.254.169.254`` is never contacted, even by the
  control run);
* the renderer's URL fetcher is wrapped to list each URL it served or refused.

The control run renders the same document with WeasyPrint's own default fetcher: the server then
counts hits and the canary is read — which shows the instruments see a fetch when there is one.
"""

from __future__ import annotations

import base64
import json
import resource
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from payouts.models import StatementSnapshot

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")

#: limits for one rendering (the 2-core CI machine is shared: generous, but finite)
TIMEOUT_SECONDS = 240
ADDRESS_SPACE = 3 * 1024 ** 3
CANARY = "CANARYLEAK7F3A"
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'

CHILD = r'''
import json, socket, sys
config = json.load(open(sys.argv[1], encoding="utf-8"))
attempts = []
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

def _guard(address):
    attempts.append(str(address))
    host = str(address[0] if isinstance(address, tuple) else address)
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        raise OSError("test guard: no connection outside the loopback range")

def connect(self, address):
    _guard(address)
    return _connect(self, address)

def connect_ex(self, address):
    _guard(address)
    return _connect_ex(self, address)

socket.socket.connect, socket.socket.connect_ex = connect, connect_ex

from payouts.statements import render
asked = []
_make = render._fetcher

def recording_fetcher():
    fetcher = _make()
    fetch = fetcher.fetch
    def logged(url, headers=None):
        try:
            response = fetch(url, headers)
        except Exception:
            asked.append(["refused", url[:120]])
            raise
        asked.append(["served", url[:120]])
        return response
    fetcher.fetch = logged
    return fetcher

render._fetcher = recording_fetcher
html = open(config["html"], encoding="utf-8").read()
if config["mode"] == "statement":
    data = json.load(open(config["statement"], encoding="utf-8"))
    html = render.render_statement_html(data, verify_url="http://127.0.0.1/verify/X")
    open(config["html"] + ".rendered.html", "w", encoding="utf-8").write(html)
if config["mode"] == "default":        # the control: WeasyPrint's own fetcher, no allow-list
    from weasyprint import HTML
    pdf = HTML(string=html, base_url=str(render.STATIC) + "/").write_pdf()
else:
    pdf = render.html_to_pdf(html)
open(config["out"], "wb").write(pdf)
print(json.dumps({"attempts": attempts, "asked": asked}))
'''


class _Counter(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        type(self).hits.append(self.path)
        body = (b"body::after { content: '" + CANARY.encode() + b"HTTP' }" if self.path.endswith(".css")
                else b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><text y='9'>"
                     + CANARY.encode() + b"HTTP</text></svg>")
        self.send_response(200)
        self.send_header("Content-Type", "text/css" if self.path.endswith(".css") else "image/svg+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A loopback HTTP server counting every request it gets: (base URL, list of paths hit)."""
    _Counter.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", _Counter.hits
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def canaries(tmp_path):
    """``file://`` URLs of a stylesheet and an SVG outside the static folder, each carrying the marker."""
    css = tmp_path / "canary.css"
    css.write_text(f"body::before {{ content: '{CANARY}FILE' }}", encoding="utf-8")
    svg = tmp_path / "canary.svg"
    svg.write_text(f"<svg xmlns='http://www.w3.org/2000/svg' width='200' height='20'><text y='15'>{CANARY}SVG"
                   "</text></svg>", encoding="utf-8")
    return css.as_uri(), svg.as_uri()


def huge_svg(shapes: int = 4_000) -> str:
    circles = "".join(f"<circle cx='{i * 37 % 100000}' cy='{i * 53 % 100000}' r='40'/>" for i in range(shapes))
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='100000' height='100000' viewBox='0 0 100000 100000'>"
            f"<defs><pattern id='p' width='1' height='1' patternUnits='userSpaceOnUse'><rect width='1' height='1'/>"
            f"</pattern></defs><rect width='100000' height='100000' fill='url(#p)'/>{circles}"
            f"<g id='loop'><use href='#loop'/></g></svg>")


def laughs() -> str:
    """An SVG whose XML entities expand exponentially (the "billion laughs")."""
    entities = "".join(f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};">'
                       for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY l0 "lol">{entities}]>'
            f"<svg xmlns='http://www.w3.org/2000/svg'><text>&l9;</text></svg>")


def hostile_html(base: str, canaries: tuple[str, str]) -> str:
    css_canary, svg_canary = canaries
    svg = huge_svg()
    return f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="statement.css">
<link rel="stylesheet" href="{base}/linked.css">
<link rel="stylesheet" href="{css_canary}">
<style>@import url("{base}/imported.css"); @import "{css_canary}"; @import url("file:///etc/passwd");
body {{ background: url("{base}/background.svg"); }} p::after {{ content: url("{base}/after.svg"); }}</style>
</head><body>
<h1>结算单 hostile</h1>
<img src="http://169.254.169.254/latest/meta-data/">
<img src="{base}/img.svg"><img src="{svg_canary}"><img src="file:///etc/passwd">
<object data="{base}/object.svg"></object><embed src="{base}/embed.svg">
<iframe src="{base}/frame.html"></iframe>
<p style="background-image:url('{base}/inline.svg')">张三<script>alert(1)</script></p>
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="20"><image href="{base}/svgimage.svg" width="10" height="10"/>
<image href="{svg_canary}" width="10" height="10"/></svg>
{svg}
<img src="data:image/svg+xml;base64,{base64.b64encode(huge_svg().encode()).decode()}">
<img src="data:image/svg+xml;base64,{base64.b64encode(laughs().encode()).decode()}">
<img src="data:image/svg+xml,{svg.replace('#', '%23')[:2000]}">
</body></html>"""


def render_in_child(tmp_path: Path, mode: str, html: str, statement: dict | None = None) -> tuple[dict, str]:
    """Render in a child process under the limits; returns (its report, the PDF's text)."""
    (tmp_path / "doc.html").write_text(html, encoding="utf-8")
    config = {"mode": mode, "html": str(tmp_path / "doc.html"), "out": str(tmp_path / f"{mode}.pdf")}
    if statement is not None:
        (tmp_path / "statement.json").write_text(json.dumps(statement, ensure_ascii=False), encoding="utf-8")
        config["statement"] = str(tmp_path / "statement.json")
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "config.json")], capture_output=True,
                          text=True, timeout=TIMEOUT_SECONDS, preexec_fn=limits, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    text = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", config["out"], "-"], capture_output=True,
                          check=True, timeout=120).stdout.decode("utf-8")
    return report, text


@pytest.mark.slow
def test_hostile_resources_are_never_fetched(tmp_path, server, canaries):
    base, hits = server
    report, text = render_in_child(tmp_path, "ours", hostile_html(base, canaries))
    served = [url for verdict, url in report["asked"] if verdict == "served"]
    refused = [url for verdict, url in report["asked"] if verdict == "refused"]
    print(f"\nrender hostile: {len(hits)} server hits, {len(report['attempts'])} connections attempted, "
          f"{len(served)} served (static/data), {len(refused)} refused")
    assert hits == []                                               # 0 fetches from the network
    assert report["attempts"] == []                                 # not even a connection attempted
    assert CANARY not in text and "root:" not in text               # 0 files read outside the static folder
    assert all(url.startswith("data:") or "/payouts/static/" in url for url in served), served
    assert any(url.endswith("statement.css") for url in served)     # the allow-listed stylesheet still loads
    assert {f"{base}/linked.css", f"{base}/imported.css", f"{base}/img.svg", canaries[0],
            canaries[1], "file:///etc/passwd"} <= set(refused), refused
    assert "结算单" in text and "<script>alert(1)</script>" not in text   # HTML handed over as HTML renders


@pytest.mark.slow
def test_the_instruments_see_a_fetch_when_there_is_one(tmp_path, server, canaries):
    """Control: WeasyPrint's default fetcher on the same document hits the server and reads the canary;
    the guard still stops the connection to 169.254.169.254."""
    base, hits = server
    report, text = render_in_child(tmp_path, "default", hostile_html(base, canaries))
    assert {"/linked.css", "/imported.css", "/img.svg"} <= set(hits), hits
    assert CANARY + "FILE" in text.replace(" ", "") or CANARY + "SVG" in text.replace(" ", "")
    assert any("169.254.169.254" in attempt for attempt in report["attempts"])


@pytest.fixture
def hostile_statement(session, cli, xlsx, policy_file, server) -> dict:
    """A statement whose household name, products and entity name are hostile markup."""
    base, _hits = server
    name = f'王五<img src="{base}/name.svg">'
    products = [f'<img src="{base}/product.svg">藤茶', "<link rel=stylesheet href='file:///tmp/canary.css'>",
                f"<style>@import url('{base}/style.css');</style>鲜叶", "<img src='file:///etc/passwd'>",
                '<img src="http://169.254.169.254/">', "<svg width='100000' height='100000'></svg>"]
    workbook = {
        "entity": [["code", "name", "kind", "township"], ["HR", f"<iframe src='{base}/entity.html'>社", "farmer_coop",
                                                          "测试乡"]],
        "households": [["code", "head_name", "village"], ["R1", name, "一村"], ["R2", "李四", "一村"]],
        "members": [["member", "member_no", "joined_on"], ["R1", 1, "2020-01-01"], ["R2", 2, "2020-01-01"]],
        "capital": [["date", "member", "amount"], ["2025-01-01", "R1", "1000"], ["2025-01-01", "R2", "1000"]],
        "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"]]
        + [["2025-05-01", "R1", p, "10", "kg", "3", "bank"] for p in products] + [["2025-05-01", "R2", "茶", "10", "kg", "3", "bank"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "5000"]],
    }
    imported = cli("import", xlsx(workbook))
    assert imported.exit_code == 0, imported.output
    run = json.loads(cli("distribute", "--entity", "HR", "--year", "2025", "--policy", policy_file(POLICY),
                         "--json").stdout)["run"]
    assert cli("run", "approve", str(run), "--meeting-date", "2026-03-01", "--attended", "2",
               "--votes-for", "2").exit_code == 0
    assert cli("run", "post", str(run)).exit_code == 0
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run,
                                                          StatementSnapshot.member_code == "R1"))
    return {"content": snap.content, "name": name, "products": products}


def test_a_statement_with_hostile_fields_renders_them_as_text(tmp_path, server, hostile_statement):
    base, hits = server
    report, text = render_in_child(tmp_path, "statement", "", statement=hostile_statement["content"])
    flat = "".join(text.split())
    assert hits == [] and report["attempts"] == []
    assert not [url for verdict, url in report["asked"] if verdict == "refused"]   # nothing hostile was even asked
    for shown in (hostile_statement["name"], *hostile_statement["products"]):
        assert "".join(shown.split()) in flat, shown
    assert "root:" not in text and CANARY not in text
    rendered = (tmp_path / "doc.html.rendered.html").read_text(encoding="utf-8")
    assert "<img src=\"" + base not in rendered and "&lt;img src=&#34;" + base in rendered
