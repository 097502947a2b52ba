"""Tenants kept apart on every path (issue 12, findings 1–3), through the real page, API, workbook and CLI.

1. A cluster project's accountant cannot write into another entity's ledger: a members sheet may name only
   entities linked to the project (by the township's auditor or the admin) — never one of another township,
   nor an unlinked one — and a run posts into a member entity's book only along a link.
2. No import, page or API enrols a household of another township.
3. A household another entity of the township registered is enrolled only with its ID number as recorded
   there; then the enrolling entity reveals only what it recorded itself, and cannot set the household's
   PIN nor change its size.

Each refusal leaves nothing written: households, members, journal entries and audit rows are counted.
"""

from __future__ import annotations

import datetime as dt
import html

import pytest
from samples import xlsx_bytes
from sqlalchemy import func, select

from cooperatives.access import CONSOLE, Principal
from cooperatives.models import AuditLog, Entity, EntityLink, Household, InvestmentIncome, Member, User
from cooperatives.operations import create_entity, link_member_entity
from cooperatives.users import create_user
from ledger.models import JournalEntry
from ledger.money import D

A, B = "TA-COOP", "TB-COOP"
A2, PROJECT = "TA-TWO", "TA-PROJ"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def counts(session) -> tuple:
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Household, Member, JournalEntry,
                                                                               AuditLog, EntityLink))


@pytest.fixture
def township(world, session, password_hash):
    """Beside the world's A (甲乡) and B (乙镇): A2, a second cooperative of 甲乡, and PROJECT, a cluster project
    of 甲乡 with A linked to it; their accountants ``acc_a2`` and ``acc_p``."""
    a2 = create_entity(session, code=A2, name="甲乡第二社", kind="farmer_coop", township="甲乡", first_year=2025,
                       actor=CONSOLE)
    project = create_entity(session, code=PROJECT, name="甲乡联建项目", kind="cluster_project", township="甲乡",
                            first_year=2025, actor=CONSOLE)
    a = session.scalar(select(Entity).where(Entity.code == A))
    link_member_entity(session, project, a, actor=CONSOLE)
    for username, entity in (("acc_a2", a2), ("acc_p", project)):
        create_user(session, username=username, password=world.password, role="accountant", entity_id=entity.id, actor=CONSOLE)
    session.commit()
    return world


def upload(client, csrf, code: str, sheets: dict):
    """Upload through the page as the signed-in user; the job's page (the job has run: conftest)."""
    token = csrf(client, f"/e/{code}/import")
    response = client.post(f"/e/{code}/import", data={"workbook": (xlsx_bytes(sheets), "book.xlsx"),
                                                     "csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 302, text(response)
    return client.get(response.headers["Location"])


def api_import(client, headers, code: str, sheets: dict) -> dict:
    accepted = client.post(f"/api/v1/entities/{code}/imports", headers=headers,
                           data={"workbook": (xlsx_bytes(sheets), "book.xlsx")}, content_type="multipart/form-data")
    assert accepted.status_code == 202, accepted.get_json()
    return client.get(accepted.headers["Location"], headers=headers).get_json()


# ---------------------------------------------------------------- 1. a cluster project writes into no other book


FOREIGN_MEMBER = {"members": [["member", "member_no", "joined_on"], [B, 2, "2025-01-01"]]}
UNLINKED_MEMBER = {"members": [["member", "member_no", "joined_on"], [A2, 3, "2025-01-01"]]}
LINKED_MEMBER = {"members": [["member", "member_no", "joined_on"], [A, 1, "2025-01-01"]]}


@pytest.mark.parametrize("sheets, named", [(FOREIGN_MEMBER, B), (UNLINKED_MEMBER, A2)])
def test_a_projects_members_sheet_may_name_only_its_linked_entities(client, township, login, csrf, token, session,
                                                                    sheets, named):
    login(client, "acc_p")
    client.get("/lang/en")
    before = counts(session)
    page = upload(client, csrf, PROJECT, sheets)
    assert f"members:2:member: {named} is neither a household" in text(page) and "Nothing was imported" in text(page)
    job = api_import(client, token("acc_p"), PROJECT, sheets)
    assert job["status"] == "failed" and any(named in line for line in job["errors"]["workbook"])
    after = counts(session)
    assert after[:3] == before[:3] and after[4] == before[4]      # no household, member, entry or link
    assert session.scalar(select(func.count(Member.id)).where(Member.code == named)) == 0
    linked = api_import(client, token("acc_p"), PROJECT, LINKED_MEMBER)
    assert linked["status"] == "done", linked        # the entity the township linked is a member


def test_the_console_links_only_entities_of_the_projects_township(cli, township, session, tmp_path):
    path = tmp_path / "p.xlsx"
    path.write_bytes(xlsx_bytes({**FOREIGN_MEMBER, "entity": [["code", "name", "kind", "township"],
                                                           [PROJECT, "甲乡联建项目", "cluster_project", "甲乡"]]}).read())
    before = counts(session)
    refused = cli("import", str(path))
    assert refused.exit_code == 1 and f"{B} is neither a household" in refused.stderr
    assert counts(session) == before
    path.write_bytes(xlsx_bytes({**UNLINKED_MEMBER, "entity": [["code", "name", "kind", "township"],
                                                            [PROJECT, "甲乡联建项目", "cluster_project", "甲乡"]]}).read())
    assert cli("import", str(path)).exit_code == 0           # the admin at the console links a 甲乡 entity
    session.expire_all()
    project = session.scalar(select(Entity).where(Entity.code == PROJECT))
    assert session.scalar(select(func.count(EntityLink.id)).where(EntityLink.project_id == project.id)) == 2


def approved_project_run(session, project, members: tuple[str, ...], unlinked: tuple[str, ...] = ()):
    """Capital from each member entity and a sale in 2025, a policy sharing all by capital, and the year's
    run drafted and approved by the project's accountant; (run, the accountant's principal). Commits. The
    capital of an ``unlinked`` member is refused (it would be 长期投资 in that entity's books, INTERFACES §3.2):
    it is written into the project's records as a legacy row would have been, without its entries."""
    from cooperatives.forms import parse_form
    from cooperatives.models import CapitalContribution
    from cooperatives.operations import RecordError, find_member, record
    from payouts.runs.operations import approve_run, create_run, save_policy
    from payouts.runs.policy import parse_policy

    for code in members:
        values, _ = parse_form("capital", {"date": "2025-01-02", "member": code, "amount": "1000"})
        if code not in unlinked:
            record(session, project, "capital", values, actor=CONSOLE)
            continue
        with pytest.raises(RecordError) as refused:
            record(session, project, "capital", values, actor=CONSOLE)
        assert refused.value.problems[0].code == "not_linked"
        session.add(CapitalContribution(entity_id=project.id, member_id=find_member(session, project, code).id,
                                        date=dt.date(2025, 1, 2), amount=D("1000.00"), form="cash"))
        session.flush()
    values, _ = parse_form("sales", {"date": "2025-08-01", "buyer": "果商", "product": "葡萄", "amount": "10000"})
    record(session, project, "sales", values, actor=CONSOLE)
    accountant = Principal.of_user(session.scalar(select(User).where(User.username == "acc_p")))
    version = save_policy(session, project, parse_policy({"reserve_pct": "0", "reserve_quantify": "none",
                                                          "deduct": [], "pools": [{"name": "shares", "pct": "100",
                                                                                  "basis": "capital"}]}),
                          actor=accountant)
    run = create_run(session, project, 2025, policy_version=version, actor=accountant)
    approve_run(session, run, meeting_date=dt.date(2026, 1, 5), attended=len(members), votes_for=len(members),
                actor=accountant)
    session.commit()
    return run, accountant


def test_a_run_posts_into_no_book_its_project_is_not_linked_to(client, township, session, cli):
    """Even a membership that got in before the rule (a legacy row naming another township's entity) cannot
    make the project's run write into that entity's book: posting is refused, nothing is written anywhere."""
    from cooperatives.operations import register_member
    from payouts.runs.operations import RunRefused, post_run

    project = session.scalar(select(Entity).where(Entity.code == PROJECT))
    b = session.scalar(select(Entity).where(Entity.code == B))
    register_member(session, project, code=A, member_no=1, joined_on=dt.date(2025, 1, 1), actor=CONSOLE)
    session.add(Member(entity_id=project.id, code=B, member_no=2, joined_on=dt.date(2025, 1, 1),
                       member_entity_id=b.id))                   # as the import used to let in
    session.flush()
    from ledger.operations import ensure_parties

    ensure_parties(session, project.book, {B: b.name})
    run, accountant = approved_project_run(session, project, (A, B), unlinked=(B,))
    b_entries = session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.book_id == b.book_id))
    with pytest.raises(RunRefused) as refused:
        post_run(session, run, actor=accountant)
    assert refused.value.problems[0].code == "not_linked" and B in str(refused.value)
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.book_id == b.book_id)) == b_entries
    assert session.scalar(select(func.count(InvestmentIncome.id)).where(InvestmentIncome.entity_id == b.id)) == 0
    assert cli("verify").exit_code == 0


# ------------------------------------------------------------------- 2. no household of another township


def registration(code: str, number: int, id_number: str | None = None, **more) -> dict:
    form = {"code": code, "head_name": "冒名", "village": "茶园村", "member_no": str(number),
            "joined_on": "2025-02-01", "farmer": "yes", "bank_account": "6217999900001115"}
    if id_number:
        form["id_number"] = id_number
    return {**form, **more}


def as_json(form: dict) -> dict:
    """The registration as an API body: numbers as numbers."""
    return {**form, "member_no": int(form["member_no"])}


def test_no_channel_enrols_a_household_of_another_township(client, township, login, post_form, token, session, cli,
                                                           tmp_path):
    number = township.id_numbers["B-H001"]          # even with its right ID number
    before = counts(session)
    login(client, "acc_a")
    client.get("/lang/en")
    page = post_form(client, f"/e/{A}/members", registration("B-H001", 9, number))
    assert page.status_code == 422 and "already used in another township" in text(page)
    api = client.post(f"/api/v1/entities/{A}/members", json=as_json(registration("B-H001", 9, number)),
                      headers=token("acc_a"))
    assert api.status_code == 422 and "already used in another township" in api.get_json()["errors"]["code"][0]
    sheets = {"households": [["code", "head_name", "village", "id_number"], ["B-H001", "冒名", "茶园村", number]],
              "members": [["member", "member_no", "joined_on"], ["B-H001", 9, "2025-02-01"]]}
    job = api_import(client, token("acc_a"), A, sheets)
    assert job["status"] == "failed" and any("households:2:code" in line and "another township" in line
                                             for line in job["errors"]["workbook"])
    only_members = {"members": [["member", "member_no", "joined_on"], ["B-H001", 9, "2025-02-01"]]}
    job = api_import(client, token("acc_a"), A, only_members)
    assert job["status"] == "failed" and "another township" in job["errors"]["workbook"][0]
    path = tmp_path / "b.xlsx"                        # not even the console enrols it into another township
    path.write_bytes(xlsx_bytes(sheets).read())
    refused = cli("import", str(path), "--entity", A)
    assert refused.exit_code == 1 and "another township" in refused.stderr
    after = counts(session)
    assert after[:3] == before[:3]
    assert session.scalar(select(func.count(Member.id)).where(Member.code == "B-H001")) == 1     # B's own only


# ------------------------------------------------ 3. another entity's household: by its ID number, secrets kept


def test_a_household_of_another_entity_needs_its_id_number_on_every_channel(client, township, login, post_form,
                                                                             token, session):
    right, wrong = township.id_numbers["A-H001"], township.id_numbers["A-H002"]
    before = counts(session)
    login(client, "acc_a2")
    client.get("/lang/en")
    for typed in (None, wrong):
        page = post_form(client, f"/e/{A2}/members", registration("A-H001", 1, typed))
        assert page.status_code == 422 and "type its ID number" in text(page)
        api = client.post(f"/api/v1/entities/{A2}/members", json=as_json(registration("A-H001", 1, typed)),
                          headers=token("acc_a2"))
        assert api.status_code == 422 and "type its ID number" in api.get_json()["errors"]["id_number"][0]
        row = ["A-H001", "冒名", "茶园村"] + ([typed] if typed else [""])
        job = api_import(client, token("acc_a2"), A2, {
            "households": [["code", "head_name", "village", "id_number"], row],
            "members": [["member", "member_no", "joined_on"], ["A-H001", 1, "2025-02-01"]]})
        assert job["status"] == "failed" and any("type its ID number" in line for line in job["errors"]["workbook"])
    job = api_import(client, token("acc_a2"), A2, {"members": [["member", "member_no", "joined_on"],
                                                              ["A-H002", 2, "2025-02-01"]]})
    assert job["status"] == "failed" and "type its ID number" in job["errors"]["workbook"][0]
    assert counts(session)[:3] == before[:3]
    # with the number as recorded: enrolled by the page, the household is shared, not copied
    done = post_form(client, f"/e/{A2}/members", registration("A-H001", 1, right, bank_account="6228480000000007"))
    assert done.status_code == 302
    session.expire_all()
    assert session.scalar(select(func.count(Household.id)).where(Household.code == "A-H001")) == 1
    enrolled = api_import(client, token("acc_a2"), A2, {
        "households": [["code", "head_name", "village", "id_number"], ["A-H002", "李秀英", "茶园村", wrong]],
        "members": [["member", "member_no", "joined_on"], ["A-H002", 2, "2025-02-01"]]})
    assert enrolled["status"] == "done", enrolled


def test_the_enrolling_entity_reveals_only_what_it_recorded_and_keeps_no_pin_or_size(client, township, login,
                                                                                     post_form, csrf, session):
    right = township.id_numbers["A-H001"]
    login(client, "acc_a2")
    assert post_form(client, f"/e/{A2}/members",
                     registration("A-H001", 1, right, bank_account="6228480000000007")).status_code == 302
    revealed = post_form(client, f"/e/{A2}/members/A-H001/reveal", {"reason": "代发2025年收益"},
                         token_path=f"/e/{A2}/members/A-H001")
    page = text(revealed)
    assert revealed.status_code == 200 and right in page and "6228480000000007" in page
    assert "62179900000000" not in page                 # A's bank account for the household stays A's
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).all()[-1]
    assert audit.entity_id == session.scalar(select(Entity.id).where(Entity.code == A2))
    refused = post_form(client, f"/e/{A2}/households/A-H001/pin", {}, token_path=f"/e/{A2}/members/A-H001")
    assert refused.status_code == 403                   # the PIN is the registering entity's (A's) to give
    session.expire_all()
    assert session.scalar(select(Household.pin_hash).where(Household.code == "A-H001")) is None
    before = counts(session)
    client.get("/lang/en")
    job_page = upload(client, csrf, A2, {
        "members": [["member", "member_no", "joined_on", "persons"], ["A-H001", 1, "2025-02-01", 9]]})
    assert "The size of household A-H001 is kept by the entity that registered it" in text(job_page)
    assert counts(session)[:3] == before[:3]
    session.expire_all()
    assert session.scalar(select(Household.persons).where(Household.code == "A-H001")) is None


def test_the_township_links_a_member_entity_and_the_projects_accountant_cannot(client, township, login, post_form,
                                                                               session):
    """The township's auditor links an entity of the township on the project's oversight page; an entity of
    another township is out of reach (404), and the project's accountant has no such page (403)."""
    project = session.scalar(select(Entity).where(Entity.code == PROJECT))
    login(client, "aud_a")
    page = client.get(f"/oversight/e/{PROJECT}")
    assert page.status_code == 200 and A2 in text(page)            # linkable: an entity of 甲乡
    linked = post_form(client, "/oversight/links", {"project": PROJECT, "member": A2}, token_path=f"/oversight/e/{PROJECT}")
    assert linked.status_code == 302
    foreign = post_form(client, "/oversight/links", {"project": PROJECT, "member": B}, token_path=f"/oversight/e/{PROJECT}")
    assert foreign.status_code == 404
    session.expire_all()
    members = set(session.scalars(select(Entity.code).join(EntityLink, EntityLink.member_entity_id == Entity.id)
                                  .where(EntityLink.project_id == project.id)))
    assert members == {A, A2}
    accountant = client.__class__(client.application)
    login(accountant, "acc_p")
    assert post_form(accountant, "/oversight/links", {"project": PROJECT, "member": A2},
                     token_path=f"/e/{PROJECT}/").status_code == 403
    link = session.scalars(select(AuditLog).where(AuditLog.action == "link")).all()[-1]
    assert link.entity_id == project.id and link.actor_id == session.scalar(select(User.id).where(User.username == "aud_a"))


def test_verify_names_an_entry_written_into_another_entitys_book(cli, township, session):
    """Defence in depth: should an entry ever reach a book past the rules (as the import and the run once
    let a project's accountant write into another township's book), ``coopledger verify`` names it, though
    its hash chain is intact; a project's share booked along a link is not named."""
    from ledger.entries import EntryDraft, PostingDraft
    from ledger.operations import post_entries

    assert cli("verify").exit_code == 0
    b = session.scalar(select(Entity).where(Entity.code == B))
    intruder = session.scalar(select(User).where(User.username == "acc_p"))
    post_entries(session, b.book, [EntryDraft(date=dt.date(2025, 12, 31), memo="投资收益", source="income:forged",
                                              postings=(PostingDraft("113", D("10.00")), PostingDraft("511", D("-10.00"))))],
                 actor_id=intruder.id)
    session.commit()
    refused = cli("verify")
    assert refused.exit_code == 1
    assert f"DIFFERENCE {B}: entry" in refused.stderr and "written by acc_p" in refused.stderr
    assert cli("verify", "--entity", A).exit_code == 0


def test_a_projects_share_booked_and_reversed_along_a_link_verifies(cli, township, session):
    """The project's accountant posting and reversing a run writes the member entity's share into its book,
    along the link: the books verify clean, the share is in the member's book, and its reversal too."""
    from cooperatives.operations import register_member
    from payouts.runs.operations import post_run, reverse_run

    project = session.scalar(select(Entity).where(Entity.code == PROJECT))
    a = session.scalar(select(Entity).where(Entity.code == A))
    register_member(session, project, code=A, member_no=1, joined_on=dt.date(2025, 1, 1), actor=CONSOLE)
    run, accountant = approved_project_run(session, project, (A,))
    post_run(session, run, actor=accountant)
    session.commit()
    a_id = a.id
    income = session.scalar(select(InvestmentIncome).where(InvestmentIncome.entity_id == a.id,
                                                           InvestmentIncome.source_ref == f"run:{run.id}"))
    assert income is not None and income.amount == D("10000.00")
    run_id = run.id
    assert cli("verify").exit_code == 0           # (the command closes the test's session: load the run again)
    from payouts.models import PayoutRun

    reverse_run(session, session.get(PayoutRun, run_id), actor=accountant)
    session.commit()
    reversals = session.scalar(select(func.count(JournalEntry.id)).where(
        JournalEntry.book_id == session.get(Entity, a_id).book_id, JournalEntry.source.like("run:%:reverses:%")))
    assert reversals == 1 and cli("verify").exit_code == 0
