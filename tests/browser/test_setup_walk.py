"""Issue 16's first two acceptance journeys in Debian's Chromium, on a laptop (1280 × 900), in Chinese.

From nothing: on an empty database the first admin is made with ``coopledger create-user --role admin`` (the one
command a new server needs); the admin signs in, opens 设置, creates a township, a village, a farmer cooperative and
its accountant. The accountant signs in (typing the username in other capitals), downloads the import template,
uploads a workbook with a bad row and reads every problem of it in Chinese (nothing imported), uploads it fixed;
records a delivery with a mistake and voids it with a reason; edits the distribution policy in the form (70/30),
checks it and reads the preview, saves it; drafts the 2025 run and reads it (pools, every check passed), records
the members' meeting (a short quorum first, refused), posts it, and generates every statement and the notice list
from the web — through the production command in a process of its own, as a server runs it — then downloads the
zip. The workbook import runs in its own process too (``coopledger import --job``). Screenshots go to
``tests/artifacts/setup-*.png``.

Chinese of labels is compared with the app's own catalog (:func:`zh`), so the walk checks that the pages show
the translation, whichever words it has.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from live import cli_of, live_app, served
from sqlalchemy import func, select
from sqlalchemy.orm import Session

pytestmark = pytest.mark.slow

ADMIN, ADMIN_PASSWORD = "admin", "admin pass for the walk"
ACCOUNTANT, ACCOUNTANT_PASSWORD = "XinTian", "tea leaves in spring"
TOWNSHIP, VILLAGE = "新田乡", "茶园村"
CODE, NAME = "XT-TEA", "新田藤茶专业合作社"
HOUSEHOLDS = [("XT-H001", "王大山"), ("XT-H002", "李秀英"), ("XT-H003", "张桂兰")]
CJK = re.compile(r"[\u4e00-\u9fff]")
JOB_WAIT_MS = 120_000

# The workbook the accountant fills in: the template's Chinese sheet names and headers (cooperatives/template.py)
GOOD_DELIVERIES = [["2025-05-01", "XT-H001", "藤茶鲜叶", "200", "斤", "5", "银行"],
                   ["2025-05-01", "XT-H002", "藤茶鲜叶", "300", "公斤", "10", "银行"],
                   ["2025/5/2", "XT-H003", "藤茶鲜叶", "150", "公斤", "10", "银行"]]
BAD_DELIVERY = ["2025-02-30", "XT-H003", "藤茶鲜叶", "-150", "公斤", "10", "银行"]     # no such day, and negative


def workbook(deliveries: list[list[str]]) -> dict[str, list[list]]:
    return {
        "农户": [["户号", "户主", "村", "电话"],
               *[[code, name, VILLAGE, f"1390000000{n}"] for n, (code, name) in enumerate(HOUSEHOLDS, 1)]],
        "成员": [["成员", "成员编号", "入社日期"], *[[code, n, "2025-01-01"] for n, (code, _) in enumerate(HOUSEHOLDS, 1)]],
        "股金": [["日期", "成员", "金额"], *[["2025-01-02", code, "3000"] for code, _ in HOUSEHOLDS]],
        "交售": [["日期", "成员", "产品", "数量", "单位", "单价", "付款方式"], *deliveries],
        "销售": [["日期", "购买方", "产品", "金额"], ["2025-09-01", "湘西茶业有限公司", "藤茶干茶", "14000"]],
    }


def write_xlsx(sheets: dict, path: Path) -> str:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return str(path)


@pytest.fixture
def walk(isolated_db, tmp_path):
    """The real app on an empty database of its own, served; its workbook imports and statement batches run as
    the production commands (same argv and environment) in processes of their own, kept to be waited for."""
    from payouts.app import import_job_command
    from payouts.statements.jobs import launch

    app = live_app(isolated_db, secret_key="setup-walk")
    app.instance_path = str(tmp_path / "instance")
    settings = app.extensions["coop.settings"]
    processes: list[subprocess.Popen] = []

    def import_launcher(job_id: int) -> None:
        argv, env = import_job_command(settings, job_id)
        processes.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))

    app.extensions["coop.import_launcher"] = import_launcher
    app.extensions["coop.job_launcher"] = lambda job_id: processes.append(launch(job_id, env=settings.command_env()))
    with served(app, "coopledger-setup-walk") as url:
        yield app, url, processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def zh(app, text: str) -> str:
    """``text`` as the app's Chinese catalog has it (the English itself while it is not translated yet)."""
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale("zh_Hans_CN"):
        return gettext(text)


def count(app, model, *where) -> int:
    with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def chinese_page(page) -> str:
    """The page's text, after checking it is a Chinese page."""
    assert page.get_attribute("html", "lang") == "zh-CN"
    body = page.inner_text("main")
    assert CJK.search(body), body[:500]
    return body


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def submit(page, selector: str):
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("¥", "").strip())


def test_an_admin_sets_up_a_cooperative_and_its_accountant_runs_the_first_year(walk, browser, artifacts, tmp_path):
    from cooperatives.models import Delivery, Entity, Household, ImportJob, Member, Township, User, Village
    from payouts.models import PayoutRun, PolicyVersion, RenderJob
    from payouts.runs.labels import STATUS_LABELS

    app, url, processes = walk
    assert count(app, Entity) == count(app, Township) == count(app, User) == 0
    cli_of(app)("create-user", "--username", ADMIN, "--role", "admin", "--password", ADMIN_PASSWORD)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(30_000)
    try:
        # ---------------------------------------------------------------- (a) the admin, from nothing
        page = context.new_page()
        sign_in(page, url, ADMIN, ADMIN_PASSWORD)
        submit(page, "header.top a[href='/admin/']")                     # 设置
        chinese_page(page)
        for path in ("/admin/townships", "/admin/entities", "/users/new", "/admin/links"):
            assert page.locator(f"main a[href='{path}']").count() >= 1, path
        page.screenshot(path=str(artifacts / "setup-admin-home.png"), full_page=True)

        submit(page, "main ol a[href='/admin/townships']")
        page.fill("#name", f"  {TOWNSHIP} ")
        submit(page, "form[action='/admin/townships'] button[type=submit]")
        assert page.url.endswith("/admin/townships")
        assert TOWNSHIP in page.inner_text("main table")
        page.select_option("#village-township", label=TOWNSHIP)
        page.fill("#village-name", VILLAGE)
        submit(page, "form[action='/admin/villages'] button[type=submit]")
        row = page.locator("main table tbody tr", has_text=TOWNSHIP)
        assert VILLAGE in row.inner_text()
        assert count(app, Village, Village.name == VILLAGE) == 1
        chinese_page(page)
        page.screenshot(path=str(artifacts / "setup-admin-townships.png"), full_page=True)

        submit(page, "main a[href='/admin/entities']")
        page.fill("#code", CODE)
        page.fill("#name", NAME)
        page.select_option("#kind", "farmer_coop")
        page.select_option("#township", label=TOWNSHIP)
        page.select_option("#village", label=f"{TOWNSHIP} · {VILLAGE}")
        page.fill("#first_year", "2025")
        page.screenshot(path=str(artifacts / "setup-admin-new-entity.png"), full_page=True)
        submit(page, "form[action='/admin/entities'] button[type=submit]")
        assert page.url.endswith(f"/admin/entities/{CODE}")
        assert NAME in page.inner_text("h1") and TOWNSHIP in page.inner_text("main table")
        assert page.get_attribute("#first-import", "href") == f"/e/{CODE}/import"
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            entity = session.scalar(select(Entity).where(Entity.code == CODE))
            assert (entity.kind, entity.books_start) == ("farmer_coop", dt.date(2025, 1, 1))
            assert entity.village is not None and entity.village.name == VILLAGE
            entity_id = entity.id

        submit(page, "#assign-accountant")
        assert page.eval_on_selector("#role", "e => e.value") == "accountant"
        assert page.eval_on_selector("#entity", "e => e.value") == CODE
        page.fill("#username", ACCOUNTANT)
        page.fill("#display_name", "李会计")
        page.fill("#password", ACCOUNTANT_PASSWORD)
        page.fill("#confirm", ACCOUNTANT_PASSWORD)
        submit(page, "form[action='/users/new'] button[type=submit]")
        assert page.url.endswith(f"/admin/entities/{CODE}")
        assert page.locator("#assign-accountant").count() == 0             # the entity has its accountant now
        assert f"{ACCOUNTANT} (李会计)" in page.inner_text("main table")
        chinese_page(page)
        page.screenshot(path=str(artifacts / "setup-admin-entity-ready.png"), full_page=True)
        page.close()

        # ---------------------------------------------------------------- (b) the accountant's first year
        context.clear_cookies()
        page = context.new_page()
        sign_in(page, url, ACCOUNTANT.lower(), ACCOUNTANT_PASSWORD)       # any capitals sign in
        assert page.url.endswith(f"/e/{CODE}/")
        assert NAME in chinese_page(page)

        # the template, then a workbook with a bad row: every problem of it, in Chinese, and nothing imported
        submit(page, f"nav.entity a[href='/e/{CODE}/import']")
        chinese_page(page)
        with page.expect_download() as download:
            page.click("#import-template")
        template = tmp_path / "template.xlsx"
        download.value.save_as(template)
        assert download.value.suggested_filename.endswith(".xlsx")
        book = openpyxl.load_workbook(template)
        assert {"说明", "主体", "农户", "成员", "股金", "交售", "销售"} <= set(book.sheetnames)
        assert book["主体"]["A2"].value == CODE                           # this entity's own row
        assert [c.value for c in book["交售"][1]][:3] == ["日期", "成员", "产品"]

        page.set_input_files("#workbook", write_xlsx(workbook(GOOD_DELIVERIES[:2] + [BAD_DELIVERY]),
                                                     tmp_path / "first.xlsx"))
        submit(page, "main form[enctype='multipart/form-data'] button[type=submit]")
        page.wait_for_selector("ul.problems li", timeout=JOB_WAIT_MS)        # the page refreshes itself until then
        problems = page.locator("ul.problems li").all_inner_texts()
        assert len(problems) == 2, problems
        date_problem = next(p for p in problems if p.startswith("交售:4:日期:"))
        quantity_problem = next(p for p in problems if p.startswith("交售:4:数量:"))
        assert "不是日期" in date_problem and "2025-02-30" in date_problem
        assert "必须大于零" in quantity_problem
        assert "bad" in page.get_attribute("#job-status", "class").split()
        assert page.inner_text("#job-status") == zh(app, "Nothing was imported")
        chinese_page(page)
        assert count(app, Household) == count(app, Member, Member.entity_id == entity_id) == 0
        assert count(app, Delivery, Delivery.entity_id == entity_id) == 0
        page.screenshot(path=str(artifacts / "setup-import-problems.png"), full_page=True)

        submit(page, f"main a[href='/e/{CODE}/import']")                  # 再导入: the fixed workbook
        page.set_input_files("#workbook", write_xlsx(workbook(GOOD_DELIVERIES), tmp_path / "fixed.xlsx"))
        submit(page, "main form[enctype='multipart/form-data'] button[type=submit]")
        page.wait_for_selector("main div.flash[role=status] li", timeout=JOB_WAIT_MS)
        assert page.inner_text("#job-status") == zh(app, "Done")
        assert page.locator("ul.problems").count() == 0
        chinese_page(page)
        page.screenshot(path=str(artifacts / "setup-import-done.png"), full_page=True)
        assert count(app, Household) == count(app, Member, Member.entity_id == entity_id) == 3
        assert count(app, Delivery, Delivery.entity_id == entity_id) == 3
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            assert session.scalars(select(ImportJob.status).order_by(ImportJob.id)).all() == ["failed", "done"]

        # a delivery recorded in the form with a mistake (250 kg, not 25), then voided with the reason
        submit(page, f"nav.entity a[href='/e/{CODE}/records/deliveries']")
        page.click("details.panel summary")
        page.fill("#f-date", "2025-06-01")
        page.fill("#f-member", "XT-H002")
        page.fill("#f-product", "藤茶鲜叶")
        page.fill("#f-quantity", "250")
        page.select_option("#f-unit", "kg")
        page.fill("#f-unit_price", "10")
        page.select_option("#f-paid", "no")                                # owed to the member, paid later
        page.screenshot(path=str(artifacts / "setup-delivery-form.png"), full_page=True)
        answer = submit(page, "details.panel form button[type=submit]")
        assert answer.status == 200 and page.url.endswith(f"/e/{CODE}/records/deliveries"), page.inner_text("main")
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            mistake = session.scalar(select(Delivery).where(Delivery.entity_id == entity_id,
                                                            Delivery.date == dt.date(2025, 6, 1)))
            assert mistake is not None and mistake.quantity == Decimal("250") and mistake.voided_at is None
            mistake_id = mistake.id
        void_form = f"form[action='/e/{CODE}/records/deliveries/{mistake_id}/void']"
        page.click(f"details:has({void_form}) > summary")
        page.fill(f"{void_form} input[name=reason]", "数量录错：应为25公斤")
        submit(page, f"{void_form} button[type=submit]")
        assert page.is_visible(f"#voided-{mistake_id}")
        assert page.inner_text(f"#voided-{mistake_id}") == zh(app, "Voided")
        assert "数量录错：应为25公斤" in page.inner_text(f"td:has(#voided-{mistake_id})")
        chinese_page(page)
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            voided = session.get(Delivery, mistake_id)
            assert voided.voided_at is not None and voided.void_reason == "数量录错：应为25公斤"
        page.screenshot(path=str(artifacts / "setup-delivery-voided.png"), full_page=True)

        # the distribution policy in the form: reserve 15 %, pools 70/30; checked and previewed, then saved
        submit(page, f"nav.entity a[href='/e/{CODE}/policy']")
        chinese_page(page)
        assert page.input_value("#f-pools-1-pct") == "60" and page.input_value("#f-pools-2-pct") == "40"
        page.fill("#f-reserve_pct", "15")
        page.fill("#f-pools-1-pct", "70")
        page.fill("#f-pools-2-pct", "30")
        page.fill("#policy-form #f-year", "2025")
        answer = submit(page, "#policy-form button[name=action][value=check]")
        assert answer.status == 200
        assert "check-ok" in page.get_attribute("#trade-check", "class") and "70" in page.inner_text("#trade-check")
        assert page.input_value("#f-pools-1-pct") == "70"                   # the form keeps what was typed
        assert count(app, PolicyVersion) == 0                                # checking saves nothing
        preview = page.locator("#preview")
        assert "2025" in preview.locator("h2").inner_text()
        distributable = money(preview.locator("tr.total td.num").inner_text())
        pools = preview.locator("table").nth(1).locator("tbody tr")
        assert pools.count() == 2
        first_pool = money(pools.nth(0).locator("td.num").nth(1).inner_text())
        second_pool = money(pools.nth(1).locator("td.num").nth(1).inner_text())
        assert distributable > 0 and first_pool + second_pool == distributable
        assert abs(first_pool - distributable * Decimal("0.7")) <= Decimal("0.01")
        assert "check-ok" in page.get_attribute("#preview-60", "class")
        page.screenshot(path=str(artifacts / "setup-policy-preview.png"), full_page=True)
        submit(page, "#policy-form button[name=action][value=save]")
        assert page.url.endswith(f"/e/{CODE}/policy")
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            saved = session.scalars(select(PolicyVersion)).all()
            assert [v.version for v in saved] == [1]
            data = saved[0].data
        assert Decimal(str(data["reserve_pct"])) == 15
        assert [Decimal(str(p["pct"])) for p in data["pools"]] == [70, 30]
        assert [p["basis"] for p in data["pools"]] == ["transactions", "capital"]
        chinese_page(page)
        page.screenshot(path=str(artifacts / "setup-policy-saved.png"), full_page=True)

        # the 2025 run: drafted, read, approved by the members' meeting (a short quorum is refused), posted
        submit(page, f"nav.entity a[href='/e/{CODE}/runs']")
        page.fill("#f-year", "2025")
        submit(page, f"form[action='/e/{CODE}/runs'] button[type=submit]")
        match = re.search(rf"/e/{CODE}/runs/(\d+)$", page.url)
        assert match, page.url
        run_id = int(match.group(1))
        body = chinese_page(page)
        assert page.inner_text("#run-status") == zh(app, STATUS_LABELS["draft"])
        assert page.locator("ul.checks li.check-failed").count() == 0
        assert page.locator("ul.checks li.check-ok").count() >= 3
        assert page.locator("tbody.household").count() == 3
        assert f"{distributable:,.2f}" in body                              # the preview's distributable surplus
        page.screenshot(path=str(artifacts / "setup-run-draft.png"), full_page=True)

        approve = f"form[action='/e/{CODE}/runs/{run_id}/approve']"
        page.fill("#f-meeting_date", "2026-03-01")
        page.fill("#f-attended", "1")                                      # 1 of 3: no quorum
        page.fill("#f-votes_for", "1")
        answer = submit(page, f"{approve} button[type=submit]")
        assert answer.status == 422
        assert page.locator("details.panel div.errors[role=alert] li").count() >= 1
        assert page.inner_text("#run-status") == zh(app, STATUS_LABELS["draft"])
        page.screenshot(path=str(artifacts / "setup-run-quorum-refused.png"), full_page=True)
        page.fill("#f-meeting_date", "2026-03-01")
        page.fill("#f-attended", "3")
        page.fill("#f-votes_for", "3")
        page.fill("#f-minutes", "2026年第1次成员大会")
        submit(page, f"{approve} button[type=submit]")
        assert page.inner_text("#run-status") == zh(app, STATUS_LABELS["approved"])
        submit(page, f"form[action='/e/{CODE}/runs/{run_id}/post'] button[type=submit]")
        assert page.inner_text("#run-status") == zh(app, STATUS_LABELS["posted"])
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            run = session.get(PayoutRun, run_id)
            assert (run.status, run.attended, run.votes_for) == ("posted", 3, 3)
        chinese_page(page)
        page.screenshot(path=str(artifacts / "setup-run-posted.png"), full_page=True)

        # every statement and the notice list, generated from the web by its own process, then the zip
        submit(page, f"main a[href='/e/{CODE}/runs/{run_id}/render']")
        chinese_page(page)
        page.select_option("#lang", "zh")
        submit(page, f"form[action='/e/{CODE}/runs/{run_id}/render'] button[type=submit]")
        assert re.search(rf"/e/{CODE}/jobs/\d+$", page.url), page.url
        zip_link = "main a.button[href$='/statements.zip']"
        page.wait_for_selector(zip_link, timeout=JOB_WAIT_MS)               # the page refreshes itself until then
        assert page.locator("main .errors").count() == 0
        assert zh(app, "Ready") in page.inner_text("main")
        assert page.get_attribute("main progress", "value") == "3"
        chinese_page(page)
        page.screenshot(path=str(artifacts / "setup-statements-ready.png"), full_page=True)
        with Session(app.extensions["ledger.sessionmaker"]["engine"]) as session:
            job = session.scalar(select(RenderJob).where(RenderJob.run_id == run_id))
            assert (job.status, job.done, job.total, job.error) == ("done", 3, 3, None)
        with page.expect_download() as download:
            page.click(zip_link)
        archive = tmp_path / "statements.zip"
        download.value.save_as(archive)
        assert download.value.suggested_filename == f"{CODE}-run{run_id}-statements.zip"
        with zipfile.ZipFile(archive) as zipped:
            names = sorted(zipped.namelist())
            assert names == sorted([f"{n:05d}-{code}.pdf" for n, (code, _) in enumerate(HOUSEHOLDS, 1)]
                                   + [f"notice-{CODE}-2025.pdf"])
            for name in names:
                assert zipped.read(name).startswith(b"%PDF")
        # the refused workbook's command ends with 1 (its problems kept with its job); the fixed one's and the batch's 0
        assert [process.wait(timeout=60) for process in processes] == [1, 0, 0], [p.args for p in processes]
    finally:
        context.close()
