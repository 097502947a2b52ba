"""The import as a new user meets it (issue 16): the template downloaded from the import page and uploaded as it is,
a bad row's every problem listed in the reader's language, and member and product lookups on the record forms."""

from __future__ import annotations

import io
import re

import openpyxl
from samples import xlsx_bytes
from sqlalchemy import select

from cooperatives.models import Entity, ImportJob, Member
from cooperatives.template import sheet_title
from cooperatives.workbook import SHEETS

A = "TA-COOP"


def _job_page(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_import_page_links_the_template_and_it_imports_as_downloaded(client, world, login, post_form, session):
    login(client, "acc_a")
    page = client.get(f"/e/{A}/import").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" id="import-template"', page).group(1)
    response = client.get(link)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    entity_sheet = book[sheet_title(SHEETS["entity"])]
    assert entity_sheet["A2"].value == A                              # this entity's own row
    members = book[sheet_title(SHEETS["members"])]
    assert members["B2"].value == 4                                   # after A's three members
    opening = book[sheet_title(SHEETS["opening"])]
    assert opening.max_row == 1                                       # A's books have entries: no opening example
    # uploaded as it is, checking only: every example row is valid in A's books
    done = _job_page(client, post_form(client, f"/e/{A}/import", {
        "dry_run": "1", "workbook": (io.BytesIO(response.data), "template.xlsx")},
        content_type="multipart/form-data"))
    job = session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))
    assert job.status == "done", done
    assert 'id="job-status"' in done


def test_the_template_is_for_those_who_keep_the_books(client, world, login):
    login(client, "aud_a")
    assert client.get(f"/e/{A}/import/template.xlsx").status_code == 403


BAD_ROW = {"交售": [["日期", "成员", "产品", "数量", "单位", "单价"],
                  ["2025/7/6", "A-H001", "鲜叶", "10", "斤", "2"],       # a good row, its date as 2025/7/6
                  ["2025-02-30", "NOBODY", "鲜叶", "-1", "斤", "2"]]}    # three problems in one row


def _upload(client, post_form, sheets) -> str:
    return _job_page(client, post_form(client, f"/e/{A}/import", {
        "workbook": (xlsx_bytes(sheets), "bad.xlsx")}, content_type="multipart/form-data"))


def test_every_problem_of_a_row_is_listed_in_chinese(client, world, login, post_form, session):
    login(client, "acc_a")
    page = _upload(client, post_form, BAD_ROW)
    problems = re.findall(r"<li>(交售:3:[^<]*)</li>", page)
    assert len(problems) == 3, page
    assert any("不是日期" in p and p.startswith("交售:3:日期:") for p in problems)
    assert any("必须大于零" in p and p.startswith("交售:3:数量:") for p in problems)
    assert any("不是" in p and "的成员" in p and p.startswith("交售:3:成员:") for p in problems)
    assert "交售:2:" not in page                                       # 2025/7/6 is a date
    assert not session.scalar(select(Member).where(Member.code == "NOBODY"))


def test_every_problem_of_a_row_is_listed_in_english(client, world, login, post_form):
    login(client, "acc_a")
    client.get("/lang/en?next=/login")
    page = _upload(client, post_form, BAD_ROW)
    assert "交售:3:日期: not a date (expected YYYY-MM-DD): &#39;2025-02-30&#39;" in page
    assert "交售:3:数量: must be positive" in page
    assert f"交售:3:成员: NOBODY is not a member of {A}." in page


def test_record_forms_offer_the_members_and_the_products_used(client, world, login, session, queries):
    login(client, "acc_a")
    client.get(f"/e/{A}/records/deliveries")
    with queries() as counted:
        page = client.get(f"/e/{A}/records/deliveries").get_data(as_text=True)
    assert 'list="dl-members"' in page and 'list="dl-products"' in page
    members = re.search(r'<datalist id="dl-members">(.*?)</datalist>', page).group(1)
    entity = session.scalar(select(Entity).where(Entity.code == A))
    codes = session.scalars(select(Member.code).where(Member.entity_id == entity.id).order_by(Member.member_no)).all()
    assert re.findall(r'<option value="([^"]+)">', members) == codes
    assert "王大山" in members and "刘桂兰" not in members           # entity B's member is not offered
    products = re.search(r'<datalist id="dl-products">(.*?)</datalist>', page).group(1)
    assert re.findall(r'<option value="([^"]+)">', products)          # the products A's records used
    # one query per list, however many members: adding members adds none
    from cooperatives.access import CONSOLE
    from cooperatives.operations import register_household, register_member

    for n in range(4, 9):
        register_household(session, entity, code=f"A-H{n:03d}", head_name=f"户{n}", village="茶园村", actor=CONSOLE)
        register_member(session, entity, code=f"A-H{n:03d}", member_no=n,
                        joined_on=entity.books_start, actor=CONSOLE)
    session.commit()
    with queries() as again:
        page = client.get(f"/e/{A}/records/deliveries").get_data(as_text=True)
    assert "A-H008" in page and again[0] == counted[0]
