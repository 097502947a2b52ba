"""The document module: statements, the public notice list, vouchers, the books, the 附注, the member
accounts and the 财务公开 rendered to HTML and PDF — no Flask, so the CLI batch, the archive, the Celery
workers and the web pages share one code path. Every printed document is a template under
``templates/statements/`` rendered by :func:`render_document` and printed by :func:`html_to_pdf`.

PDFs are made by WeasyPrint with a URL fetcher that serves only ``data:`` URIs and files inside the
app's static folder: a statement can never fetch from the network or read elsewhere on the disk,
whatever text ended up in a name or memo. One FontConfiguration is reused per process (font loading
is the expensive part of the first render).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

import segno
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cooperatives.models import CAPITAL_FORMS
from cooperatives.privacy import mask_name
from ledger.books import direction
from ledger.i18n import N_, format_money
from payouts.runs.labels import BOOKS_POOL_WORDS, POOL_NAME_LABELS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "statements"
STATIC = ROOT / "payouts" / "static"
TRANSLATIONS = ROOT / "payouts" / "translations"
POOL_LABELS = {"zh": BOOKS_POOL_WORDS, "en": dict(POOL_NAME_LABELS)}       # the notice list's, as the pages say


DEDUCTION_LABELS = {"inputs": N_("Inputs on credit"), "advances": N_("Advances"), "debt": N_("Earlier debts")}


class RefusedFetch(ValueError):
    pass


def _lang(locale: str) -> str:
    return "zh" if str(locale).startswith("zh") else "en"


def _qty(value) -> str:
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.normalize():,f}"


@functools.lru_cache(maxsize=4)
def environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(Translations.load(str(TRANSLATIONS), [locale], domain="messages"), newstyle=True)
    lang = _lang(locale)
    env.filters["money"] = lambda v: format_money(Decimal(str(v)), locale="zh_Hans_CN" if lang == "zh" else "en")
    env.filters["qty"] = _qty
    env.globals["pool_label"] = lambda name: POOL_LABELS[lang].get(name, name)
    env.globals["lang"] = lang
    # Chinese text takes full-width punctuation: 交售产品：藤茶鲜叶, 股金（现金）
    env.globals.update(colon="：" if lang == "zh" else ": ", open_paren="（" if lang == "zh" else " (",
                       close_paren="）" if lang == "zh" else ")")
    env.globals["FORM_LABELS"] = CAPITAL_FORMS
    env.globals["DEDUCTION_LABELS"] = DEDUCTION_LABELS
    env.globals["qr_data_uri"] = qr_data_uri
    env.globals["direction"] = direction
    env.globals["is_amount"] = lambda value: isinstance(value, Decimal)
    return env


def qr_data_uri(text: str) -> str:
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2)


def render_statement_html(data: dict, *, locale: str = "zh_Hans_CN", verify_url: str,
                          css_href: str = "statement.css") -> str:
    """The statement as a standalone HTML document (for the PDF, or saved as a file)."""
    return environment(locale).get_template("statement.html").render(
        s=data, verify_url=verify_url, qr=qr_data_uri(verify_url), css_href=css_href)


def render_statement_body(data: dict, *, locale: str, verify_url: str) -> str:
    """Just the statement's content, for embedding in the web page."""
    return environment(locale).get_template("_statement_body.html").render(
        s=data, verify_url=verify_url, qr=qr_data_uri(verify_url))


def render_notice_html(run: dict, statements: list[dict], *, entity: dict, notice_from: str, notice_until: str,
                       locale: str = "zh_Hans_CN", verify_url: str, css_href: str = "statement.css") -> str:
    """The public notice list (公示表): every household's bases and amounts, names masked, no IDs."""
    members = []
    for s in sorted(statements, key=lambda s: s["member"]["member_no"]):
        members.append({"member_no": s["member"]["member_no"], "masked_name": mask_name(s["member"]["name"]),
                        "by_pool": {ln["pool"]: ln for ln in s["lines"]}, "total": s["total"],
                        "deductions": s["deductions_total"], "net": s["net"]})
    reserves = sum((Decimal(r["amount"]) for r in run["reserves"]), Decimal(0))
    return environment(locale).get_template("notice.html").render(
        run=run, entity=entity, members=members, reserves=reserves, notice_from=notice_from,
        notice_until=notice_until, verify_url=verify_url, qr=qr_data_uri(verify_url), css_href=css_href)


def render_document(template: str, *, locale: str = "zh_Hans_CN", css_href: str = "statement.css", **context) -> str:
    """Any printed document: ``templates/statements/<template>`` rendered with ``context`` (``money``, ``qty``
    filters; ``qr_data_uri`` for a verification code)."""
    return environment(locale).get_template(template).render(css_href=css_href, **context)


def document_pdf(template: str, **context) -> bytes:
    """:func:`render_document` printed to PDF."""
    return html_to_pdf(render_document(template, **context))


def _fetcher():
    """WeasyPrint URL fetcher: ``data:`` URIs and files inside the static folder; everything else refused."""
    from urllib.request import url2pathname

    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file:"):
                path = Path(url2pathname(url.split("?")[0].removeprefix("file:"))).resolve()
                if path.is_file() and STATIC.resolve() in path.parents:
                    kind = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}.get(path.suffix)
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind or "application/octet-stream"})
            raise RefusedFetch(f"statements fetch nothing outside the app's static folder: {url[:80]}")

    return StaticOnlyFetcher(allowed_protocols=("data", "file"), allow_redirects=False, timeout=2)


@functools.lru_cache(maxsize=1)
def _fonts():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def html_to_pdf(html: str) -> bytes:
    """A4 PDF with the CJK font subset embedded (WeasyPrint's defaults: HarfBuzz subset, compressed
    streams). The size is the font's: statement.css prints in one TrueType face, WenQuanYi Micro Hei, so a
    one-page statement is ~30 KB (tests/payouts/test_statement_size.py holds it under 150 KB)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(STATIC) + "/", url_fetcher=_fetcher()).write_pdf(font_config=_fonts())
