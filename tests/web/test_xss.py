"""Hostile text in names, memos, products and objections: 0 unescaped in the pages, 0 in the PDFs.

``tests/data/xss_payloads.txt`` holds the corpus (one payload a line: classic script/event/URL/CSS/SVG
vectors, attribute and tag break-outs, template injection such as ``{{7*7}}``, encodings, unicode and
bidi tricks, Chinese text mixed with markup). Every payload is recorded through the real doors: the
workbook import (as household names, delivery products, capital notes, sale buyers, expense payees), the
web forms (member registration and a delivery, each with a payload), and the household's objection form.
A year is then distributed, posted and published.

Then every page reachable by link for the accountant, the township auditor and the household is fetched
and parsed as a browser parses it (Lexbor, a WHATWG HTML parser, through selectolax), and:

* no element or attribute outside what the templates produce appears (no ``on*`` handler, no ``style``,
  ``srcdoc`` or ``formaction``, no ``javascript:``/``vbscript:``/``data:text`` URL, no script other
  than the app's own files, no iframe/object/embed/base/meta/link injected, no SVG beyond the charts');
* on the pages that show a field in full (members, records, objections, the statement), every payload
  recorded there appears literally in the text — so it was neither interpreted as markup nor evaluated
  as a template (``{{7*7}}`` stays ``{{7*7}}``).

The household's statement PDF (all payloads as its delivered products) and a household whose name is a
payload are read back with ``pdftotext``: the text of every payload is there, in order.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity, Household
from cooperatives.users import create_user
from payouts.models import StatementSnapshot

PAYLOADS = [line for line in (Path(__file__).parents[1] / "data" / "xss_payloads.txt")
            .read_text(encoding="utf-8").splitlines() if line]
CODE = "XSS-COOP"
PASSWORD = "correct horse battery staple"
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
#: payloads given to the web forms (the rest go through the import)
FORM_NAMES = PAYLOADS[:8]
FORM_PRODUCT = "藤茶<script>alert('表单')</script>"

#: what the templates produce; anything else in a page was injected
TAGS = set("""html head body title meta link main header nav footer section article aside div span p a h1 h2 h3
h4 table thead tbody tfoot tr th td caption colgroup col ul ol li dl dt dd form label input select option optgroup
textarea button fieldset legend details summary strong em small br hr pre code img figure figcaption blockquote
progress abbr time svg rect line text g path circle polyline tspan desc datalist""".split())
ATTRIBUTES = set("""accept action alt aria-current aria-describedby aria-hidden aria-invalid aria-label aria-live
autocapitalize autocomplete autofocus charset class colspan content d data-key data-total datetime disabled enctype
for height hidden href http-equiv id inputmode lang max maxlength method min multiple name novalidate open pattern
placeholder preserveaspectratio r readonly rel required role rows rowspan scope selected checked spellcheck src step
text-anchor title type value viewbox width x x1 x2 y y1 y2 cx cy fill stroke stroke-width points transform
dominant-baseline font-size xmlns list download translate data-pool aria-labelledby""".split())
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href", "srcset"}
BAD_URL = re.compile(r"^(javascript|vbscript|data:text|data:application|file|https?:|//)", re.I)
PDFTOTEXT = shutil.which("pdftotext")


# ------------------------------------------------------------------------------------------------ corpus


def test_the_corpus_is_large_and_varied():
    assert len(PAYLOADS) >= 200 and len(set(PAYLOADS)) == len(PAYLOADS)
    assert all(0 < len(p) <= 100 and p.strip() for p in PAYLOADS)      # fits a name or product column
    cjk_markup = [p for p in PAYLOADS if re.search(r"[\u4e00-\u9fff]", p) and "<" in p]
    assert len(cjk_markup) >= 20
    for needle in ("<script>", "onerror=", "javascript:", "<svg", "{{7*7}}", "{%", "@import", "file:///etc/passwd",
                   "169.254.169.254", "\u202e", "\u200b", "&lt;", "\"><", "'><"):
        assert any(needle in p for p in PAYLOADS), needle


# ---------------------------------------------------------------------------------------------- recording


def _workbook() -> dict:
    names = PAYLOADS
    households = [["code", "head_name", "village", "phone"]]
    members = [["member", "member_no", "joined_on"]]
    capital = [["date", "member", "amount", "note"]]
    for i, name in enumerate(names, 1):
        households.append([f"X{i:03d}", name, "茶园村", f"139{i:08d}"])
        members.append([f"X{i:03d}", i, "2020-01-01"])
        capital.append(["2025-01-01", f"X{i:03d}", "100", name])
    deliveries = [["date", "member", "product", "quantity", "unit", "unit_price", "paid"]]
    for product in PAYLOADS:        # every payload is a product the first household delivered
        deliveries.append(["2025-05-01", "X001", product, "10", "kg", "2", "no"])
    deliveries.append(["2025-05-01", "X002", "藤茶鲜叶", "100", "kg", "3", "no"])
    sales = [["date", "buyer", "product", "amount"]] + [["2025-09-01", p, p, "100"] for p in PAYLOADS[:60]]
    expenses = [["date", "category", "amount", "payee", "note"]] + [
        ["2025-07-01", "management", "10", p, p] for p in PAYLOADS[60:120]]
    return {"entity": [["code", "name", "kind", "township", "village"],
                       [CODE, "藤茶合作社<script>alert('社')</script>", "farmer_coop", "甲乡", "茶园村"]],
            "households": households, "members": members, "capital": capital, "deliveries": deliveries,
            "sales": sales, "expenses": expenses}


@pytest.fixture
def hostile(app, session, cli, xlsx, policy_file, login, post_form, world):
    """The cooperative full of payloads, its year published, one objection per payload; the users' clients."""
    assert cli("import", xlsx(_workbook())).exit_code == 0
    entity = session.scalar(select(Entity).where(Entity.code == CODE))
    first = session.scalar(select(Household).where(Household.code == "X001"))
    create_user(session, username="acc_x", password=PASSWORD, role="accountant", entity_id=entity.id, actor=CONSOLE)
    create_user(session, username="mem_x", password=PASSWORD, role="member", household_id=first.id, actor=CONSOLE)
    session.commit()
    accountant = app.test_client()
    assert login(accountant, "acc_x").status_code == 302
    # the web forms: members registered and a delivery recorded with payloads
    for i, name in enumerate(FORM_NAMES, 1):
        response = post_form(accountant, f"/e/{CODE}/members", {
            "code": f"XF{i:02d}", "head_name": name, "village": "茶园村", "member_no": str(900 + i),
            "joined_on": "2020-01-01", "farmer": "yes"})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    response = post_form(accountant, f"/e/{CODE}/records/deliveries", {
        "date": "2025-06-01", "member": "XF01", "product": FORM_PRODUCT, "quantity": "5", "unit": "kg",
        "unit_price": "2", "paid": "no"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    # a year distributed, approved, posted and published
    members = len(PAYLOADS) + len(FORM_NAMES)
    run = json.loads(cli("distribute", "--entity", CODE, "--year", "2025", "--policy", policy_file(POLICY),
                         "--json").stdout)["run"]
    for args in (("approve", str(run), "--meeting-date", "2026-03-01", "--attended", str(members), "--votes-for",
                  str(members)), ("post", str(run)), ("publish", str(run))):
        result = cli("run", *args)
        assert result.exit_code == 0, result.output
    snap = session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == run,
                                                           StatementSnapshot.member_code == "X001")).one()
    # the household objects, once per payload, through its statement's form
    member = app.test_client()
    assert login(member, "mem_x").status_code == 302
    page = f"/s/{snap.code}"
    line = re.search(r'name="line"[^>]*>\s*<option value="([^"]+)"', member.get(page).get_data(as_text=True))
    line = line.group(1) if line else "patronage"
    token = None
    for text in PAYLOADS:
        if token is None:
            response = post_form(member, f"{page}/object", {"line": line, "text": text}, token_path=page)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', member.get(page).get_data(as_text=True))
            token = token.group(1) if token else None
        else:
            response = member.post(f"{page}/object", data={"line": line, "text": text, "csrf_token": token})
        assert response.status_code == 302, (text, response.status_code)
    auditor = app.test_client()
    assert login(auditor, "aud_a").status_code == 302          # 甲乡's auditor
    return {"accountant": accountant, "member": member, "auditor": auditor, "run": run, "statement": snap.code}


# ------------------------------------------------------------------------------------------------- checks


def injected(page: str) -> list[str]:
    """What in ``page`` (HTML) the templates would never produce: each problem as a short text."""
    problems = []
    for element in LexborHTMLParser(page).root.traverse(include_text=False):
        tag = element.tag.lower()
        if tag.startswith("-"):
            continue                                   # a comment or the document
        if tag == "script":
            if not (element.attributes.get("src") or "").startswith("/static/") or element.text(deep=True).strip():
                problems.append(f"<script> {element.attributes.get('src')!r} {element.text()[:40]!r}")
            continue
        if tag not in TAGS:
            problems.append(f"<{tag}>")
        if tag == "meta" and (element.parent is None or element.parent.tag != "head"):
            problems.append("<meta> outside <head>")
        if tag == "link" and (not (element.attributes.get("href") or "").startswith("/static/")
                              or element.attributes.get("rel") != "stylesheet"):
            problems.append(f"<link rel={element.attributes.get('rel')!r} href={element.attributes.get('href')!r}>")
        for name, value in element.attributes.items():
            attribute = name.lower()
            if attribute not in ATTRIBUTES or attribute.startswith("on"):
                problems.append(f"<{tag} {attribute}=…>")
            if attribute in URL_ATTRIBUTES:
                bare = "".join(ch for ch in (value or "") if ch.isprintable() and not ch.isspace())
                if BAD_URL.match(bare) and not (tag == "img" and bare.startswith("data:image/")):
                    problems.append(f"<{tag} {attribute}={(value or '')[:60]!r}>")
    return problems


def visible_text(page: str) -> str:
    return " ".join(LexborHTMLParser(page).root.text(separator=" ").split())


def missing(page: str, payloads) -> list[str]:
    text = visible_text(page)
    return [p for p in payloads if " ".join(p.split()) not in text]


def _shape(path: str) -> str:
    """The page a path shows, whoever's it is: ``/s/ABCD-…`` and ``/s/EFGH-…`` are one shape."""
    path = path.split("?")[0]
    return re.sub(r"/[^/]*(\d|%)[^/]*", "/*", path)


def crawl(client, starts, limit: int = 300, per_shape: int = 3) -> dict[str, str]:
    """Pages reachable by link from ``starts`` (GET, this site, HTML only; at most ``per_shape`` of each
    kind of page, e.g. three household statements): path -> HTML."""
    seen: dict[str, str] = {}
    shapes: Counter[str] = Counter()
    queue = deque(starts)
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen or (path not in starts and shapes[_shape(path)] >= per_shape):
            continue
        shapes[_shape(path)] += 1
        response = client.get(path)
        if response.status_code != 200 or not response.content_type.startswith("text/html"):
            seen[path] = ""
            continue
        page = response.get_data(as_text=True)
        seen[path] = page
        for href in re.findall(r'href="([^"]+)"', page):
            target = urljoin("http://localhost" + path, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc != "localhost":
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if re.search(r"\.(pdf|xlsx|json|zip|csv|css|js|png|svg)$|^/(logout|lang/|static/)", parts.path):
                continue
            if link not in seen:
                queue.append(link)
    return {path: page for path, page in seen.items() if page}


# -------------------------------------------------------------------------------------------------- pages


@pytest.mark.slow
@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
def test_no_payload_gets_through_to_a_page_or_a_pdf(hostile, tmp_path):
    """(One test: recording the corpus is the expensive part.)"""
    accountant, auditor, member = hostile["accountant"], hostile["auditor"], hostile["member"]
    run, statement = hostile["run"], hostile["statement"]
    pages = {}
    for who, client, starts in (
        ("accountant", accountant, ["/", f"/e/{CODE}/", f"/e/{CODE}/runs/{run}", f"/e/{CODE}/runs/{run}/statements",
                                    f"/e/{CODE}/objections", f"/e/{CODE}/reports/2025"]),
        ("auditor", auditor, ["/", "/objections", f"/e/{CODE}/", "/oversight/"]),
        ("member", member, ["/", "/my", f"/s/{statement}"]),
    ):
        for path, page in crawl(client, starts).items():
            pages[f"{who} {path}"] = page
    problems = {where: found for where, page in pages.items() if (found := injected(page))}
    print(f"\nxss: {len(PAYLOADS)} payloads, {len(pages)} pages parsed, "
          f"{sum(len(v) for v in problems.values())} injected elements/attributes")
    assert not problems, dict(list(problems.items())[:5])
    assert len(pages) >= 40, sorted(pages)
    # the pages that show each field in full show every payload literally
    members = accountant.get(f"/e/{CODE}/members").get_data(as_text=True)
    assert not missing(members, PAYLOADS + FORM_NAMES)
    records = {kind: "".join(accountant.get(f"/e/{CODE}/records/{kind}?page={n}").get_data(as_text=True)
                             for n in range(1, 7)) for kind in ("deliveries", "capital", "sales", "expenses")}
    assert not missing(records["deliveries"], [*PAYLOADS, FORM_PRODUCT])
    assert not missing(records["capital"], PAYLOADS)
    assert not missing(records["sales"], PAYLOADS[:60])
    assert not missing(records["expenses"], PAYLOADS[60:120])
    objections = accountant.get(f"/e/{CODE}/objections").get_data(as_text=True)
    assert not missing(objections, PAYLOADS)
    own = member.get(f"/s/{statement}").get_data(as_text=True)
    assert not missing(own, [PAYLOADS[0], *PAYLOADS])              # the name, and each product delivered
    assert "藤茶合作社<script>alert('社')</script>" in visible_text(own)
    check_pdfs(hostile, tmp_path)


def test_the_detector_finds_injections():
    """The checks above can fail: unescaped payloads are caught, escaped ones are not."""
    from markupsafe import escape

    template = '<!doctype html><html><head><title>t</title></head><body><p>{}</p></body></html>'
    caught = [p for p in PAYLOADS if injected(template.format(p))]
    for sample in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
                   "\"><a href=\"javascript:alert(1)\">x</a>", "<iframe src=\"http://169.254.169.254/\"></iframe>",
                   "<style>*{display:none}</style>", "<base href=\"http://evil.example/\">"):
        assert injected(template.format(sample)), sample
    assert len(caught) >= 120                      # most raw payloads are markup (the rest is plain text)
    assert not [p for p in PAYLOADS if injected(template.format(escape(p)))]
    assert not missing(template.format(escape("{{7*7}}")), ["{{7*7}}"])
    assert missing(template.format("<b>粗体</b>"), ["<b>粗体</b>"])


# --------------------------------------------------------------------------------------------------- PDFs


def _glyphs(text: str) -> str:
    """What survives text extraction in order: ASCII and CJK characters, NFKC-folded, without spaces."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if (ch.isascii() and ch.isprintable() and not ch.isspace())
                   or "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL", "RLE", "RLO", "LRE", "LRO", "PDF", "RLI", "LRI", "FSI")
               for ch in text)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    source = tmp_path / "doc.pdf"
    source.write_bytes(data)
    done = subprocess.run([PDFTOTEXT, "-raw", "-enc", "UTF-8", str(source), "-"], capture_output=True,
                          check=True, timeout=120)
    return done.stdout.decode("utf-8")


def check_pdfs(hostile, tmp_path):
    response = hostile["member"].get(f"/s/{hostile['statement']}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = pdf_text(response.data, tmp_path)
    extracted = _glyphs(text)
    absent = []
    for payload in PAYLOADS:
        if _right_to_left(payload):       # reordered for display: every ASCII word must still be there
            words = re.findall(r"[A-Za-z0-9]+", payload)
            if not all(w in extracted or w[::-1] in extracted for w in words):
                absent.append(payload)
        elif _glyphs(payload) not in extracted:
            absent.append(payload)
    print(f"\nxss pdf: {len(PAYLOADS) - len(absent)}/{len(PAYLOADS)} payloads read back literally")
    assert not absent, absent[:10]
    assert _glyphs("藤茶合作社<script>alert('社')</script>") in extracted      # the entity's name
    assert _glyphs(PAYLOADS[0]) in extracted                                    # the household's name
    # and a PDF is not an HTML page: nothing in it may point outside (no URI actions, no remote files)
    assert not re.search(rb"/URI\s*\(\s*(javascript|http://169|file:)", response.data, re.I)
    assert Counter(re.findall(rb"/Subtype\s*/(\w+)", response.data))[b"Link"] <= 1   # at most the QR's own link
