"""财务公开 as pages.

Staff (within their scope; another tenant's entity is a 404):

* ``/e/<code>/disclosure`` — a year's quarters and months: activity, what is published and when (earlier
  publications of a period shown as superseded), what is due or overdue, and a publish button for each ended period;
* ``/e/<code>/disclosure/preview?period=2025-Q1`` — the figures the books give now, before publishing;
* ``POST /e/<code>/disclosure/publish`` (``period``) — :func:`~payouts.reports.disclosure.operations.publish_disclosure`.

Public (no sign-in, like ``/verify``): ``/d/<code>`` — one publication: the entity, the period, the 公开日期, income
and spending by item, the notable payments with persons' names masked, a QR code of the page's own address, and a
verification line (the figures' hash against the books as they stand now; superseded or not); ``/d/<code>.pdf`` —
its A3 print for the board. Pages use no JavaScript and fit a 360 px phone.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from io import BytesIO

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from cooperatives.access import may
from cooperatives.web.access import current_actor, entity_or_404
from cooperatives.web.auth import limiter
from ledger.clock import china_today
from ledger.web.bounds import year_arg
from ledger.web.support import PUBLIC, STAFF, get_session, rule
from payouts.reports.disclosure import queries
from payouts.reports.disclosure.build import Period, build_disclosure, from_data
from payouts.reports.disclosure.document import disclosure_pdf, public_url_of
from payouts.reports.disclosure.operations import DisclosureError, publish_disclosure
from payouts.statements.render import qr_data_uri

bp = Blueprint("disclosure", __name__)
#: requests per client address to the public pages (the codes are 12 characters of 31: not guessable)
PUBLIC_LIMIT = "60 per minute"
_CODE_CHARS = re.compile(r"[^0-9A-Z]")


def normal_code(text: str) -> str:
    """A code as printed (``ABCD-EFGH-JKMN``) from what was typed or scanned: any case, spaces or none."""
    raw = _CODE_CHARS.sub("", unicodedata.normalize("NFKC", text or "").upper())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def _public_url(publication) -> str:
    return public_url_of(publication, current_app.extensions["coop.settings"].public_url)


def _period_arg(name: str = "period") -> Period | None:
    try:
        return Period.parse(request.values.get(name, ""))
    except ValueError:
        return None


def _last_ended_quarter(today: dt.date) -> Period:
    current = Period.quarter_of(today)
    return Period(current.year - 1, quarter=4) if current.quarter == 1 else Period(current.year,
                                                                                  quarter=current.quarter - 1)


# --------------------------------------------------------------------------------------------------- staff


@bp.get("/e/<code>/disclosure")
@rule(*STAFF, scope="entity")
def index(code: str):
    entity = entity_or_404(code)
    db = get_session()
    today = china_today()
    active = queries.activity(db, {entity.id: entity.book_id})
    year = year_arg() or max((y for (_e, y, _m) in active if y <= today.year), default=today.year)
    if not 1949 <= year <= 2999:
        abort(404)
    published = queries.publications(db, entity.id, year=year)
    by_period: dict[str, list] = {}
    for p in published:
        by_period.setdefault(p.period, []).append(p)
    missing = {m.quarter.key for m in queries.missing_quarters(
        active, queries.published_keys(db, [entity.id], today=today), today=today, year=year)}
    rows = []
    for quarter in range(1, 5):
        q = Period(year, quarter=quarter)
        for period in (q, *(Period(year, month=m) for m in q.months)):
            rows.append({"period": period, "entries": sum(active.get((entity.id, year, m), 0) for m in period.months),
                         "publications": by_period.get(period.key, []), "ended": period.end < today,
                         "due": queries.due_on(period) if period.quarter else None,
                         "overdue": period.key in missing})
    years = sorted({y for (_e, y, _m) in active} | {year})
    return render_template("payouts/disclosure/index.html", entity=entity, code=entity.code, year=year, rows=rows,
                           years=years, can_publish=may(db, current_actor(), publish_disclosure, entity, None),
                           published_on=queries.published_on, grace=queries.GRACE_DAYS)


@bp.get("/e/<code>/disclosure/preview")
@rule(*STAFF, scope="entity")
def preview(code: str):
    entity = entity_or_404(code)
    db = get_session()
    today = china_today()
    period = _period_arg() or _last_ended_quarter(today)
    current = queries.current_publication(db, entity.id, period)
    return render_template("payouts/disclosure/preview.html", entity=entity, code=entity.code,
                           d=build_disclosure(db, entity, period), current=current, ended=period.end < today,
                           can_publish=may(db, current_actor(), publish_disclosure, entity, period),
                           published_on=queries.published_on)


@bp.post("/e/<code>/disclosure/publish")
@rule("admin", "accountant", write=True, scope="entity")
def publish(code: str):
    entity = entity_or_404(code, write=True)
    period = _period_arg()
    if period is None:
        flash(_("Choose a quarter or a month to publish."), "error")
        return redirect(url_for(".index", code=entity.code))
    db = get_session()
    try:
        publication = publish_disclosure(db, entity, period, actor=current_actor())
        db.commit()
    except DisclosureError as exc:
        db.rollback()
        flash(exc.problem.text(_), "error")
        return redirect(url_for(".index", code=entity.code, year=period.year))
    except IntegrityError:           # published a moment ago by another request (a double click)
        db.rollback()
        flash(_("The disclosure of %(period)s is already published and the books have not changed since.",
                period=period.key), "error")
        return redirect(url_for(".index", code=entity.code, year=period.year))
    flash(_("The disclosure of %(period)s is published: %(url)s", period=period.key,
            url=_public_url(publication)))
    return redirect(url_for(".index", code=entity.code, year=period.year))


# -------------------------------------------------------------------------------------------------- public


def _publication_or_404(code: str):
    publication = queries.publication_by_code(get_session(), normal_code(code))
    if publication is None:
        abort(404)
    return publication


@bp.get("/d/<code>")
@rule(*PUBLIC, scope="public")
@limiter.limit(PUBLIC_LIMIT)
def public(code: str):
    db = get_session()
    publication = _publication_or_404(code)
    data = publication.content
    url = _public_url(publication)
    return render_template("payouts/disclosure/public.html", publication=publication, d=from_data(data),
                           entity=data["entity"], standing=queries.standing(db, publication),
                           published_on=queries.published_on, url=url, qr=qr_data_uri(url))


@bp.get("/d/<code>.pdf")
@rule(*PUBLIC, scope="public")
@limiter.limit(PUBLIC_LIMIT)
def public_pdf(code: str):
    publication = _publication_or_404(code)
    pdf = disclosure_pdf(get_session(), publication,
                         public_url=current_app.extensions["coop.settings"].public_url)
    return send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"disclosure-{publication.content['entity']['code']}-{publication.period}-"
                                   f"{publication.code}.pdf")
