"""The distribution policy as a form (issue 16): every key of the policy file, the same validation as the TOML
(problems by their fields, the 60 % of law Art. 44), a preview of the pools on a year's books by the run's own code,
and TOML as import/export."""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser

import pytest
from samples import POLICY_70_30
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity
from cooperatives.users import create_user
from payouts.models import PolicyVersion
from payouts.runs.policy import law_problems, load_policy_text, policy_toml

RICH = """
reserve_pct = "12.5"
reserve_quantify = "equal"
funds = [{ name = "风险金", pct = "5" }]
preferred = [{ name = "扶贫股", rate = "5", form = "poverty_asset" }]
deduct = ["advances"]
prorate_partial_year = true
notice_days = 15
[[pools]]
name = "茶叶返还"
pct = "65"
basis = "transactions"
measure = "quantity"
products = { "藤茶鲜叶" = "1", "干茶" = "2.5" }
include = ["deliveries"]
[[pools]]
name = "residual"
pct = "35"
basis = "capital"
"""


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def wx(world, session, cli, xlsx, worked_example):
    """The worked example (reference/domain.md §1.3) imported as WX, with its accountant and auditor."""
    result = cli("import", xlsx(worked_example()))
    assert result.exit_code == 0, result.output
    entity = session.scalar(select(Entity).where(Entity.code == "WX"))
    create_user(session, username="acc_wx", password=world.password, role="accountant", display_name="会计",
                entity_id=entity.id, actor=CONSOLE)
    create_user(session, username="aud_wx", password=world.password, role="auditor", display_name="农经站",
                township_id=entity.township_id, actor=CONSOLE)
    session.commit()
    return entity


@pytest.fixture
def en(login):
    def sign_in(client, username):
        assert login(client, username).status_code == 302
        client.set_cookie("lang", "en")
    return sign_in


def form_of(data: dict, *, year: str = "2025", action: str = "save") -> dict:
    """A policy dict (``Policy.to_dict()``) typed into the form, field by field, as a person would."""
    form = {"reserve_pct": data["reserve_pct"], "reserve_quantify": data["reserve_quantify"],
            "notice_days": str(data["notice_days"]), "deduct": list(data["deduct"]), "year": year, "action": action}
    if data["prorate_partial_year"]:
        form["prorate_partial_year"] = "yes"
    if data["land_as_trade"]:
        form["land_as_trade"] = "yes"
    for i, f in enumerate(data["funds"], 1):
        form.update({f"funds-{i}-name": f["name"], f"funds-{i}-pct": f["pct"]})
    for i, p in enumerate(data["preferred"], 1):
        form.update({f"preferred-{i}-name": p["name"], f"preferred-{i}-rate": p["rate"], f"preferred-{i}-form": p["form"]})
    for i, p in enumerate(data["pools"], 1):
        known = p["name"] in ("patronage", "residual", "land", "labor", "shares", "investment")
        form.update({f"pools-{i}-name": p["name"] if known else "other", f"pools-{i}-other": "" if known else p["name"],
                     f"pools-{i}-pct": p["pct"], f"pools-{i}-basis": p["basis"]})
        if p["basis"] == "transactions":
            form[f"pools-{i}-measure"] = p["measure"]
            form[f"pools-{i}-include"] = list(p["include"])
            for j, (product, weight) in enumerate(p["products"].items(), 1):
                form.update({f"pools-{i}-product-{j}-name": product, f"pools-{i}-product-{j}-weight": weight})
    return form


def versions(session, entity) -> list[PolicyVersion]:
    session.expire_all()
    return session.scalars(select(PolicyVersion).where(PolicyVersion.entity_id == entity.id)
                           .order_by(PolicyVersion.version)).all()


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<div class="field-error" id="e-{re.escape(name)}">(.*?)</div>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


class _Visible(HTMLParser):
    """The text a reader sees: no TOML (pre, textarea), scripts, or attribute values."""

    HIDDEN = {"pre", "textarea", "script", "style", "datalist", "title"}

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.depth -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible(page: str) -> str:
    parser = _Visible()
    parser.feed(page.split("</header>", 1)[-1])
    return " ".join(parser.parts)


# ----------------------------------------------------------------------------------------------- the form


def test_the_form_saves_what_the_toml_saves(client, wx, en, post_form, session):
    """Every key of the policy file typed into the form gives the very policy its TOML gives."""
    expected = load_policy_text(RICH).to_dict()
    en(client, "acc_wx")
    response = post_form(client, "/e/WX/policy", form_of(expected))
    assert response.status_code == 302, text(response)
    [saved] = versions(session, wx)
    assert saved.data == expected
    page = text(client.get("/e/WX/policy"))
    # shown back in the form: the custom pool name, the weights, the ticks
    assert 'name="pools-1-other" value="茶叶返还"' in page
    assert 'name="pools-1-product-1-name" value="干茶"' in page and 'name="pools-1-product-1-weight" inputmode="decimal" value="2.5"' in page
    assert '<input type="radio" name="pools-1-measure" value="quantity" checked>' in page
    assert '<input type="checkbox" name="deduct" value="advances" checked>' in page
    assert '<input type="checkbox" name="deduct" value="inputs">' in page
    assert 'name="prorate_partial_year" value="yes" checked' in page
    # the same form again is no new version; the form as the page shows it saves the same policy
    assert post_form(client, "/e/WX/policy", form_of(expected)).status_code == 302
    assert len(versions(session, wx)) == 1


def test_typed_numbers_as_people_write_them(client, wx, en, post_form, session):
    data = load_policy_text(POLICY_70_30).to_dict()
    form = form_of(data)
    form.update({"reserve_pct": "１０%", "pools-1-pct": "７０ %", "pools-2-pct": "30％"})
    en(client, "acc_wx")
    assert post_form(client, "/e/WX/policy", form).status_code == 302
    assert versions(session, wx)[0].data == data


def test_problems_are_shown_by_their_fields_and_nothing_is_saved(client, wx, en, post_form, session):
    form = form_of(load_policy_text(RICH).to_dict())
    form.update({"reserve_pct": "120", "funds-1-name": "", "pools-2-pct": "25", "notice_days": "0",
                 "pools-1-include": [], "pools-1-product-2-weight": "heavy"})
    en(client, "acc_wx")
    response = post_form(client, "/e/WX/policy", form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Traceback" not in page
    assert "Please correct the fields marked below" in text(response)
    assert field_error(page, "reserve_pct") == "Must be from 0 to 100."
    assert 'id="f-reserve_pct" name="reserve_pct" inputmode="decimal" value="120" aria-invalid="true"' in page
    assert field_error(page, "funds-1-name") == "Give the fund a name."
    assert field_error(page, "notice_days") == "A whole number of days from 1 to 90."
    assert field_error(page, "pools-1-include") == "Tick at least one kind of trade."
    assert field_error(page, "pools-1-products") == "Not a number: 'heavy'."
    assert "must add up to 100 %, not 90 %" in field_error(page, "pools")
    # a pool added without a name is asked for one (no "pool3" on the statements)
    unnamed = post_form(client, "/e/WX/policy", {**form, "pools-3-name": "other", "pools-3-other": "",
                                                 "pools-3-pct": "10", "pools-3-basis": "capital"})
    assert field_error(unnamed.get_data(as_text=True), "pools-3-other") == "Choose a name or write one."
    # no TOML key is named to the person who typed the form
    shown = visible(page)
    for raw in ("pools[", "reserve_pct", "notice_days", "funds[", ".pct", "include"):
        assert raw not in shown, raw
    # what was typed is shown back to correct
    assert 'name="reserve_pct" inputmode="decimal" value="120"' in page and 'name="funds-1-pct" inputmode="decimal" value="5"' in page
    assert versions(session, wx) == []


def test_the_60_percent_rule_is_checked_by_the_pools(client, wx, en, post_form, session):
    data = load_policy_text(POLICY_70_30).to_dict()
    en(client, "acc_wx")
    form = form_of(data, action="check")
    form.update({"pools-1-pct": "50", "pools-2-pct": "50"})
    response = post_form(client, "/e/WX/policy", form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "at least 60 % of the distributable surplus by member trade (law Art. 44)" in field_error(page, "pools")
    check = re.search(r'<p id="trade-check"[^>]*class="([^"]*)"[^>]*>(.*?)</p>', page, re.S)
    assert "check-bad" in check.group(1) and "50 % of the pools: less than the 60 %" in html.unescape(check.group(2))
    # saving it is refused the same way; the TOML import too
    form["action"] = "save"
    assert post_form(client, "/e/WX/policy", form).status_code == 422
    pasted = post_form(client, "/e/WX/policy", {"policy": POLICY_70_30.replace('"70"', '"50"').replace('"30"', '"50"')})
    assert pasted.status_code == 422 and "at least 60 % of the distributable surplus" in text(pasted)
    # by the land, in a farmer cooperative, the remainder is refused by its field
    form.update({"pools-1-pct": "70", "pools-2-pct": "30", "pools-2-basis": "land"})
    page = post_form(client, "/e/WX/policy", form).get_data(as_text=True)
    assert "capital, reserve share and quantified subsidies only" in field_error(page, "pools-2-basis")
    assert versions(session, wx) == []
    # 70 % passes: the check says so, and "check" saves nothing
    ok = post_form(client, "/e/WX/policy", form_of(data, action="check"))
    assert ok.status_code == 200
    assert "Member trade receives 70 % of the pools: at least 60 %" in text(ok)
    assert "No problems found" in text(ok)
    assert versions(session, wx) == []


def test_law_problems_follow_the_kind_of_entity():
    def codes(policy: str, kind: str) -> list[str]:
        return [p.code for p in law_problems(load_policy_text(policy), kind)]

    below = POLICY_70_30.replace('"70"', '"50"').replace('"30"', '"50"')
    assert codes(below, "farmer_coop") == ["patronage_min_60"]
    assert codes(below, "land_coop") == ["patronage_min_60"]
    assert codes(below, "collective") == []                    # no floor for a village collective
    assert codes(POLICY_70_30, "farmer_coop") == []
    by_land = POLICY_70_30.replace('"capital"', '"land"')
    assert codes(by_land, "farmer_coop") == ["residual_capital_only"]
    land_trade = 'reserve_pct = "10"\nland_as_trade = true\n[[pools]]\nname = "land"\npct = "100"\nbasis = "land"\n'
    assert codes(land_trade, "land_coop") == []
    assert codes(land_trade, "farmer_coop") == ["land_as_trade_land_coop"]
    shares = 'reserve_pct = "10"\nreserve_quantify = "none"\n[[pools]]\nname = "shares"\npct = "100"\nbasis = "shares"\n'
    assert codes(shares, "collective") == []
    assert [p.params.get("pool") for p in law_problems(load_policy_text(shares), "farmer_coop")] == [1, None]


# -------------------------------------------------------------------------------------------- the preview


def test_check_previews_the_pools_on_the_years_books(client, wx, en, post_form, session):
    """The worked example of reference/domain.md §1.3, before anything is saved, by the run's own computation."""
    en(client, "acc_wx")
    data = load_policy_text(POLICY_70_30).to_dict()
    page = text(post_form(client, "/e/WX/policy", form_of(data, action="check")))
    preview = page.split('id="preview"', 1)[1]
    for value in ("500,000.00", "20,000.00", "48,000.00", "432,000.00", "302,400.00", "129,600.00"):
        assert value in preview, value
    assert "302,400.00 yuan, 70.00 % of the distributable surplus: at least 60 %" in preview
    # another split, typed and checked, not saved
    form = form_of(data, action="check")
    form.update({"pools-1-pct": "80", "pools-2-pct": "20", "reserve_pct": "20"})
    preview = text(post_form(client, "/e/WX/policy", form)).split('id="preview"', 1)[1]
    for value in ("96,000.00", "384,000.00", "307,200.00", "76,800.00"):
        assert value in preview, value
    assert versions(session, wx) == []


def test_a_year_without_surplus_says_so(client, wx, en, post_form, session):
    en(client, "acc_wx")
    data = load_policy_text(POLICY_70_30).to_dict()
    for year in ("2024", "2023"):             # the example's loss year; a year before its books
        page = post_form(client, "/e/WX/policy", form_of(data, action="check", year=year)).get_data(as_text=True)
        assert 'id="no-surplus"' in page, year
        assert f"The books of {year} show no surplus to distribute" in html.unescape(page)


def test_the_auditor_reads_the_policy_and_its_preview_without_a_form(client, wx, en, post_form, session):
    owner = client.application.test_client()
    en(owner, "acc_wx")
    assert post_form(owner, "/e/WX/policy", form_of(load_policy_text(POLICY_70_30).to_dict())).status_code == 302
    en(client, "aud_wx")
    page = text(client.get("/e/WX/policy?year=2025"))
    assert 'id="policy-form"' not in page and 'id="policy-import"' not in page
    assert "Return by member trade" in page and "70 %" in page and "7 days" in page
    assert "302,400.00" in page.split('id="preview"', 1)[1]
    assert client.get("/e/WX/policy.toml").status_code == 200


# ------------------------------------------------------------------------------------------ TOML in and out


def test_the_toml_download_is_the_policy_and_imports_back(client, wx, en, post_form, session):
    en(client, "acc_wx")
    before = client.get("/e/WX/policy.toml")        # nothing saved yet: the policy the form starts from
    assert before.status_code == 200 and load_policy_text(before.get_data(as_text=True))
    assert post_form(client, "/e/WX/policy", form_of(load_policy_text(RICH).to_dict())).status_code == 302
    [saved] = versions(session, wx)
    response = client.get("/e/WX/policy.toml")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=WX-policy-v1.toml"
    body = response.get_data(as_text=True)
    assert body == policy_toml(saved.data)
    assert load_policy_text(body).to_dict() == saved.data
    assert client.get("/e/WX/policy.toml?version=7").status_code == 404
    # the file, changed and uploaded, is version 2
    changed = body.replace('pct = "65"', 'pct = "70"').replace('pct = "35"', 'pct = "30"')
    upload = post_form(client, "/e/WX/policy", {"policy": "", "policy_file": (io.BytesIO(changed.encode()), "p.toml")},
                       content_type="multipart/form-data")
    assert upload.status_code == 302, text(upload)
    assert versions(session, wx)[-1].data == load_policy_text(changed).to_dict()
    # a JSON file too; a broken one is refused with its problems and saves nothing
    as_json = b'{"reserve_pct": "10", "pools": [{"name": "patronage", "pct": "100", "basis": "transactions"}]}'
    assert post_form(client, "/e/WX/policy", {"policy": "", "policy_file": (io.BytesIO(as_json), "p.json")},
                     content_type="multipart/form-data").status_code == 302
    broken = post_form(client, "/e/WX/policy", {"policy": "", "policy_file": (io.BytesIO(b"reserve_pct = "), "b.toml")},
                       content_type="multipart/form-data")
    assert broken.status_code == 422 and "b.toml cannot be read" in text(broken)
    not_text = post_form(client, "/e/WX/policy", {"policy": "", "policy_file": (io.BytesIO(b"\xff\xfe\x00"), "c.toml")},
                         content_type="multipart/form-data")
    assert not_text.status_code == 422 and "not UTF-8" in text(not_text)
    assert session.scalar(select(func.count()).select_from(PolicyVersion).where(PolicyVersion.entity_id == wx.id)) == 3


# ------------------------------------------------------------------------------------------------ words


def test_the_chinese_page_names_no_raw_ids(client, wx, login, post_form, session):
    """In Chinese the page shows labels, never the policy's keys or ids (the TOML itself aside)."""
    login(client, "acc_wx")                          # Chinese by default
    assert post_form(client, "/e/WX/policy", form_of(load_policy_text(RICH).to_dict())).status_code == 302
    for path in ("/e/WX/policy", "/e/WX/policy?version=1"):
        page = client.get(path).get_data(as_text=True)
        assert '<html lang="zh-CN">' in page
        shown = visible(page)
        for raw in ("patronage", "residual", "transactions", "reserve_pct", "reserve_quantify", "poverty_asset",
                    "notice_days", "persons", "COOP_", "pool1"):
            assert raw not in shown, (path, raw)
    login(client, "aud_wx")
    shown = visible(client.get("/e/WX/policy").get_data(as_text=True))
    assert "patronage" not in shown and "residual" not in shown and "transactions" not in shown


def test_the_page_works_without_script(client, wx, en):
    en(client, "acc_wx")
    page = client.get("/e/WX/policy").get_data(as_text=True)
    assert "<script" not in page and "<style" not in page and " style=" not in page
    form = page.split('id="policy-form"', 1)[1].split("</form>", 1)[0]
    assert form.count('name="action" value="check"') == 1 and form.count('name="action" value="save"') == 1
