"""The 财务公开 printed for the village board (公开栏): one A3 document per publication, through the one document
module (``payouts.statements.render``: :func:`render_document`, :func:`html_to_pdf`), from the publication's frozen
figures — so a print made years later is the same — with its 公开日期, its code, the address of its public page and
that address as a QR code.

:func:`disclosure_pdf` is the whole of it for callers without Flask (an archive of a year's publications):
``disclosure_pdf(session, publication, public_url=settings.public_url)`` → PDF bytes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from payouts.models import DisclosurePublication
from payouts.reports.disclosure.build import from_data
from payouts.reports.disclosure.queries import published_on
from payouts.statements.render import html_to_pdf, qr_data_uri, render_document

TEMPLATE = "disclosure.html"


def public_url_of(publication: DisclosurePublication, public_url: str) -> str:
    """The address of the publication's public page (what its QR code holds)."""
    return f"{public_url.rstrip('/')}/d/{publication.code}"


def disclosure_html(session: Session, publication: DisclosurePublication, *, public_url: str,
                    locale: str = "zh_Hans_CN") -> str:
    """The A3 document as HTML (``templates/statements/disclosure.html``). One query (the publication it corrects,
    if any)."""
    data = publication.content
    earlier = None
    if publication.supersedes_id is not None:
        earlier = session.scalar(select(DisclosurePublication).where(
            DisclosurePublication.id == publication.supersedes_id))
    url = public_url_of(publication, public_url)
    return render_document(TEMPLATE, locale=locale, d=from_data(data), entity=data["entity"],
                           published=published_on(publication).isoformat(), code=publication.code, verify_url=url,
                           qr=qr_data_uri(url), corrects=published_on(earlier).isoformat() if earlier else None)


def disclosure_pdf(session: Session, publication: DisclosurePublication, *, public_url: str) -> bytes:
    """The publication printed: an A3 PDF with the CJK font embedded (Chinese text extractable). ``public_url`` is the
    site's address as people reach it (``Settings.public_url``), for the QR code and the printed link."""
    return html_to_pdf(disclosure_html(session, publication, public_url=public_url))


def archive_parts(session: Session, entity, year: int, *, public_url: str | None = None
                  ) -> list[tuple[str, str, str | None, bytes | None]]:
    """Every publication of ``entity`` for a period of ``year`` — the current ones and those superseded — for a
    year's archive: ``(path, title, html, data)``, the A3 document as HTML to print (``html_to_pdf``) and the frozen
    figures as JSON (``data``). ``public_url``: the site's address for the QR codes (``Settings.public_url``; its
    default when not given)."""
    from payouts.reports.disclosure.queries import publications
    from payouts.settings import Settings

    base = public_url or Settings.__dataclass_fields__["public_url"].default
    found = publications(session, entity.id, year=year)
    newest = {p.period: p.id for p in found}
    out: list[tuple[str, str, str | None, bytes | None]] = []
    for p in found:
        label = from_data(p.content).period.label
        state = "" if newest[p.period] == p.id else "，已被更正"
        name = f"disclosure/{p.period}-{p.code}"
        title = f"财务公开 {label}（{published_on(p).isoformat()} 公开{state}）"
        out.append((f"{name}.pdf", title, disclosure_html(session, p, public_url=base), None))
        out.append((f"{name}.json", f"{title}（JSON）", None, p.data.encode()))
    return out
