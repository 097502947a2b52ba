"""Acting on the township's findings (issue 16): each finding links the record it is about and says what to do;
the auditor of the township and the entity's accountant mark it handled with a note (who, when, what was done),
kept append-only and shown to both; the pages open on an explicit year that a stray record of next year does not
move; the run review's total counts only the runs in force."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError
from test_oversight import amount, entity, overview_cells, text, wx  # noqa: F401  (wx: a fixture)

from cooperatives.access import CONSOLE, Forbidden, Principal
from cooperatives.forms import parse_form
from cooperatives.models import AuditLog
from cooperatives.operations import record
from payouts.models import FindingNote, PayoutRun
from payouts.oversight import anomalies
from payouts.oversight.handling import NoteRefused, mark_handled
from payouts.oversight.overview import default_year
from payouts.runs.operations import approve_run, create_run, post_run, reverse_run

A, B = "TA-COOP", "TB-COOP"


@pytest.fixture
def one_finding(world, session, monkeypatch):
    """The pages show one finding of entity A (a cash payment in 2025), made by hand: the pages' own work."""
    a = entity(session, A)
    rule = anomalies.RULES["large_cash_payment"]
    finding = anomalies.Finding(
        rule=rule.code, entity_id=a.id, entity_code=A, entity_name=world.a_name, year=2025,
        message=anomalies.MESSAGES["cash_payment"],
        params={"household": "A-H001", "amount": "6,000.00", "date": "2025-12-02", "threshold": "5,000.00"},
        links=(anomalies.Link(anomalies.LINK_VOUCHER, "reports.vouchers_pdf", {"code": A, "voucher": "2025-0007"},
                              {"voucher": "2025-0007"}),
               anomalies.Link(anomalies.LINK_MEMBER, "entities.member", {"code": A, "member_code": "A-H001"})),
        record="payments:7")

    def find(session_, *, township_id, year=None, entity_id=None, **_kwargs):
        if township_id != a.township_id or year not in (None, 2025) or entity_id not in (None, a.id):
            return []
        return [finding]

    monkeypatch.setattr("payouts.oversight.web.find_anomalies", find)
    return finding


def notes(session) -> list[tuple[str, str]]:
    return [(n.finding_key, n.note) for n in session.scalars(select(FindingNote).order_by(FindingNote.id))]


# ------------------------------------------------------------------------------------- link, what to do


def test_a_finding_links_its_record_and_says_what_to_do(client, login, one_finding):
    login(client, "aud_a")
    client.set_cookie("lang", "en")
    page = text(client.get("/oversight/anomalies?year=2025"))
    item = page.split(f'data-key="{one_finding.key}"', 1)[1].split("</li>", 1)[0]
    assert f'href="/e/{A}/reports/vouchers.pdf?voucher=2025-0007"' in item           # the payment's own voucher
    assert "Voucher 2025-0007" in item
    assert f'href="/e/{A}/records/payments"' not in item                     # not the whole list
    assert "What to do" in item and "signed receipt" in item                 # the rule's next step
    assert one_finding.key == f"large_cash_payment:{A}:2025:payments:7"


def test_every_rule_says_what_to_do():
    assert all(r.action and r.action != r.explanation for r in anomalies.RULES.values())
    assert "%" not in "".join(r.action for r in anomalies.RULES.values())     # safe for gettext %-formatting


# ----------------------------------------------------------------------------------------- handled


def test_the_auditor_marks_a_finding_handled_and_the_accountant_sees_it(app, client, login, post_form, session,
                                                                       one_finding):
    login(client, "aud_a")
    client.set_cookie("lang", "en")
    page = "/oversight/anomalies?year=2025"
    response = post_form(client, "/oversight/anomalies/handled",
                         {"key": one_finding.key, "entity": A, "note": "已补签收单，今后转账支付", "year": "2025",
                          "show": "all"}, token_path=page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/oversight/anomalies?year=2025&show=all#f-large_cash_payment")
    assert notes(session) == [(one_finding.key, "已补签收单，今后转账支付")]
    note = session.scalar(select(FindingNote))
    assert note.actor_id is not None and note.rule == "large_cash_payment" and note.year == 2025
    logged = session.scalar(select(AuditLog).where(AuditLog.action == "finding_handled"))
    assert logged.target == f"finding:{one_finding.key}" and logged.entity_id == note.entity_id

    hidden = text(client.get(page))                                  # by default: only what is not handled yet
    assert f'data-key="{one_finding.key}"' not in hidden and "1 of them handled" in hidden
    shown = text(client.get(page + "&show=all"))
    item = shown.split(f'data-key="{one_finding.key}"', 1)[1].split("</li>", 1)[0]
    assert "Handled" in item and "已补签收单，今后转账支付" in item and "by 用户aud_a" in item       # what, who
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", item)                      # when (China time)
    assert f'data-key="{one_finding.key}"' in text(client.get(page + "&show=handled"))

    accountant = app.test_client()
    login(accountant, "acc_a")
    accountant.set_cookie("lang", "en")
    own = f"/e/{A}/findings?year=2025&show=all"
    seen = text(accountant.get(own))
    assert "已补签收单，今后转账支付" in seen and 'name="note"' in seen
    response = post_form(accountant, f"/e/{A}/findings/handled",
                         {"key": one_finding.key, "note": "签收单已归档", "year": "2025", "show": "all"}, token_path=own)
    assert response.status_code == 302 and response.headers["Location"].startswith(f"/e/{A}/findings?year=2025")
    assert [n for _, n in notes(session)] == ["已补签收单，今后转账支付", "签收单已归档"]
    again = text(client.get(page + "&show=all"))                      # the auditor sees the accountant's note first
    item = again.split(f'data-key="{one_finding.key}"', 1)[1].split("</li>", 1)[0]
    assert item.index("签收单已归档") < item.index("已补签收单")
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "finding_handled")) == 2


def test_only_the_townships_auditor_and_the_entitys_accountant_may_mark_it(app, client, login, post_form, session,
                                                                          one_finding):
    data = {"key": one_finding.key, "entity": A, "note": "x"}
    login(client, "aud_b")                                             # another township's auditor
    assert post_form(client, "/oversight/anomalies/handled", data, token_path="/oversight/").status_code == 404
    other = app.test_client()
    login(other, "acc_b")                                              # another entity's accountant
    assert post_form(other, f"/e/{A}/findings/handled", data, token_path=f"/e/{B}/").status_code == 404
    assert other.get(f"/e/{A}/findings").status_code == 404
    admin = app.test_client()
    login(admin, "admin")
    assert post_form(admin, "/oversight/anomalies/handled", data, token_path="/oversight/").status_code == 403
    assert post_form(admin, f"/e/{A}/findings/handled", data, token_path=f"/e/{A}/").status_code == 403
    member = app.test_client()
    login(member, "mem_a")
    assert member.get(f"/e/{A}/findings").status_code == 403
    auditor = app.test_client()
    login(auditor, "aud_a")                                            # the auditor writes on the township's page
    assert post_form(auditor, f"/e/{A}/findings/handled", data, token_path="/oversight/").status_code == 403
    assert auditor.get(f"/e/{A}/findings").status_code == 200         # and reads the entity's
    assert notes(session) == []
    a, b = entity(session, A), entity(session, B)
    for who in (Principal("auditor", user_id=1, township_id=b.township_id),
                Principal("accountant", user_id=1, entity_id=b.id), Principal("member", user_id=1, household_id=1)):
        with pytest.raises(Forbidden):
            mark_handled(session, a, key=one_finding.key, note="x", actor=who)
    assert mark_handled(session, a, key=one_finding.key, note="查实",
                        actor=Principal("accountant", user_id=None, entity_id=a.id)).id


def test_a_note_needs_words_and_a_key_of_the_entitys_findings(client, login, post_form, session, one_finding):
    a = entity(session, A)
    for key, note in ((one_finding.key, "  "), (one_finding.key, "x" * 2001), ("large_cash_payment:TB-COOP:2025:x", "x"),
                      ("no_such_rule:TA-COOP:2025:x", "x"), ("large_cash_payment:TA-COOP:20x5:x", "x")):
        with pytest.raises(NoteRefused):
            mark_handled(session, a, key=key, note=note, actor=CONSOLE)
    login(client, "aud_a")
    client.set_cookie("lang", "en")
    response = post_form(client, "/oversight/anomalies/handled", {"key": one_finding.key, "entity": A, "note": ""},
                         token_path="/oversight/anomalies")
    assert response.status_code == 302
    assert "Say what was done about the finding." in text(client.get(response.headers["Location"]))
    assert notes(session) == []


def test_notes_are_append_only(session, one_finding):
    mark_handled(session, entity(session, A), key=one_finding.key, note="已处理", actor=CONSOLE)
    session.commit()
    for statement in ("UPDATE oversight_finding_notes SET note = 'changed'", "DELETE FROM oversight_finding_notes"):
        with pytest.raises(DBAPIError, match="append-only"):
            with session.begin_nested():
                session.execute(sql(statement))
    assert notes(session) == [(one_finding.key, "已处理")]


def test_the_export_carries_what_to_do_and_the_handling(client, login, post_form, session, one_finding):
    mark_handled(session, entity(session, A), key=one_finding.key, note="已转账补付", actor=CONSOLE)
    session.commit()
    login(client, "aud_a")
    client.set_cookie("lang", "en")
    body = client.get("/oversight/export/anomalies.csv?year=2025").data.decode("utf-8-sig")
    assert "What to do" in body and "已转账补付" in body and "signed receipt" in body


# ------------------------------------------------------------------------------------------- the year


def test_a_stray_record_of_next_year_does_not_move_the_default_year(client, login, session, wx):  # noqa: F811
    w = entity(session, "WX")
    assert default_year(session, w.township_id, today=dt.date(2026, 12, 7)) == 2025     # the posted run's year
    values, problems = parse_form("sales", {"date": "2027-01-05", "buyer": "误录", "product": "茶", "amount": "10.00"})
    assert not problems, problems
    record(session, w, "sales", values, actor=CONSOLE)
    session.commit()
    assert default_year(session, w.township_id, today=dt.date(2026, 12, 7)) == 2025
    login(client, "aud_wx")
    for path in ("/oversight/", "/oversight/anomalies", "/oversight/linkage"):
        page = text(client.get(path))
        assert '<option value="2025" selected>' in page, path                 # the default, chosen explicitly
        assert '<option value="2027">' in page, path                          # the stray year can still be picked
    assert '<option value="2027" selected>' in text(client.get("/oversight/?year=2027"))
    assert '<option value="all" selected>' in text(client.get("/oversight/anomalies?year=all"))


def test_without_a_posted_run_the_default_is_last_year_by_chinas_calendar(session, world):
    a = entity(session, A)
    assert default_year(session, a.township_id, today=dt.date(2026, 12, 7)) == 2025
    assert default_year(session, a.township_id, today=dt.date(2027, 1, 1)) == 2026


# ------------------------------------------------------------------------------------------- run totals


def test_the_run_reviews_total_counts_only_the_runs_in_force(client, login, session, wx):  # noqa: F811
    first = session.get(PayoutRun, wx)
    w = first.entity
    reverse_run(session, first, actor=CONSOLE)
    second = create_run(session, w, 2025, policy_version=first.policy, actor=CONSOLE)
    approve_run(session, second, meeting_date=dt.date(2026, 3, 20), attended=3, votes_for=3, actor=CONSOLE)
    post_run(session, second, actor=CONSOLE)
    create_run(session, w, 2025, policy_version=first.policy, replaces=second.id, actor=CONSOLE)      # a draft
    session.commit()
    login(client, "aud_wx")
    client.set_cookie("lang", "en")
    page = text(client.get("/oversight/runs?year=2025"))
    rows, totals = overview_cells(page, "runs")
    assert len(rows) >= 3 and {r["status"] for r in rows} >= {"reversed", "draft"}
    assert amount(totals["distributable"]) == second.distributable != sum(amount(r["distributable"]) for r in rows)
    assert "Total of the runs in force" in page
    sheet = client.get("/oversight/export/runs.csv?year=2025").data.decode("utf-8-sig").splitlines()
    assert sheet[-1].lstrip("\"").startswith("Total of the runs in force") and str(second.distributable) in sheet[-1]
    assert Decimal(str(second.distributable)) > 0


def test_the_notes_triggers_are_the_migrations_and_call_the_oversight_function():
    """The append-only guard created by ``create_all`` is the one migration 0022 creates, and on PostgreSQL it
    calls the very function ``payouts.ddl`` keeps for the other oversight tables."""
    import importlib.util
    import pathlib

    from payouts import ddl as root_ddl
    from payouts.oversight import ddl

    path = next((pathlib.Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("*_0022_*.py"))
    spec = importlib.util.spec_from_file_location("m0022", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert [s.strip() for s in ddl.SQLITE] == [s.strip() for s in migration.SQLITE_TRIGGERS]
    assert [s.strip() for s in ddl.POSTGRESQL] == [s.strip() for s in migration.POSTGRESQL_TRIGGERS]
    assert ddl._REFUSE == root_ddl._REFUSE


# ----------------------------------------------------------------------- the accountant's side (review)


def test_an_accountants_note_answers_a_finding_but_only_the_auditor_closes_it(app, client, login, post_form,
                                                                             one_finding):
    accountant = app.test_client()
    login(accountant, "acc_a")
    accountant.set_cookie("lang", "en")
    response = post_form(accountant, f"/e/{A}/findings/handled",
                         {"key": one_finding.key, "note": "ok", "year": "2025"}, token_path=f"/e/{A}/findings?year=2025")
    assert response.status_code == 302
    login(client, "aud_a")
    client.set_cookie("lang", "en")
    page = "/oversight/anomalies?year=2025"
    still_open = text(client.get(page))              # the auditor's default view still lists it, answered
    assert f'data-key="{one_finding.key}"' in still_open and "the auditor has not closed it yet" in still_open
    assert post_form(client, "/oversight/anomalies/handled", {"key": one_finding.key, "entity": A, "year": "2025",
                                                             "note": "凭证已补签字"}, token_path=page).status_code == 302
    assert f'data-key="{one_finding.key}"' not in text(client.get(page))


def test_the_accountant_reads_no_finding_that_names_other_entities_households(app, login, world, session,
                                                                              monkeypatch):
    a = entity(session, A)
    shared = anomalies.Finding(
        rule="shared_bank_account", entity_id=a.id, entity_code=A, entity_name=world.a_name, year=None,
        message=anomalies.MESSAGES["bank"], params={"account": "6217****0001", "count": "2", "households": "A-H001 王, B-H009 别家"},
        record="households:A-H001,B-H009")
    monkeypatch.setattr("payouts.oversight.web.find_anomalies", lambda *args, **kwargs: [shared])
    accountant = app.test_client()
    login(accountant, "acc_a")
    assert "B-H009" not in text(accountant.get(f"/e/{A}/findings?year=all"))
    auditor = app.test_client()
    login(auditor, "aud_a")
    assert "B-H009" in text(auditor.get(f"/e/{A}/findings?year=all"))          # the township's auditor follows it up
