"""Translations: every marked string is in the catalogs, Chinese is complete and keeps its placeholders,
English is complete, pages are Chinese by default and English on request, and statements render in
either language.

The catalogs are ``payouts/translations/<locale>/LC_MESSAGES/messages.po``; the ``.mo`` files are built
by ``make`` (``make translations``) and, if missing or older than their ``.po``, by this module.
Adding a string: mark it, run ``scripts/i18n.sh extract``, translate it in the zh_Hans_CN catalog.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from cooperatives.access import CONSOLE

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "payouts" / "translations"
LOCALES = ("zh_Hans_CN", "en")
FIX = "run scripts/i18n.sh extract, then translate in payouts/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
#: %-placeholders (``%(name)s``, ``%s``, ``%%``) and str.format fields (``{name}``)
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]|\{[^{}]*\}")
#: msgids whose Chinese is written the same as the English
SAME_IN_CHINESE = {"Excel", "JSON",
                   "%(where)s: %(reason)s", "%(rule)s: %(detail)s"}     # only punctuation (a full-width colon) to translate
CJK = re.compile(r"[\u4e00-\u9fff]")


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load(path: Path):
    with open(path, "rb") as fh:
        return read_po(fh)


def messages(catalog):
    return [m for m in catalog if m.id]


def texts(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def placeholders(text: str) -> tuple[list[str], int]:
    """The placeholders of ``text``, and its number of ``%`` signs (a stray ``%`` breaks Jinja's gettext,
    which always %-formats)."""
    return sorted(PLACEHOLDER.findall(text)), text.count("%")


def compile_catalogs() -> None:
    """.po -> .mo where the .mo is missing or older (written atomically: tests may run in parallel)."""
    for locale in LOCALES:
        po = po_path(locale)
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = load(po)
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo)


@pytest.fixture(scope="module", autouse=True)
def compiled():
    compile_catalogs()
    from payouts.statements import render

    render.environment.cache_clear()      # an environment built before the .mo existed has no translations
    yield


@pytest.fixture(scope="module")
def zh():
    return load(po_path("zh_Hans_CN"))


@pytest.fixture(scope="module")
def en():
    return load(po_path("en"))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """A fresh extraction of the code and templates (the same command as ``scripts/i18n.sh extract``)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYBABEL": str(bin_dir / "pybabel"), "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(ROOT / "scripts" / "i18n.sh"), "pot", str(pot)], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return load(pot)


# ------------------------------------------------------------------------------------------- catalogs


def test_the_extraction_finds_the_marked_strings_of_every_layer(extracted):
    ids = {m.id for m in messages(extracted)}
    for expected in ("Sign in",                                   # template
                     "Wrong username or password.",               # gettext in a view
                     "Username",                                  # lazy_gettext in a form
                     "Farmer professional cooperative",           # N_ in cooperatives/models.py ENTITY_KINDS
                     "Unstable after exiting poverty",            # N_ in MONITORING
                     "Owners' equity",                            # N_ in ledger/chart.py ACCOUNT_TYPE_LABELS
                     "Payout statement"):                         # the Flask-free statement templates
        assert expected in ids, expected


@pytest.mark.parametrize("locale", LOCALES)
def test_every_marked_string_is_in_the_catalog(extracted, locale):
    catalog = load(po_path(locale))
    missing = [m.id for m in messages(extracted) if catalog.get(m.id, m.context) is None]
    assert not missing, f"{len(missing)} message(s) missing from the {locale} catalog ({FIX}):\n" + "\n".join(
        f"  {m!r}" for m in missing)


def test_every_chinese_entry_is_translated_and_not_fuzzy(zh):
    assert not zh.fuzzy, "the zh_Hans_CN catalog header is marked fuzzy"
    fuzzy = [m.id for m in messages(zh) if m.fuzzy]
    untranslated = [m.id for m in messages(zh) if not all(texts(m.string))]
    assert not fuzzy, "fuzzy (check the translation, then remove the fuzzy flag):\n" + "\n".join(map(repr, fuzzy))
    assert not untranslated, "untranslated:\n" + "\n".join(map(repr, untranslated))


def test_chinese_translations_are_written_in_chinese(zh):
    english = [m.id for m in messages(zh) if m.id not in SAME_IN_CHINESE
               and all(texts(m.string)) and not any(CJK.search(s) for s in texts(m.string))]
    assert not english, "msgstr without any Chinese (or add the id to SAME_IN_CHINESE):\n" + "\n".join(
        map(repr, english))


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders_of_their_msgid(locale):
    wrong = []
    for m in messages(load(po_path(locale))):
        wanted = [placeholders(i) for i in texts(m.id)]
        wrong += [(m.id, s) for s in texts(m.string) if s and placeholders(s) not in wanted]
    assert not wrong, "placeholders differ:\n" + "\n".join(f"  {i!r} -> {s!r}" for i, s in wrong)


def test_the_english_catalog_is_complete(en):
    assert not en.fuzzy
    incomplete = [m.id for m in messages(en) if m.fuzzy or not all(texts(m.string))]
    assert not incomplete, "English entries empty or fuzzy (run scripts/i18n.sh extract):\n" + "\n".join(
        map(repr, incomplete))


def test_the_placeholder_check_catches_a_dropped_or_stray_placeholder():
    msgid = "Member no. %(n)s is already %(code)s."
    assert placeholders("成员编号 %(n)s 已由 %(code)s 使用。") == placeholders(msgid)
    assert placeholders("成员编号已由 %(code)s 使用。") != placeholders(msgid)
    assert placeholders("60% %(n)s %(code)s") != placeholders(msgid)
    assert placeholders("不低于 60%%") == placeholders("At least 60 %%")


# ------------------------------------------------------------------------------------------------ pages


def text_of(response) -> str:
    return response.get_data(as_text=True)


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page)
    assert found, "no csrf_token in the page"
    return html.unescape(found.group(1) or found.group(2))


@pytest.fixture
def signed_in(app, session):
    """A cooperative with one member household, and a test client signed in as its accountant."""
    from cooperatives.operations import create_entity, register_household, register_member
    from cooperatives.users import create_user

    entity = create_entity(session, code="I18N-COOP", name="语言测试合作社", kind="farmer_coop", township="测试乡",
                           village="一村", first_year=2025, actor=CONSOLE)
    register_household(session, entity, code="I18N-H001", head_name="王大山", village="一村", actor=CONSOLE)
    register_member(session, entity, code="I18N-H001", member_no=1, joined_on=dt.date(2024, 3, 1), actor=CONSOLE)
    create_user(session, username="kuaiji-i18n", password="a long test password", role="accountant",
                display_name="会计", entity_id=entity.id, actor=CONSOLE)
    session.commit()
    client = app.test_client()
    token = csrf_token(text_of(client.get("/login")))
    response = client.post("/login", data={"username": "kuaiji-i18n", "password": "a long test password",
                                           "csrf_token": token})
    assert response.status_code in (302, 303), text_of(response)
    return client


def test_the_login_page_is_chinese_by_default_and_english_on_request():
    from payouts.app import create_app
    from payouts.settings import Settings

    app = create_app(Settings(database_url="sqlite://", secret_key="t", testing=True, cookie_secure=False))
    client = app.test_client()
    page = text_of(client.get("/login"))
    assert '<html lang="zh-CN">' in page
    assert "<h1>登录</h1>" in page and ">用户名</label>" in page and ">密码</label>" in page
    assert "Sign in" not in page and "Username" not in page
    client.get("/lang/en?next=/login")
    page = text_of(client.get("/login"))
    assert "<h1>Sign in</h1>" in page and ">Username</label>" in page and "登录" not in page


def test_entity_pages_are_chinese_by_default_and_english_on_request(signed_in):
    client = signed_in
    members = text_of(client.get("/e/I18N-COOP/members"))
    assert "<h1>成员" in members and "成员编号" in members and "入社日期" in members and "王大山" in members
    overview = text_of(client.get("/e/I18N-COOP/"))
    assert "农民专业合作社" in overview                           # ENTITY_KINDS, marked with N_
    for label in ("概况", "成员", "股金", "交售", "试算平衡表", "凭证"):
        assert f">{label}</a>" in overview, label
    trial = text_of(client.get("/e/I18N-COOP/trial-balance"))
    assert "<h1>试算平衡表" in trial and "期初余额" in trial and "借方" in trial

    client.get("/lang/en")
    members = text_of(client.get("/e/I18N-COOP/members"))
    assert "<h1>Members" in members and "Member no." in members and "Joined on" in members
    assert "成员编号" not in members
    overview = text_of(client.get("/e/I18N-COOP/"))
    assert "Farmer professional cooperative" in overview and ">Trial balance</a>" in overview


def test_a_flashed_message_and_a_form_error_are_translated(app):
    client = app.test_client()
    token = csrf_token(text_of(client.get("/login")))
    page = text_of(client.post("/login", data={"username": "nobody", "password": "wrong password",
                                               "csrf_token": token}))
    assert "用户名或密码错误。" in page


# ------------------------------------------------------------------------------------------- statements


def statement() -> dict:
    """A minimal statement snapshot, shaped as ``payouts.statements.context.build_statements`` writes it."""
    return {
        "run": 7, "run_digest": "d" * 64, "year": 2025, "issued": "2026-03-10", "code": "ABCD-EFGH-JKMN",
        "entity": {"code": "JGP-TEA", "name": "金果坪藤茶专业合作社", "kind": "farmer_coop", "township": "金果坪乡",
                   "village": "茶园村"},
        "member": {"code": "JGP-H001", "name": "王大山", "member_no": 1, "village": "茶园村", "household_id": 1},
        "policy_pools": [{"name": "patronage", "basis": "transactions", "measure": "amount"},
                         {"name": "residual", "basis": "capital", "measure": "amount"}],
        "distributable": "39096.00",
        "contributed": {
            "produce": [{"product": "藤茶鲜叶", "quantity_kg": "600", "amount": "6720.00"}],
            "labor": {"days": "3", "wages": "360.00"},
            "land": [{"contract_no": "TD-001", "area_mu": "3.5", "shares": "3.5", "rent_per_mu": "600.00",
                      "base_rent": "2100.00"}],
            "capital": [{"form": "cash", "amount": "5000.00"}],
        },
        "lines": [
            {"pool": "patronage", "basis_kind": "transactions", "measure": "amount", "money_basis": True,
             "basis": "6720.00", "amount": "2856.32", "formula_zh": "你家交易额 6,720.00 元，占全体成员交易额的 10.26%",
             "formula_en": "Your household's trade was 6,720.00 yuan, 10.26% of all members'"},
            {"pool": "residual", "basis_kind": "capital", "measure": "amount", "money_basis": True,
             "basis": "5000.00", "amount": "1000.00", "formula_zh": "你家出资共 5,000.00 元，占全体成员的 10.00%",
             "formula_en": "Your capital totals 5,000.00 yuan, 10.00% of all members'"},
        ],
        "preferred": [], "sources": [{"from": "own", "amount": "3856.32"}],
        "reserve_share": "120.00", "subsidy_share": "80.00", "total": "3856.32",
        "deductions": [{"what": "inputs", "amount": "800.00"}],
        "deductions_total": "800.00", "net": "3056.32", "net_words": "叁仟零伍拾陆元叁角贰分",
    }


def visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_statement_renders_in_chinese_without_english_words():
    from payouts.statements.render import render_statement_html

    data = statement()
    page = render_statement_html(data, locale="zh_Hans_CN", verify_url="http://x/verify/C")
    assert '<html lang="zh-CN">' in page
    for words in ("收益分配结算单", "2025 年度", "户主", "成员编号", "交售产品", "公斤", "用工", "土地合同",
                  "3.5 亩，3.5 股", "股金", "应发金额", "扣款", "农资赊欠", "实发金额", "大写", "叁仟零伍拾陆元叁角贰分",
                  "领款人签字/手印", "核验码", "ABCD-EFGH-JKMN", "3,056.32"):
        assert words in page, words
    text = visible_text(page)
    for value in ("http://x/verify/C", data["member"]["code"], data["code"], data["contributed"]["land"][0]["contract_no"]):
        text = text.replace(value, " ")
    english = sorted(set(re.findall(r"[A-Za-z]{2,}", text)))
    assert not english, f"English words on the Chinese statement: {english}"


def test_the_statement_renders_in_english():
    from payouts.statements.render import render_statement_html

    page = render_statement_html(statement(), locale="en", verify_url="http://x/verify/C")
    assert '<html lang="en">' in page
    for words in ("Payout statement", "Year 2025", "Produce delivered", "Net paid out", "Verification code",
                  "3,056.32", "http://x/verify/C"):
        assert words in page, words
    assert "收益分配结算单" not in page and "实发金额" not in page


def test_the_public_notice_renders_in_chinese():
    from payouts.statements.render import render_notice_html

    run = {"entity": "JGP-TEA", "year": 2025, "surplus": "45000.00", "distributable": "39096.00",
           "reserves": [{"name": "reserve", "amount": "4500.00"}], "notice_code": "NTCE-CODE-2345",
           "pools": [{"name": "patronage", "amount": "27367.20"}, {"name": "residual", "amount": "11728.80"}]}
    page = render_notice_html(run, [statement()], entity={"name": "金果坪藤茶专业合作社"}, notice_from="2026-03-01",
                              notice_until="2026-03-10", locale="zh_Hans_CN", verify_url="http://x/notice/N")
    for words in ("2025 年度盈余分配公示", "公示期：2026-03-01 至 2026-03-10", "监事会", "核验码", "应发金额"):
        assert words in page, words
    assert "Public notice" not in page and "Supervisory board" not in page


def test_the_books_name_the_usual_pools_in_the_words_the_pages_use(zh):
    """The memos of a run's entries are written in Chinese at posting (the books' language); they use the
    catalog's words for the pools, so the books, the run page and the statement call a pool the same."""
    from payouts.runs.labels import BOOKS_POOL_WORDS, POOL_NAME_LABELS

    words = {m.id: m.string for m in messages(zh)}
    assert BOOKS_POOL_WORDS == {name: words[text] for name, text in POOL_NAME_LABELS.items()}
