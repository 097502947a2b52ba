"""Every page of the demo, as every role, in both languages: no English left on a Chinese page, no Chinese
left on an English one (outside names and the official form titles).

The demo world is loaded for each language; each demo login (admin, the tea cooperative's accountant, the township auditor,
a household) crawls the pages it reaches by link (at most two of each kind of page) in Chinese, then in
English. A Chinese page's visible text may hold Latin letters only in codes (``JGP-TEA``, ``TL-V01-H001``),
numbers, URLs and units of measure, and a short list of names that stay as they are (coopledger, PDF, Excel…). An
English page's visible text may hold Chinese only in what people typed or the books name (entity, household,
village, product, account and memo names, read from the database), the official titles of forms, a Chinese term
glossed in brackets beside its English words, and what is marked as Chinese (``lang="zh-CN"``: the statutory
forms and the books in the MOF's formats, whose line items and headings are the official Chinese text).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

import pytest
from selectolax.lexbor import LexborHTMLParser
from test_xss import crawl

#: the words of a page do not depend on the database: the crawl (some 1,200 pages) runs once, on SQLite
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                                   reason="a page's words are the same on PostgreSQL; crawled on SQLite")]

LOGINS = (("admin", "demo-admin-2025"), ("kuaiji", "demo-kuaiji-2025"), ("nongjing", "demo-audit-2025"),
          ("JGP-H001", "demo-member-2025"))

#: Latin words a Chinese page may show: the product's name, file formats, the language switch
LATIN_ALLOWED = {"coopledger", "English", "PDF", "Excel", "xlsx", "csv", "CSV", "JSON", "json", "TOML", "toml",
                 "API", "PIN", "ID", "QR", "zip", "pdf", "kg", "mu", "OK", "MiB"}
#: a code: upper-case letters with digits or hyphens (JGP-TEA, TL-V01-H001, WX-LAND), or a username's shape
CODE = re.compile(r"^[A-Z0-9][A-Z0-9]*(?:[-_][A-Za-z0-9]+)+$|^[A-Z]{1,4}\d*$")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
CJK = re.compile(r"[\u3400-\u9fff]+")


def visible_text(page: str) -> str:
    tree = LexborHTMLParser(page)
    for node in tree.css('script, style, code, kbd, samp, body [lang], body [translate="no"]'):
        node.decompose()
    body = tree.body
    return body.text(separator=" ") if body else ""


def latin_words(text: str) -> set[str]:
    found = set()
    for word in WORD.findall(re.sub(r"https?://\S+", " ", text)):
        word = word.strip(".-_")
        if len(word) < 2 or word in LATIN_ALLOWED or CODE.match(word) or any(ch.isdigit() for ch in word):
            continue
        found.add(word)
    return found


@pytest.fixture
def names(demo_world) -> set[str]:
    """Chinese the books hold as data: names of entities, households, villages, products, accounts, memos…"""
    from sqlalchemy import inspect, select, text

    session = demo_world
    found: set[str] = set()
    inspector = inspect(session.get_bind())
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            if str(column["type"]).upper().startswith(("VARCHAR", "TEXT", "STRING")):
                for (value,) in session.execute(select(text(f'"{column["name"]}"')).select_from(text(f'"{table}"'))):
                    if value:
                        found.update(CJK.findall(str(value)))
    return found


def crawl_as(app, login, username, password, language):
    client = app.test_client()
    client.get(f"/lang/{language}")
    assert login(client, username, password).status_code == 302
    home = client.get("/", follow_redirects=True).request.path       # a role's home may be a redirect away
    starts = [home, "/household"] if username.startswith("JGP-H") else [home]
    return crawl(client, starts, limit=160, per_shape=2)


def test_chinese_pages_show_no_english(app, demo_world, login):
    found, context = defaultdict(set), {}
    for username, password in LOGINS:
        pages = crawl_as(app, login, username, password, "zh_Hans_CN")
        assert len(pages) > 3, username
        for path, page in pages.items():
            text = visible_text(page)
            for word in latin_words(text):
                found[word].add(f"{username} {path}")
                at = text.find(word)
                context.setdefault(word, " ".join(text[max(at - 40, 0):at + 40].split()))
    report = "\n".join(f"{word}: {', '.join(sorted(paths)[:3])} «{context[word]}»"
                       for word, paths in sorted(found.items()))
    assert not found, f"English words on Chinese pages:\n{report}"


#: the official titles of forms, printed in Chinese whatever the page's language (they are the forms' names)
FORM_TITLES = re.compile(r"(会社|会农|会村|会经)\d+表|[\u4e00-\u9fff]*表(?=\s|$|）|\))")
#: the names of laws and documents, cited as they are titled (农村集体经济组织法, 国乡振发〔2022〕9号)
CITED = re.compile(r"[\u4e00-\u9fff]*(法|规定|条例|办法)(?![\u4e00-\u9fff])|[\u4e00-\u9fff]*发〔\d+〕\d+号")
#: a Chinese term given beside its English words, in brackets: "share register (份额登记簿)", 《…法》
GLOSS = re.compile(r"[（(《〔【][^（()）《》〔〕【】]*[\u3400-\u9fff][^（()）《》〔〕【】]*[）)》〕】]")


def test_english_pages_show_no_chinese_but_names_and_form_titles(app, demo_world, names, login):
    found = defaultdict(set)
    for username, password in LOGINS:
        pages = crawl_as(app, login, username, password, "en")
        assert len(pages) > 3, username
        for path, page in pages.items():
            text = GLOSS.sub(" ", CITED.sub(" ", FORM_TITLES.sub(" ", visible_text(page).replace("中文", " "))))
            for run in CJK.findall(text):
                if run not in names and not any(run in name for name in names):
                    found[run].add(f"{username} {path}")
    report = "\n".join(f"{run}: {', '.join(sorted(paths)[:3])}" for run, paths in sorted(found.items()))
    assert not found, f"Chinese on English pages:\n{report}"
