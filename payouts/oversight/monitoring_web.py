"""Monitored households (防止返贫监测对象, issue 18 §4) in the township auditor's workspace, on the oversight blueprint:

* ``/oversight/monitoring`` — every household of the township monitored during the year
  (:func:`payouts.oversight.monitoring.monitored_incomes`) with its income from every entity by channel, beside the
  year before, per person, and its warnings; filters by village, category and warning (a GET form, no script); a chart
  of income by channel; each household linked to its member page in the entity of the township where it received most;
  the supported entities that reached no monitored household (``no_linkage``).
* ``/oversight/monitoring/lists`` — the county's list uploaded by the township's staff
  (:func:`cooperatives.monitoring.import_monitoring_list`, for the auditor's township), the lists imported so far with
  their counts, unmatched rows and conflicts; a refused list shows every problem (422) and imports nothing.
* ``/oversight/monitoring.xlsx`` and ``.csv`` — for the county: one row per household × entity × channel.

The category is shown here and in these exports only (the auditor's and the county's), never to members. Each page
costs a fixed number of statements, whatever the number of households (tests/web/test_monitoring_pages.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from cooperatives.models import MONITORING, MONITORING_CATEGORIES, Entity, Member, MonitoringList, Township
from cooperatives.monitoring import MonitoringError, import_monitoring_list, listed_rows, read_monitoring_upload
from cooperatives.privacy import mask_name
from cooperatives.web.access import current_actor
from ledger.i18n import N_, as_message
from ledger.web.support import get_session, rule
from payouts.oversight import exports
from payouts.oversight.charts import bar_chart
from payouts.oversight.linkage import CHANNELS, Benefit, household_benefits
from payouts.oversight.monitoring import MonitoredIncome, monitored_incomes, no_linkage_entities
from payouts.oversight.tables import Column, Table
from payouts.oversight.web import READERS, _chosen_year, _money, _township, _townships, _with_year, _years, bp

#: the channels' labels (the benefit-linkage table's)
CHANNEL_LABELS = {"dividends": N_("Dividends"), "wages": N_("Wages"), "produce": N_("Produce purchases"),
                  "land_rent": N_("Land rent")}
#: ``?warning=``: any warning, or one rule
WARNINGS = {"any": N_("Any warning"), "nothing_received": N_("Received nothing"), "income_fell": N_("Income fell")}
COLUMNS = (
    Column("household", N_("Household code")),
    Column("head_name", N_("Head of household")),
    Column("village", N_("Village")),
    Column("category", N_("Monitoring category")),
    *[Column(channel, CHANNEL_LABELS[channel], "money", total=True) for channel in CHANNELS],
    Column("total", N_("Total"), "money", total=True),
    Column("previous_total", N_("Total the year before"), "money", total=True),
    Column("persons", N_("Persons"), "int", total=True),
    Column("per_person", N_("Per person"), "money"),
    Column("warnings", N_("Warnings")),
)
EXPORT_COLUMNS = (
    Column("household", N_("Household code")),
    Column("head_name", N_("Head of household")),
    Column("village", N_("Village")),
    Column("category", N_("Monitoring category")),
    Column("entity", N_("Entity")),
    Column("channel", N_("Channel")),
    Column("amount", N_("Amount"), "money", total=True),
    Column("year", N_("Year"), "int"),
)
#: households by 500 in an ``IN`` list (the statements grow by one per 500 households, not per household)
CHUNK = 500


@dataclass
class Filters:
    village: str = ""
    category: str = ""
    warning: str = ""

    def keep(self, row: MonitoredIncome) -> bool:
        rules = {w.rule for w in row.warnings}
        return ((not self.village or row.village == self.village)
                and (not self.category or row.category == self.category)
                and (not self.warning or (bool(rules) if self.warning == "any" else self.warning in rules)))

    def args(self) -> dict:
        return {k: v for k, v in (("village", self.village), ("category", self.category), ("warning", self.warning))
                if v}


def _filters() -> Filters:
    category = request.args.get("category", "")
    warning = request.args.get("warning", "")
    return Filters(request.args.get("village", "")[:100], category if category in MONITORING_CATEGORIES else "",
                   warning if warning in WARNINGS else "")


@dataclass
class Monitored:
    """What the page and the export show for a township and year (a fixed number of statements)."""

    rows: list[MonitoredIncome]
    #: household id -> {entity id: its Benefit in the year}
    by_entity: dict[int, dict[int, Benefit]] = field(default_factory=dict)
    #: entity id -> (code, name, township id)
    entities: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    #: household id -> (entity code, member code): the member page in the township's entity where it received most
    links: dict[int, tuple[str, str]] = field(default_factory=dict)


def _monitored(township: Township, year: int) -> Monitored:
    session = get_session()
    rows = monitored_incomes(session, township_id=township.id, year=year)
    found = Monitored(rows)
    if not rows:
        return found
    ids = {r.household_id for r in rows}
    previous: dict[tuple[int, int], Decimal] = {}
    for (entity_id, household_id, at), benefit in household_benefits(
            session, entity_ids=session.scalars(select(Entity.id)).all(), years=[year - 1, year]).items():
        if household_id in ids:
            if at == year:
                found.by_entity.setdefault(household_id, {})[entity_id] = benefit
            else:
                previous[(household_id, entity_id)] = benefit.total
    memberships: dict[int, list[tuple[int, str, str]]] = {}
    ordered = sorted(ids)
    for at in range(0, len(ordered), CHUNK):
        for entity_id, household_id, entity_code, member_code in session.execute(
                select(Member.entity_id, Member.household_id, Entity.code, Member.code)
                .join(Entity, Entity.id == Member.entity_id)
                .where(Member.household_id.in_(ordered[at:at + CHUNK]), Entity.township_id == township.id)
                .order_by(Entity.code)):
            memberships.setdefault(household_id, []).append((entity_id, entity_code, member_code))
    for household_id, options in memberships.items():
        this_year = found.by_entity.get(household_id, {})
        best = max(options, key=lambda o: (this_year[o[0]].total if o[0] in this_year else Decimal(0),
                                           previous.get((household_id, o[0]), Decimal(0))))
        found.links[household_id] = (best[1], best[2])
    entity_ids = sorted({e for benefits in found.by_entity.values() for e in benefits})
    if entity_ids:
        found.entities = {row[0]: (row[1], row[2], row[3]) for row in session.execute(
            select(Entity.id, Entity.code, Entity.name, Entity.township_id).where(Entity.id.in_(entity_ids)))}
    return found


def _category(code: str) -> str:
    return _(MONITORING.get(code, code))


def _table(rows: list[MonitoredIncome]) -> Table:
    table = Table(COLUMNS)
    for row in rows:
        table.rows.append({
            "household_id": row.household_id, "household": row.household, "head_name": mask_name(row.head_name),
            "village": row.village, "category": _category(row.category),
            **{channel: getattr(row.income, channel) for channel in CHANNELS},
            "total": row.total, "previous_total": row.previous_total, "persons": row.persons,
            "per_person": row.per_person,
            "warnings": " ".join(w.message.translate(_) for w in row.warnings),
            "rules": [w.rule for w in row.warnings]})
    return table.with_totals()


def _export_table(monitored: Monitored, rows: list[MonitoredIncome], year: int) -> Table:
    """One row per household × entity × channel with an amount; a household that received nothing: one row with
    no entity and 0, so the county sees every household of its list."""
    table = Table(EXPORT_COLUMNS)
    for row in rows:
        head = {"household": row.household, "head_name": row.head_name, "village": row.village,
                "category": _category(row.category)}
        benefits = monitored.by_entity.get(row.household_id, {})
        lines = [(monitored.entities[e][0], monitored.entities[e][1], channel, getattr(benefit, channel))
                 for e, benefit in benefits.items() for channel in CHANNELS if getattr(benefit, channel)]
        for _code, name, channel, amount in sorted(lines, key=lambda line: (line[0], CHANNELS.index(line[2]))):
            table.rows.append({**head, "entity": name, "channel": _(CHANNEL_LABELS[channel]), "amount": amount,
                               "year": year})
        if not lines:
            table.rows.append({**head, "entity": "", "channel": "", "amount": Decimal("0.00"), "year": year})
    return table.with_totals()


def _chart(rows: list[MonitoredIncome], year: int):
    """Income by channel of the households shown, this year beside the year before."""
    if not rows:
        return bar_chart([], ())
    groups = [(_(CHANNEL_LABELS[channel]), [sum((getattr(r.previous, channel) for r in rows), Decimal(0)),
                                            sum((getattr(r.income, channel) for r in rows), Decimal(0))])
              for channel in CHANNELS]
    return bar_chart(groups, (_("Year %(year)s", year=year - 1), _("Year %(year)s", year=year)), fmt=_money)


@bp.get("/monitoring")
@rule(*READERS, scope="township")
def monitoring():
    township = _township()
    year = _chosen_year(township)
    years = _with_year(_years(township), year)
    monitored = _monitored(township, year)
    filters = _filters()
    shown = [r for r in monitored.rows if filters.keep(r)]
    counts = {rule_: sum(1 for r in monitored.rows if any(w.rule == rule_ for w in r.warnings))
              for rule_ in ("nothing_received", "income_fell")}
    return render_template(
        "oversight/monitoring.html", township=township, townships=_townships(), year=year, years=years,
        table=_table(shown), links=monitored.links, chart=_chart(shown, year), filters=filters,
        villages=sorted({r.village for r in monitored.rows}), CATEGORIES=MONITORING_CATEGORIES,
        MONITORING=MONITORING, WARNINGS=WARNINGS, total_count=len(monitored.rows), counts=counts,
        no_linkage=[(item.entity, item.message.translate(_))
                    for item in no_linkage_entities(get_session(), township_id=township.id, year=year)])


@bp.get("/monitoring.xlsx")
@rule(*READERS, scope="township")
def monitoring_xlsx():
    return _export("xlsx")


@bp.get("/monitoring.csv")
@rule(*READERS, scope="township")
def monitoring_csv():
    return _export("csv")


def _export(fmt: str):
    """The county's form: per household × entity × channel, the households shown by the page's filters."""
    township = _township()
    year = _chosen_year(township)
    monitored = _monitored(township, year)
    filters = _filters()
    table = _export_table(monitored, [r for r in monitored.rows if filters.keep(r)], year)
    stem = f"monitoring-{year}"
    if fmt == "csv":
        body, mime = exports.to_csv(table, gettext=_, total_label=_("Total")), exports.CSV_MIME
    else:
        subtitle = " · ".join((township.name, _("Year %(year)s", year=year), _("Unit: yuan")))
        body = exports.to_xlsx(table, title=_("Monitored households"), subtitle=subtitle, gettext=_,
                               total_label=_("Total"))
        mime = exports.XLSX_MIME
    return send_file(BytesIO(body), mimetype=mime, as_attachment=True, download_name=f"{stem}.{fmt}")


# ------------------------------------------------------------------------------------------ the county's lists

#: lists shown in the history, newest first
RECENT_LISTS = 50


def _lists_page(township: Township, *, problems=None, error=None, status=200):
    session = get_session()
    lists = session.scalars(
        select(MonitoringList).where(MonitoringList.township_id == township.id)
        .order_by(MonitoringList.id.desc()).limit(RECENT_LISTS)).all()
    listed = {}
    for record in lists:                     # each listed row's reason in the reader's language
        rows = listed_rows(record)
        for item in (*rows.unmatched, *rows.conflicts):
            item["text"] = item["message"].translate(_)
        listed[record.id] = rows
    return render_template("oversight/monitoring_lists.html", township=township, townships=_townships(),
                           lists=lists, listed=listed, problems=problems or [], error=error,
                           MONITORING=MONITORING, shown=request.args.get("list", "")), status


@bp.get("/monitoring/lists")
@rule(*READERS, scope="township")
def monitoring_lists():
    return _lists_page(_township())


@bp.post("/monitoring/lists")
@rule("auditor", "admin", scope="township")     # the township's own record of the county's list; no book is touched
def upload_monitoring_list():
    """Import the county's list for the township (:func:`cooperatives.monitoring.import_monitoring_list`): its
    households' periods opened and closed; refused whole, with every problem, when the file is wrong."""
    township = _township()
    session = get_session()
    upload = request.files.get("list")
    if upload is None or not upload.filename:
        return _lists_page(township, error=_("Choose a file to upload."), status=422)
    try:
        source = read_monitoring_upload(upload.read(), upload.filename)
        record = import_monitoring_list(session, source, township=township, actor=current_actor())
    except MonitoringError as exc:
        session.rollback()
        problems = [{"sheet": p.sheet, "row": p.row, "column": p.column, "reason": as_message(p.reason).translate(_)}
                    for p in exc.problems]
        return _lists_page(township, problems=problems, status=422)
    session.commit()
    flash(_("List imported: %(rows)s rows, %(matched)s matched, %(unmatched)s unmatched, %(opened)s periods opened, "
            "%(closed)s closed, %(conflicts)s conflicts.", rows=record.rows, matched=record.matched,
            unmatched=record.unmatched, opened=record.opened, closed=record.closed, conflicts=record.conflicts))
    args = {"township": township.id} if current_user.role == "admin" else {}
    if record.unmatched or record.conflicts:
        flash(_("Rows the township should look at are listed below."), "error")
    return redirect(url_for(".monitoring_lists", list=record.id, **args) + f"#list-{record.id}")
