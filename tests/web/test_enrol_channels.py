"""A registration is the same whichever door it comes through (house-review §2.2: the member form and the
members API used to drop ``persons`` and ``land_consent``, which the import kept): the page, the API and the
workbook each register a household with 4 people whose member consents to deductions from land income,
and the three stored households and memberships are alike, field for field."""

from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select

from cooperatives.models import Household, Member
from cooperatives.workbook import id_check_digit, luhn_digit

A = "TA-COOP"
COLUMNS = ("head_name", "phone", "monitoring", "poverty_exited", "persons", "owner_entity_id")
MEMBERSHIP = ("member_no", "farmer", "land_deduction_consent", "id_recorded")


def card(body: str) -> str:
    """A bank card number whose last digit is its Luhn check digit."""
    return body + luhn_digit(body)


def registration(code: str, number: int) -> dict:
    body = f"43082119920517{number:03d}"
    return {"code": code, "head_name": "覃光荣", "village": "茶园村", "phone": "13912345678",
            "id_number": body + id_check_digit(body), "bank_account": card(f"62179955000012{number:03d}"),
            "monitoring": "marginal", "persons": "4", "member_no": str(number), "joined_on": "2025-02-01",
            "farmer": "yes", "land_consent": "yes"}


def stored(session, code: str) -> tuple:
    session.expire_all()
    household = session.scalar(select(Household).where(Household.code == code))
    member = session.scalar(select(Member).where(Member.code == code))
    return (tuple(getattr(household, c) for c in COLUMNS), tuple(getattr(member, c) for c in MEMBERSHIP[1:]),
            household.id_number_digest is not None and household.id_number_masked.startswith("4308**********")
            and household.bank_account_masked.startswith("6217**********"))


def test_the_page_the_api_and_the_workbook_store_the_same_registration(client, world, login, post_form, token,
                                                                        session):
    login(client, "acc_a")
    assert post_form(client, f"/e/{A}/members", registration("A-P01", 11)).status_code == 302
    body = {**registration("A-P02", 12), "member_no": 12, "persons": 4, "land_consent": True}
    assert client.post(f"/api/v1/entities/{A}/members", json=body, headers=token("acc_a")).status_code == 201
    sheet = registration("A-P03", 13)
    households = ["code", "head_name", "village", "phone", "id_number", "bank_account", "monitoring", "persons"]
    members = ["member", "member_no", "joined_on", "farmer", "land_consent"]
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    wb.create_sheet("households").append(households)
    wb["households"].append([sheet[c] for c in households])
    wb.create_sheet("members").append(members)
    wb["members"].append([sheet["code"], *(sheet[c] for c in members[1:])])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    job = client.post(f"/api/v1/entities/{A}/imports", headers=token("acc_a"),
                      data={"workbook": (out, "book.xlsx")}, content_type="multipart/form-data")
    assert client.get(job.headers["Location"], headers=token("acc_a")).get_json()["status"] == "done"
    page, api, workbook = (stored(session, code) for code in ("A-P01", "A-P02", "A-P03"))
    assert page == api == workbook
    assert page[0][4] == 4 and page[1][1] is True and page[1][2] is True and page[2] is True
