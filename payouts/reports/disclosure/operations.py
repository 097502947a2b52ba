"""Publishing the 财务公开: the accountant's one write here, with its one access rule (the entity's books).

A publication freezes the figures the books give at that moment (:func:`build.to_data`, JSON; its hash), the
moment, who, and a public code for its page and QR code. It is never edited: publishing the period again after a
correction adds a publication that supersedes the one before, which stays (shown as superseded).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from cooperatives.access import Principal, keeps_books, operation
from cooperatives.models import Entity
from cooperatives.operations import audit
from ledger.errors import Problem
from ledger.i18n import N_, msg
from payouts.models import DisclosurePublication
from payouts.reports.disclosure.build import Period, build_disclosure, canonical, digest_of_data, to_data
from payouts.reports.disclosure.queries import china_date, current_publication
from payouts.statements.context import new_code


class DisclosureError(ValueError):
    """Refused for a reason the accountant can act on: ``problem`` says why, translatably."""

    def __init__(self, template: str, *, code: str, **params):
        self.problem = Problem.of(msg(template, code=code, **params), "period")
        self.problems = [self.problem]
        super().__init__(str(self.problem.reason))


@operation(keeps_books())
def publish_disclosure(session: Session, entity: Entity, period: Period, *, actor: Principal,
                       at: dt.datetime | None = None) -> DisclosurePublication:
    """Publish ``entity``'s 财务公开 of ``period`` as its books stand now (flushes; the caller commits).

    ``at``: the moment of publication (now by default; the demo dates its publications on its own time line).
    Refused (:class:`DisclosureError`) while the period has not ended, for a period that ends before the books
    start, and when the period's current publication already shows the books as they are (nothing to correct).
    """
    at = at or dt.datetime.now(dt.UTC)
    if china_date(at) <= period.end:                 # the period ends at midnight in China, not in UTC
        raise DisclosureError(N_("%(period)s has not ended yet: its disclosure is published after %(end)s."),
                              period=period.key, end=period.end.isoformat(), code="period_not_ended")
    start = entity.book_in(period.year).books_start
    if start is not None and period.end < start:
        raise DisclosureError(N_("The books start on %(start)s: there is nothing to disclose for %(period)s."),
                              start=start.isoformat(), period=period.key, code="before_books")
    data = to_data(build_disclosure(session, entity, period))
    digest = digest_of_data(data)
    current = current_publication(session, entity.id, period)
    if current is not None and current.digest == digest:
        raise DisclosureError(N_("The disclosure of %(period)s is already published and the books have not changed "
                                 "since."), period=period.key, code="unchanged")
    data["entity"] = {"code": entity.code, "name": entity.name, "kind": entity.kind,
                      "township": entity.township.name, "village": entity.village.name if entity.village else None}
    publication = DisclosurePublication(
        entity_id=entity.id, period=period.key, starts_on=period.start, ends_on=period.end, code=new_code(),
        digest=digest, published_at=at, published_by=actor.user_id, data=canonical(data),
        supersedes_id=current.id if current is not None else None)
    session.add(publication)
    session.flush()
    audit(session, actor_id=actor.user_id, action="publish-disclosure", target=f"disclosure:{publication.id}",
          entity_id=entity.id, detail=period.key)
    return publication
