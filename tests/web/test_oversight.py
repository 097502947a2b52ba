"""The township auditor's workspace (/oversight): scope (township A sees A, never B), who is refused, the
overview's figures against the ledger and the runs, XLSX/CSV exports against the page, run review,
integrity checks recorded, audit opinions recorded (never edited, superseded) and shown to the
accountant, and the anomalies page rendering findings with links to their records."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from samples import POLICY_70_30
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import AuditLog, Entity, Household
from cooperatives.users import create_user
from ledger.models import Book
from payouts.models import AuditOpinion, IntegrityCheck, PayoutMember
from payouts.reports import statutory as reports
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
from payouts.runs.policy import load_policy_text

A, B = "TA-COOP", "TB-COOP"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def entity(session, code) -> Entity:
    return session.scalar(select(Entity).where(Entity.code == code))


@pytest.fixture
def wx(world, session, cli, xlsx, worked_example):
    """The worked example (S 500,000; three households) imported as WX in 例乡, distributed 70/30, posted and
    published; H001 has 4 people, H002 3, H003's household size is unknown. ``aud_wx`` audits 例乡."""
    result = cli("import", xlsx(worked_example()))
    assert result.exit_code == 0, result.output
    wx = entity(session, "WX")
    for code, persons in (("H001", 4), ("H002", 3), ("H003", None)):
        session.scalar(select(Household).where(Household.code == code)).persons = persons
    version = save_policy(session, wx, load_policy_text(POLICY_70_30), actor=CONSOLE)
    run = create_run(session, wx, 2025, policy_version=version, actor=CONSOLE)
    approve_run(session, run, meeting_date=dt.date(2026, 3, 1), attended=3, votes_for=3, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, actor=CONSOLE)
    create_user(session, username="aud_wx", password=world.password, role="auditor", display_name="例乡农经站",
                township_id=wx.township_id, actor=CONSOLE)
    create_user(session, username="acc_wx", password=world.password, role="accountant", display_name="例会计",
                entity_id=wx.id, actor=CONSOLE)
    session.commit()
    return run.id


def oversight_get_paths(app) -> list[str]:
    paths = []
    for r in app.url_map.iter_rules():
        if r.endpoint.startswith("oversight.") and "GET" in r.methods:
            values = {"code": A, "name": "overview", "fmt": "xlsx"}
            paths.append(r.build({k: values[k] for k in r.arguments}, append_unknown=False)[1])
    return paths


# ------------------------------------------------------------------------------------------- scope


def test_every_oversight_page_renders_for_the_auditor_of_its_township(app, client, world, login):
    login(client, "aud_a")
    paths = oversight_get_paths(app)
    assert len(paths) >= 8
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    page = text(client.get("/oversight/"))
    assert world.a_name in page and world.b_name not in page and "甲乡" in page


@pytest.mark.parametrize("user", ["acc_a", "acc_b", "mem_a"])
def test_accountants_and_members_are_refused_every_oversight_route(app, client, world, login, csrf, user):
    login(client, user)
    for path in oversight_get_paths(app):
        assert client.get(path).status_code == 403, path
    token = csrf(client, {"acc_a": f"/e/{A}/", "acc_b": f"/e/{B}/"}[user]) if user != "mem_a" else "x"
    for r in app.url_map.iter_rules():
        if r.endpoint.startswith("oversight.") and "POST" in r.methods:
            response = client.post(r.rule, data={"csrf_token": token, "entity": A, "year": "2025",
                                                 "verdict": "no_issue"})
            assert response.status_code in (403, 400), (r.rule, response.status_code)
            if user != "mem_a":
                assert response.status_code == 403


def test_an_auditor_sees_nothing_of_another_township(client, world, login):
    login(client, "aud_b")
    page = text(client.get("/oversight/"))
    assert world.b_name in page and world.a_name not in page
    assert client.get(f"/oversight/e/{A}").status_code == 404
    assert client.get(f"/oversight/anomalies?entity={A}").status_code == 404
    for name in ("overview", "runs", "integrity", "opinions"):
        body = client.get(f"/oversight/export/{name}.csv").data.decode("utf-8-sig")
        assert A not in body and world.a_name not in body, name


def test_an_admin_picks_the_township(client, world, login, session):
    login(client, "admin")
    b = entity(session, B)
    page = text(client.get(f"/oversight/?township={b.township_id}"))
    assert world.b_name in page and world.a_name not in page
    assert f"township={b.township_id}" in page          # links keep the admin's choice


# ------------------------------------------------------------------------------------------- overview


def overview_cells(page: str, table_id: str = "overview") -> tuple[list[dict], dict]:
    """The rows (data-key -> text) and totals (data-total -> text) of a data table of the page."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tfoot>")[0], re.S):
        cells = dict(re.findall(r'data-key="(\w+)">(.*?)</td>', tr, re.S))
        if cells:
            rows.append({k: re.sub(r"<[^>]+>", "", v).strip() for k, v in cells.items()})
    totals = {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in re.findall(r'data-total="(\w+)">(.*?)</td>', body, re.S)}
    return rows, totals


def amount(shown: str) -> Decimal:
    return Decimal(shown.replace(",", "")) if shown else Decimal("0")


def test_overview_income_agrees_with_the_ledger_and_the_records(client, world, login, session):
    login(client, "aud_a")
    rows, totals = overview_cells(text(client.get("/oversight/?year=2025")))
    (row,) = [r for r in rows if r["entity_code"] == A]
    # the world's records of A: a sale of 42,000, investment income of 1,500, a subsidy of 20,000
    assert amount(row["operating"]) == Decimal("42000.00")
    assert amount(row["investment"]) == Decimal("1500.00")
    assert amount(row["subsidies"]) == Decimal("20000.00")
    statement = reports.surplus_statement(session, entity(session, A), 2025)
    assert amount(row["surplus"]) == statement.line(12).values[0]          # 02表 四、本年盈余
    assert amount(totals["surplus"]) == statement.line(12).values[0]
    assert amount(row["distributed"]) == 0 and row["households"] == "0"


def test_overview_distributions_per_household_and_per_person(client, world, login, session, wx):
    login(client, "aud_wx")
    page = text(client.get("/oversight/?year=2025"))
    rows, totals = overview_cells(page)
    (row,) = rows
    members = dict(session.execute(select(PayoutMember.code, PayoutMember.total)
                                   .where(PayoutMember.run_id == wx)).all())
    assert set(members) == {"H001", "H002", "H003"} and all(v > 0 for v in members.values())
    assert amount(row["distributed"]) == sum(members.values())
    assert row["households"] == "3" and row["unknown_size"] == "1"
    assert amount(row["per_household"]) == (sum(members.values()) / 3).quantize(Decimal("0.01"))
    # per person over the households of known size only: (H001 + H002) / (4 + 3)
    assert amount(row["per_capita"]) == ((members["H001"] + members["H002"]) / 7).quantize(Decimal("0.01"))
    assert "1 households reached have none" in page or "有 1 户" in page
    assert amount(row["surplus"]) == Decimal("500000.00")            # domain.md §1.3: S = 500,000
    assert amount(row["operating"]) == Decimal("700000.00")
    assert amount(row["subsidies"]) == Decimal("90000.00")
    assert "<svg" in page and 'class="s1"' in page                   # the charts, drawn server-side


def test_entity_drill_down_reaches_the_run_and_the_household(client, world, login, session, wx):
    login(client, "aud_wx")
    page = text(client.get("/oversight/"))
    assert 'href="/oversight/e/WX"' in page
    detail = text(client.get("/oversight/e/WX"))
    assert f'href="/e/WX/runs/{wx}"' in detail
    assert 'href="/e/WX/members/H001"' in detail
    assert client.get("/e/WX/members/H001").status_code == 200
    assert client.get(f"/e/WX/runs/{wx}?rerun=1").status_code == 200


# ------------------------------------------------------------------------------------------- exports


def test_xlsx_and_csv_exports_have_the_pages_rows_and_totals(client, world, login, wx):
    login(client, "aud_wx")
    rows, totals = overview_cells(text(client.get("/oversight/?year=2025")))
    response = client.get("/oversight/export/overview.xlsx?year=2025")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    header = values[2]
    assert "村" in header and "分配金额" in header            # Chinese headers
    body, last = values[3:-1], values[-1]
    assert len(body) == len(rows) and last[0] == "合计"
    money_keys = ("operating", "investment", "subsidies", "surplus", "distributed", "per_household", "per_capita")
    from payouts.oversight.overview import COLUMNS

    index = {c.key: i for i, c in enumerate(COLUMNS)}
    for key in money_keys:
        assert Decimal(str(last[index[key]])).quantize(Decimal("0.01")) == amount(totals[key]), key
    assert last[index["households"]] == int(totals["households"])
    response = client.get("/oversight/export/overview.csv?year=2025")
    assert response.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert lines[0] == list(header)
    assert lines[-1][0] == "合计"
    for key in money_keys:
        assert Decimal(lines[-1][index[key]]) == amount(totals[key]), key


@pytest.mark.parametrize("name", ["runs", "integrity", "opinions"])
def test_every_table_exports_as_xlsx_and_csv(client, world, login, wx, name):
    login(client, "aud_wx")
    xlsx = client.get(f"/oversight/export/{name}.xlsx")
    assert xlsx.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(xlsx.data)).active.max_row >= 3
    assert client.get(f"/oversight/export/{name}.csv").status_code == 200
    assert client.get(f"/oversight/export/{name}.pdf").status_code == 404
    assert client.get("/oversight/export/secrets.csv").status_code == 404


# ------------------------------------------------------------------------------------------- run review


def test_run_review_lists_each_run_with_checks_meeting_and_objections(client, world, login, wx):
    login(client, "aud_wx")
    client.set_cookie("lang", "en")
    rows, totals = overview_cells(text(client.get("/oversight/runs")), "runs")
    (row,) = rows
    assert row["run"] == str(wx) and row["status"] == "published" and row["meeting_date"] == "2026-03-01"
    assert row["attendance"] == "3/3" and row["objections"] == "0"
    assert re.fullmatch(r"(\d+) of \1 passed", row["checks"])
    page = text(client.get("/oversight/runs"))
    assert f"/e/WX/runs/{wx}?rerun=1" in page
    rerun = text(client.get(f"/e/WX/runs/{wx}?rerun=1"))
    assert "matches the stored run exactly" in rerun


# ------------------------------------------------------------------------------------------- integrity


def test_verifying_the_township_records_each_check(client, world, login, post_form, session, wx):
    login(client, "aud_wx")
    response = post_form(client, "/oversight/integrity", {}, token_path="/oversight/integrity")
    assert response.status_code == 302
    checks = session.scalars(select(IntegrityCheck)).all()
    assert [(c.entity.code, c.ok, c.problems) for c in checks] == [("WX", True, None)]
    assert checks[0].entries == session.scalar(select(Book.entry_count).where(Book.code == "WX")) > 0
    assert checks[0].duration_ms >= 0 and checks[0].actor_id is not None
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "integrity_check")) == 1
    page = text(client.get("/oversight/integrity"))
    assert "例乡农经站" in page and "WX" in page


def test_a_tampered_book_is_reported_and_recorded(client, world, login, post_form, session, wx):
    book = session.scalar(select(Book).where(Book.code == "WX"))
    book.head_hash = "0" * 64            # the chain's recorded head no longer is the last entry
    session.commit()
    login(client, "aud_wx")
    client.set_cookie("lang", "en")
    post_form(client, "/oversight/integrity", {"entity": "WX"}, token_path="/oversight/integrity")
    check = session.scalar(select(IntegrityCheck))
    assert check.ok is False and "head of the hash chain" in check.problems
    page = text(client.get("/oversight/integrity"))
    assert "Differences found" in page and "head of the hash chain" in page
    assert "books with differences" in text(client.get("/oversight/"))


def test_integrity_of_another_townships_entity_is_404(client, world, login, post_form, session, wx):
    login(client, "aud_wx")
    response = post_form(client, "/oversight/integrity", {"entity": A}, token_path="/oversight/integrity")
    assert response.status_code == 404
    assert session.scalar(select(func.count()).select_from(IntegrityCheck)) == 0


# ------------------------------------------------------------------------------------------- opinions


def test_an_opinion_with_issues_needs_words_and_nothing_is_stored_without(client, world, login, post_form, session):
    login(client, "aud_a")
    client.set_cookie("lang", "en")
    response = post_form(client, "/oversight/opinions", {"entity": A, "year": "2025", "verdict": "issues", "text": " "})
    assert response.status_code == 422 and "Describe the issues found." in text(response)
    response = post_form(client, "/oversight/opinions", {"entity": A, "year": "twenty", "verdict": "maybe"})
    assert response.status_code == 422 and "Traceback" not in text(response)
    assert session.scalar(select(func.count()).select_from(AuditOpinion)) == 0


def test_opinions_are_recorded_superseded_and_shown_to_the_accountant(app, client, world, login, post_form, session):
    login(client, "aud_a")
    path = "/oversight/opinions"
    assert post_form(client, path, {"entity": A, "year": "2025", "verdict": "issues",
                                    "text": "现金支付未附签字"}).status_code == 302
    assert post_form(client, path, {"entity": A, "year": "2025", "verdict": "no_issue",
                                    "text": ""}).status_code == 302
    opinions = session.scalars(select(AuditOpinion).order_by(AuditOpinion.id)).all()
    assert [(o.verdict, o.text) for o in opinions] == [("issues", "现金支付未附签字"), ("no_issue", None)]
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "audit_opinion")) == 2
    history = text(client.get(path))
    assert "现金支付未附签字" in history and "已被取代" in history
    accountant = app.test_client()
    login(accountant, "acc_a")
    page = text(accountant.get(f"/e/{A}/"))
    assert 'id="opinion-2025"' in page and "未发现问题" in page
    assert "现金支付未附签字" not in page                  # the superseded opinion is not the one shown
    assert accountant.get(path).status_code == 403


def test_an_auditor_cannot_give_an_opinion_on_another_township(client, world, login, post_form, session):
    login(client, "aud_b")
    response = post_form(client, "/oversight/opinions", {"entity": A, "year": "2025", "verdict": "no_issue"})
    assert response.status_code == 422
    assert session.scalar(select(func.count()).select_from(AuditOpinion)) == 0


# ------------------------------------------------------------------------------------------- anomalies


def test_the_anomalies_page_explains_each_finding_and_links_its_record(client, world, login, monkeypatch):
    """The page's own work, with one finding made by hand: rule title and explanation, the message with
    its figures, and a link to the record behind it."""
    from payouts.oversight import anomalies

    rule = next(iter(anomalies.RULES.values()))
    finding = anomalies.Finding(rule=rule.code, entity_id=1, entity_code=A, entity_name=world.a_name, year=2025,
                                message=rule.title, params={},
                                links=(anomalies.Link(rule.title, "entities.member",
                                                      {"code": A, "member_code": "A-H001"}),))
    monkeypatch.setattr("payouts.oversight.web.find_anomalies", lambda *a, **k: [finding])
    login(client, "aud_a")
    page = text(client.get("/oversight/anomalies?year=2025"))
    assert f'href="/e/{A}/members/A-H001"' in page
    assert f'id="rule-{rule.code}"' in page
    assert client.get(f"/e/{A}/members/A-H001").status_code == 200


@pytest.mark.parametrize("name, page, table_id", [
    ("overview", "/oversight/?year=2025", "overview"),
    ("linkage", "/oversight/linkage?year=2025", "linkage"),
    ("runs", "/oversight/runs?year=2025", "runs"),
])
def test_each_xlsx_total_equals_the_pages_total(client, world, login, wx, name, page, table_id):
    from payouts.oversight import linkage, overview, review

    columns = {"overview": overview.COLUMNS, "linkage": linkage.LINKAGE_COLUMNS, "runs": review.COLUMNS}[name]
    login(client, "aud_wx")
    rows, totals = overview_cells(text(client.get(page)), table_id)
    assert rows and totals
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"/oversight/export/{name}.xlsx?year=2025").data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) - 4 == len(rows)                      # title, subtitle, header, rows, totals
    last = values[-1]
    compared = 0
    for i, column in enumerate(columns):
        if column.kind in ("money", "int") and totals.get(column.key):
            assert Decimal(str(last[i])).quantize(Decimal("0.01")) == amount(totals[column.key]), column.key
            compared += 1
    assert compared >= 2
