"""Setting up from nothing in the web (issue 16): the admin creates a township, its village, a cooperative and
its accountant on pages; the accountant signs in and lands on the entity's home, whose import page is ready.

Every write is one guarded operation of the domain (cooperatives.tenants, cooperatives.users,
cooperatives.operations.link_member_entity), in the audit log; a non-admin is refused every admin page and
form (403); duplicates (township, entity code, username in any case) are refused with a message in the form.
"""

from __future__ import annotations

import datetime as dt
import html

import pytest
from sqlalchemy import func, select
from web.conftest import PASSWORD, _csrf_token, _login

from cooperatives.access import CONSOLE, Forbidden, Principal
from cooperatives.models import AuditLog, Entity, EntityLink, Township, User, Village
from cooperatives.operations import RecordError

ADMIN_ENDPOINTS = {"admin.home", "admin.townships", "admin.villages", "admin.entities", "admin.entity", "admin.links",
                   "auth.users", "auth.new_user", "auth.set_active", "auth.reset_user_password"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, data: dict, *, token_path: str | None = None):
    token = _csrf_token(client.get(token_path or path).data)
    return client.post(path, data={**data, "csrf_token": token})


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def english_client(app):
    client = app.test_client()
    client.get("/lang/en")
    return client


# ------------------------------------------------------------------------------------------- the walk


def test_an_admin_sets_up_a_cooperative_and_its_accountant_from_nothing(app, session, cli):
    assert count(session, Entity) == count(session, Township) == count(session, User) == 0
    made = cli("create-user", "--username", "admin", "--role", "admin", "--password", PASSWORD)
    assert made.exit_code == 0, made.output                 # the first admin: the one command a new server needs
    admin = english_client(app)
    assert _login(admin, "admin").status_code == 302

    home = text(admin.get("/admin/"))
    for path in ("/admin/townships", "/admin/entities", "/users/new", "/admin/links"):
        assert f'href="{path}"' in home, path

    created = post(admin, "/admin/townships", {"name": "  新田乡 "})
    assert created.status_code == 302 and created.headers["Location"] == "/admin/townships"
    township = session.scalar(select(Township).where(Township.name == "新田乡"))
    assert township is not None
    assert "The township 新田乡 is created" in text(admin.get("/admin/townships"))
    created = post(admin, "/admin/villages", {"village-township": str(township.id), "village-name": "茶园村"},
                   token_path="/admin/townships")
    assert created.status_code == 302
    village = session.scalar(select(Village).where(Village.township_id == township.id, Village.name == "茶园村"))
    assert village is not None

    created = post(admin, "/admin/entities", {"code": "XT-TEA", "name": "新田藤茶专业合作社", "kind": "farmer_coop",
                                              "township": str(township.id), "village": str(village.id),
                                              "first_year": "2025"})
    assert created.status_code == 302 and created.headers["Location"] == "/admin/entities/XT-TEA"
    entity = session.scalar(select(Entity).where(Entity.code == "XT-TEA"))
    assert entity.kind == "farmer_coop" and entity.chart == "fpc2021" and entity.books_start == dt.date(2025, 1, 1)
    assert entity.township_id == township.id and entity.village_id == village.id

    landing = text(admin.get("/admin/entities/XT-TEA"))       # the next step: its accountant, then the first import
    assert "新田藤茶专业合作社" in landing and "Assign an accountant" in landing
    assert 'href="/users/new?role=accountant&entity=XT-TEA"' in landing
    assert 'href="/e/XT-TEA/import"' in landing

    form = text(admin.get("/users/new?role=accountant&entity=XT-TEA"))
    assert '<option selected value="accountant">' in form and '<option selected value="XT-TEA">' in form
    created = post(admin, "/users/new", {"username": "XinTian", "display_name": "李会计", "role": "accountant",
                                         "entity": "XT-TEA", "township": "", "household": "",
                                         "password": "tea leaves in spring", "confirm": "tea leaves in spring"})
    assert created.status_code == 302 and created.headers["Location"] == "/admin/entities/XT-TEA"
    user = session.scalar(select(User).where(User.username == "XinTian"))
    assert user.role == "accountant" and user.entity_id == entity.id and user.display_name == "李会计"
    assert "Assign an accountant" not in text(admin.get("/admin/entities/XT-TEA"))

    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    logged = {(row.action, row.actor_id) for row in session.scalars(select(AuditLog))}
    for action in ("create-township", "create-village", "create", "create-user"):
        assert (action, admin_id) in logged, action

    accountant = english_client(app)
    assert _login(accountant, "XINTIAN", "tea leaves in spring").status_code == 302      # any case signs in
    landed = accountant.get("/")
    assert landed.status_code == 302 and landed.headers["Location"] == "/e/XT-TEA/"
    page = accountant.get("/e/XT-TEA/")
    assert page.status_code == 200 and "新田藤茶专业合作社" in text(page)
    importing = accountant.get("/e/XT-TEA/import")              # the first import, on an entity with nothing yet
    assert importing.status_code == 200 and 'type="file"' in text(importing)


def test_a_new_entity_may_be_a_collective_with_the_collective_chart_and_this_years_books(client, world, login,
                                                                                          session):
    login(client, "admin")
    township = session.scalar(select(Township).where(Township.name == "甲乡"))
    created = post(client, "/admin/entities", {"code": "JX-V01", "name": "茶园村股份经济合作联合社",
                                               "kind": "collective", "township": str(township.id), "village": "",
                                               "first_year": ""})
    assert created.status_code == 302
    entity = session.scalar(select(Entity).where(Entity.code == "JX-V01"))
    assert entity.books_start == dt.date(dt.date.today().year, 1, 1)
    assert entity.chart == ("collective2023" if dt.date.today().year >= 2024 else "collective2004")


# ------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("who", ["acc_a", "aud_a", "mem_a"])
def test_a_non_admin_gets_403_on_every_admin_page_and_form(app, client, world, login, session, who):
    admin = app.test_client()
    login(admin, "admin")
    token = _csrf_token(admin.get("/admin/entities").data)
    assert token
    login(client, who)
    target = session.scalar(select(User.id).where(User.username == "acc_b"))
    values = {"code": world.a, "user_id": target}
    before = (count(session, Township), count(session, Village), count(session, Entity), count(session, User),
              count(session, EntityLink))
    own_token = _csrf_token(client.get("/account/password").data)
    checked = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in ADMIN_ENDPOINTS:
            continue
        path = rule.build({arg: values[arg] for arg in rule.arguments}, append_unknown=False)[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            data = {"csrf_token": own_token, "name": "丙镇", "code": "NEW", "kind": "farmer_coop", "username": "x",
                    "role": "admin", "password": "a long passphrase", "confirm": "a long passphrase", "active": "0"}
            response = client.get(path) if method == "GET" else client.post(path, data=data)
            assert response.status_code == 403, (who, method, path, response.status_code)
            checked.add((rule.endpoint, method))
    assert {e for e, _ in checked} == ADMIN_ENDPOINTS
    after = (count(session, Township), count(session, Village), count(session, Entity), count(session, User),
             count(session, EntityLink))
    assert after == before


def test_the_operations_refuse_anyone_but_the_admin_and_the_console(session, world):
    from cooperatives.tenants import add_entity, create_township, create_village
    from cooperatives.users import create_user, set_user_active

    acc = session.scalar(select(User).where(User.username == "acc_a"))
    township = session.scalar(select(Township).where(Township.name == "甲乡"))
    for actor in (Principal.of_user(acc), Principal("auditor", user_id=9, township_id=township.id)):
        with pytest.raises(Forbidden):
            create_township(session, name="丙镇", actor=actor)
        with pytest.raises(Forbidden):
            create_village(session, township, name="新村", actor=actor)
        with pytest.raises(Forbidden):
            add_entity(session, code="Z-1", name="Z", kind="farmer_coop", township=township, actor=actor)
        with pytest.raises(Forbidden):
            create_user(session, username="z", password="a long passphrase", role="admin", actor=actor)
        with pytest.raises(Forbidden):
            set_user_active(session, acc, active=False, actor=actor)
    assert create_township(session, name="丙镇", actor=CONSOLE).name == "丙镇"


def test_duplicates_are_refused_with_a_message_in_the_form(app, world, login, session):
    client = english_client(app)
    login(client, "admin")
    township = session.scalar(select(Township).where(Township.name == "甲乡"))
    before = (count(session, Township), count(session, Village), count(session, Entity), count(session, User))

    refused = post(client, "/admin/townships", {"name": "甲乡"})
    assert refused.status_code == 422 and "甲乡 is there already." in text(refused)
    refused = post(client, "/admin/villages", {"village-township": str(township.id), "village-name": "茶园村"},
                   token_path="/admin/townships")
    assert refused.status_code == 422 and "茶园村 is there already." in text(refused)
    for code in (world.a, world.a.lower()):                  # the entity's code, in any case
        refused = post(client, "/admin/entities", {"code": code, "name": "另一个社", "kind": "farmer_coop",
                                                   "township": str(township.id)})
        assert refused.status_code == 422 and f"The code {code} is taken by another entity." in text(refused)
    for username in ("acc_a", "ACC_A", "Acc_A"):
        refused = post(client, "/users/new", {"username": username, "role": "admin", "password": "a long passphrase",
                                              "confirm": "a long passphrase"})
        page = text(refused)
        assert refused.status_code == 422 and f"The username {username} is taken" in page, username
        assert 'aria-invalid="true"' in page
    assert (count(session, Township), count(session, Village), count(session, Entity), count(session, User)) == before


def test_a_refused_entity_form_names_every_field_and_writes_nothing(app, world, login, session):
    client = english_client(app)
    login(client, "admin")
    before = count(session, Entity)
    refused = post(client, "/admin/entities", {"code": "A B", "name": "", "kind": "", "township": "",
                                               "first_year": "20x5"})
    page = text(refused)
    assert refused.status_code == 422
    assert "Give a name." in page and "Choose the kind of entity." in page and "Choose the township." in page
    assert "Give a year such as" in page
    assert page.count('class="field-error"') >= 4
    refused = post(client, "/admin/entities", {"code": "OK-1", "name": "好", "kind": "farmer_coop",
                                               "township": str(session.scalar(select(Township.id)
                                                                              .where(Township.name == "甲乡"))),
                                               "first_year": "1990"})
    assert refused.status_code == 422 and "The books start in a year from 2000" in text(refused)
    assert count(session, Entity) == before


def test_a_user_form_without_scope_or_with_a_weak_password_is_refused(app, world, login, session):
    client = english_client(app)
    login(client, "admin")
    before = count(session, User)
    refused = post(client, "/users/new", {"username": "new-acc", "role": "accountant", "entity": "",
                                          "password": "a long passphrase", "confirm": "a long passphrase"})
    assert refused.status_code == 422 and "An accountant keeps the books of one entity" in text(refused)
    refused = post(client, "/users/new", {"username": "new-acc", "role": "admin", "password": "short",
                                          "confirm": "short"})
    assert refused.status_code == 422 and "At least 10 characters" in text(refused)
    refused = post(client, "/users/new", {"username": "new-acc", "role": "admin", "password": "a long passphrase",
                                          "confirm": "another passphrase"})
    assert refused.status_code == 422 and "The two passwords differ." in text(refused)
    refused = post(client, "/users/new", {"username": "new-mem", "role": "member", "household": "NO-SUCH",
                                          "password": "a long passphrase", "confirm": "a long passphrase"})
    assert refused.status_code == 422 and "There is no household NO-SUCH." in text(refused)
    assert count(session, User) == before
    made = post(client, "/users/new", {"username": "new-aud", "role": "auditor", "township": str(
        session.scalar(select(Township.id).where(Township.name == "乙镇"))), "password": "a long passphrase",
        "confirm": "a long passphrase"})
    assert made.status_code == 302 and made.headers["Location"] == "/users"
    assert session.scalar(select(User).where(User.username == "new-aud")).township.name == "乙镇"


# ------------------------------------------------------------------------------------------- usernames


def test_usernames_are_the_same_whatever_their_capitals(session, world):
    from cooperatives.users import authenticate, create_user

    create_user(session, username="wang", password=PASSWORD, role="admin", actor=CONSOLE)
    with pytest.raises(RecordError) as refused:
        create_user(session, username="Wang", password=PASSWORD, role="admin", actor=CONSOLE)
    assert refused.value.problems[0].code == "username_taken" and refused.value.field == "username"
    with pytest.raises(RecordError):
        create_user(session, username="ｗａｎｇ ", password=PASSWORD, role="admin", actor=CONSOLE)  # full width
    assert authenticate(session, "WANG", PASSWORD).username == "wang"
    assert authenticate(session, " Wang", PASSWORD).username == "wang"
    assert authenticate(session, "WANG", "wrong password") is None


def test_rows_from_before_that_differ_only_in_case_sign_in_only_as_spelled(session, world):
    """Two users stored before names were compared without case ("Li", "li"): each signs in with its own
    spelling; another spelling matches neither (rather than either one)."""
    from cooperatives.users import authenticate, hash_password

    for name in ("Li", "li"):
        session.add(User(username=name, display_name=name, password_hash=hash_password(PASSWORD), role="admin"))
    session.flush()
    assert authenticate(session, "Li", PASSWORD).username == "Li"
    assert authenticate(session, "li", PASSWORD).username == "li"
    assert authenticate(session, "LI", PASSWORD) is None


def test_signing_in_in_capitals_works_on_the_page(client, world, login):
    assert login(client, "ACC_A").status_code == 302
    assert client.get("/").headers["Location"] == f"/e/{world.a}/"


def test_the_command_line_refuses_a_username_taken_in_another_case(cli, world, session):
    result = cli("create-user", "--username", "ADMIN", "--role", "admin", "--password", PASSWORD)
    assert result.exit_code != 0 and "is taken" in result.output
    result = cli("create-user", "--username", "kuaiji-2", "--role", "accountant", "--entity", world.b,
                 "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert session.scalar(select(User).where(User.username == "kuaiji-2")).entity.code == world.b


# ------------------------------------------------------------------------------------ disable and enable


def test_the_admin_disables_and_enables_a_user(app, world, login, session, csrf):
    admin = english_client(app)
    login(admin, "admin")
    accountant = app.test_client()
    login(accountant, "acc_a")
    assert accountant.get(f"/e/{world.a}/").status_code == 200
    user = session.scalar(select(User).where(User.username == "acc_a"))

    done = post(admin, f"/users/{user.id}/active", {"active": "0"}, token_path="/users")
    assert done.status_code == 302
    assert "acc_a is disabled" in text(admin.get("/users"))
    assert accountant.get(f"/e/{world.a}/").status_code == 302            # signed out: sent to sign in
    assert login(app.test_client(), "acc_a").status_code == 401
    done = post(admin, f"/users/{user.id}/active", {"active": "1"}, token_path="/users")
    assert done.status_code == 302
    assert login(app.test_client(), "acc_a").status_code == 302
    actions = [a for (a,) in session.execute(select(AuditLog.action).where(AuditLog.target == "user:acc_a"))]
    assert "disable-user" in actions and "enable-user" in actions

    me = session.scalar(select(User).where(User.username == "admin"))
    refused = post(admin, f"/users/{me.id}/active", {"active": "0"}, token_path="/users")
    assert refused.status_code == 302 and "You cannot disable your own account." in text(admin.get("/users"))
    assert session.get(User, me.id).active


# ------------------------------------------------------------------------------------ cluster projects


def test_the_admin_links_a_cluster_projects_member_and_sees_a_refusal_in_words(app, world, login, session):
    client = english_client(app)
    login(client, "admin")
    township = session.scalar(select(Township).where(Township.name == "甲乡"))
    assert post(client, "/admin/entities", {"code": "JX-PROJ", "name": "甲乡产业联合体", "kind": "cluster_project",
                                            "township": str(township.id), "first_year": "2025"}).status_code == 302
    landing = text(client.get("/admin/entities/JX-PROJ"))
    assert 'href="/admin/links?project=JX-PROJ"' in landing
    assert '<option selected value="JX-PROJ">' in text(client.get("/admin/links?project=JX-PROJ"))

    refused = post(client, "/admin/links", {"project": "JX-PROJ", "member": world.b})   # 乙镇's entity
    assert refused.status_code == 422
    assert "Only another entity of the project's township can be linked to it." in text(refused)
    refused = post(client, "/admin/links", {"project": world.a, "member": world.a})
    assert refused.status_code == 422 and f"{world.a} is not a cluster project." in text(refused)
    assert count(session, EntityLink) == 0

    linked = post(client, "/admin/links", {"project": "JX-PROJ", "member": world.a})
    assert linked.status_code == 302
    project = session.scalar(select(Entity).where(Entity.code == "JX-PROJ"))
    link = session.scalar(select(EntityLink))
    member_id = session.scalar(select(Entity.id).where(Entity.code == world.a))
    assert (link.project_id, link.member_entity_id) == (project.id, member_id)
    assert world.a in text(client.get("/admin/links"))
    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    assert session.scalar(select(AuditLog).where(AuditLog.action == "link")).actor_id == admin_id
