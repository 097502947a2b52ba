"""The monitoring category (防止返贫监测: 脱贫不稳定户, 边缘易致贫户, 突发严重困难户) is the township's personal data
(issue 18 §4): with the county's list imported for the demo's households — every category, the demo member's own
household among them — no page, statement, notice list, PDF or export that a household, an accountant or anyone
without a login reaches shows a category, in Chinese or English. The accountant sees at most a discreet mark
(监测, no category) on the members pages of their entity; the township's auditor's own pages are where categories
are read.

One crawl per reader (the demo's accountant of the tea cooperative, its household JGP-H001, anonymous verify pages),
in both languages, then every download linked from the pages crawled (PDFs through pdftotext when installed); the
public notice lists as the render job writes them (their HTML) and the statements' stored data. Two exceptions, both
vocabulary and not a household's data: the choices of the accountant's household form and the blank import
template, which offer every category to choose from.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select
from test_xss import crawl

from cooperatives.access import CONSOLE
from cooperatives.models import Entity, Household, Member, MonitoringPeriod
from cooperatives.monitoring import import_monitoring_list, read_monitoring_list

#: what is shown does not depend on the database: crawled once, on SQLite
ON_SQLITE = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                               reason="the pages' words are the same on PostgreSQL; crawled on SQLite")

PDFTOTEXT = shutil.which("pdftotext")
#: the categories as people read them: the county's words (and their short forms) and the English labels
LABELS = ("脱贫不稳定", "边缘易致贫", "突发严重困难", "Unstable after exiting poverty", "Marginal, at risk of poverty",
          "Sudden severe hardship")
DOWNLOAD = re.compile(r"\.(pdf|xlsx|csv|json|zip)$")
MEMBER = "JGP-H001"


@pytest.fixture
def listed(app, demo_world, tmp_path):
    """The demo with a county list for 金果坪乡: JGP-H001 (the demo's household login) and the first households of the
    tea cooperative in every category, one of them eliminated in 2025 (history)."""
    session = demo_world
    codes = session.scalars(select(Household.code).join(Member, Member.household_id == Household.id)
                            .where(Household.code.like("JGP-H%")).distinct().order_by(Household.code).limit(6)).all()
    assert MEMBER in codes
    categories = ("unstable", "marginal", "hardship")
    path = tmp_path / "county.csv"
    rows = ["household,category,identified_on,eliminated_on,persons"]
    for n, code in enumerate(codes):
        rows.append(f"{code},{categories[n % 3]},2022-0{n % 3 + 1}-01,{'2025-06-30' if n == 5 else ''},{n + 2}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_monitoring_list(session, read_monitoring_list(path), township=None, actor=CONSOLE)
    session.commit()
    assert {p.category for p in session.scalars(select(MonitoringPeriod))} >= set(categories)
    return codes


def _readable(data: bytes, content_type: str) -> str:
    """A download as text: the XML inside an .xlsx or a zip (PDFs inside a zip through pdftotext too), a PDF's text,
    else the bytes as UTF-8."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "".join(_readable(archive.read(name), "application/pdf" if name.endswith(".pdf") else "")
                           for name in archive.namelist())
    if data[:4] == b"%PDF":
        if PDFTOTEXT is None:
            return ""
        return subprocess.run([PDFTOTEXT, "-q", "-", "-"], input=data, capture_output=True, check=False).stdout.decode(
            "utf-8", "replace")
    return data.decode("utf-8", "replace")


def _downloads(pages: dict[str, str], per_shape: int = 2) -> set[str]:
    """The files linked from ``pages`` (PDF, spreadsheets, CSV, JSON, zip), at most ``per_shape`` per kind of link."""
    found: set[str] = set()
    shapes: Counter[str] = Counter()
    for path, page in pages.items():
        for href in re.findall(r'href="([^"]+)"', page):
            parts = urlsplit(urljoin("http://localhost" + path, href.replace("&amp;", "&")))
            if parts.netloc != "localhost" or not DOWNLOAD.search(parts.path) or parts.path.startswith("/static/"):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            shape = re.sub(r"\d+", "N", parts.path)
            if link not in found and shapes[shape] < per_shape:
                shapes[shape] += 1
                found.add(link)
    return found


#: the choices of a form (the accountant's household form offers every category to choose from): vocabulary, not
#: a household's data
CHOICES = re.compile(r"<select\b.*?</select>|<datalist\b.*?</datalist>", re.S)
#: the import template: the same blank workbook for every entity, its validations and notes list every category
TEMPLATE = "/import/template.xlsx"


def _leaks(texts: dict[str, str]) -> list[str]:
    return [f"{where}: {label}" for where, text in texts.items() if not where.endswith(TEMPLATE)
            for label in LABELS if label in CHOICES.sub(" ", text)]


def _read_all(client, pages: dict[str, str], who: str) -> dict[str, str]:
    texts = {f"{who} {path}": page for path, page in pages.items()}
    for link in sorted(_downloads(pages)):
        response = client.get(link)
        if response.status_code == 200:
            texts[f"{who} {link}"] = _readable(response.get_data(), response.content_type)
    return texts


def _notice_lists(session) -> dict[str, str]:
    """The public notice lists (公示表) of the runs in force of 金果坪乡's cooperatives, as the render job writes them
    (its HTML, in both languages), and the statements' data they are built from."""
    from payouts.models import IN_FORCE, PayoutRun, StatementSnapshot
    from payouts.statements.render import render_notice_html

    texts = {}
    runs = session.scalars(select(PayoutRun).join(Entity, Entity.id == PayoutRun.entity_id)
                           .where(Entity.code.in_(("JGP-TEA", "JGP-VEG")), PayoutRun.status.in_(IN_FORCE))).all()
    assert runs
    for run in runs:
        snapshots = [s.content for s in session.scalars(select(StatementSnapshot).where(
            StatementSnapshot.run_id == run.id))]
        texts[f"statements of run {run.id}"] = repr(snapshots)
        for locale in ("zh_Hans_CN", "en"):
            texts[f"notice list of run {run.id} {locale}"] = render_notice_html(
                {"notice_code": run.notice_code, **run.result}, snapshots,
                entity={"code": run.entity.code, "name": run.entity.name}, notice_from="2026-03-01",
                notice_until="2026-03-08", locale=locale, verify_url=f"https://example.org/verify/{run.notice_code}")
    return texts


def _crawl_as(app, login, username, password, language, starts=()):
    client = app.test_client()
    client.get(f"/lang/{language}")
    assert login(client, username, password).status_code == 302
    home = client.get("/", follow_redirects=True).request.path
    pages = crawl(client, [home, *starts], limit=200, per_shape=2)
    assert len(pages) > 3, (username, language)
    return client, pages


@pytest.mark.slow
@ON_SQLITE
def test_no_category_on_anything_a_household_an_accountant_or_the_public_reads(app, listed, login, demo_world):
    texts: dict[str, str] = {}
    verify: set[str] = set()
    for language in ("zh_Hans_CN", "en"):
        for username, password, starts in (("kuaiji", "demo-kuaiji-2025", ["/e/JGP-TEA/members"]),
                                           (MEMBER, "demo-member-2025", ["/household", "/my"])):
            client, pages = _crawl_as(app, login, username, password, language, starts)
            texts.update(_read_all(client, pages, f"{username} {language}"))
            for page in pages.values():
                verify.update(re.findall(r'href="(/verify/[^"?#]+)', page))
        anonymous = app.test_client()
        anonymous.get(f"/lang/{language}")
        pages = crawl(anonymous, ["/verify", *sorted(verify)[:4]], limit=40, per_shape=4)
        texts.update(_read_all(anonymous, pages, f"anonymous {language}"))
    texts.update(_notice_lists(demo_world))
    assert any("/members/" in where for where in texts) and any("/verify" in where for where in texts)
    assert any(where.endswith(".pdf") and "/s/" in where for where in texts)             # statements' PDFs
    templates = [text for where, text in texts.items() if where.endswith(TEMPLATE)]
    assert templates and not any(code in text for text in templates for code in listed)     # no household in it
    leaks = _leaks(texts)
    assert not leaks, "a monitoring category where it must not be:\n" + "\n".join(leaks[:40])


def test_the_accountant_and_the_auditor_see_a_discreet_mark(app, listed, login, demo_world):
    """The mark: on the accountant's members pages, for a household monitored today, never a category; a household
    whose period ended is not marked; the township's auditor sees it too."""
    client = app.test_client()
    client.get("/lang/en")
    assert login(client, "kuaiji", "demo-kuaiji-2025").status_code == 302
    page = client.get("/e/JGP-TEA/members").get_data(as_text=True)
    marked = re.findall(r'<a href="/e/JGP-TEA/members/([^"]+)">[^<]*</a></td>\s*<td>[^<]*'
                        r'<span class="badge monitored">Monitored</span>', page)
    from cooperatives.monitoring import periods_in_force
    from ledger.clock import china_today

    members = dict(demo_world.execute(select(Member.household_id, Member.code).join(Entity, Entity.id == Member.entity_id)
                                      .where(Member.household_id.is_not(None), Entity.code == "JGP-TEA")).all())
    now = periods_in_force(demo_world, members, china_today())
    assert sorted(marked) == sorted(members[h] for h in now)
    assert set(listed[:5]) <= set(marked) and listed[5] not in marked     # the sixth was eliminated on 2025-06-30
    own = client.get(f"/e/JGP-TEA/members/{MEMBER}").get_data(as_text=True)
    assert 'class="badge monitored">Monitored<' in own and not _leaks({"": own})
    auditor = app.test_client()
    auditor.get("/lang/en")
    assert login(auditor, "nongjing", "demo-audit-2025").status_code == 302
    assert 'class="badge monitored"' in auditor.get(f"/e/JGP-TEA/members/{MEMBER}").get_data(as_text=True)
