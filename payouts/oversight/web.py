"""The township auditor's workspace (乡镇农经站 / 三资监管) under ``/oversight``: the overview with its charts,
an entity's drill-down, run review, integrity checks, anomalies, benefit linkage (联农带农), audit opinions,
and every table as XLSX and CSV.

Auditors see their own township and nothing else; an admin picks a township (``?township=<id>``).
Accountants and members are refused (403). The only writes are the auditor's own records — integrity
checks, audit opinions and notes that a finding was handled — never the books: every route of the books stays
refused to auditors. The entity's side (``/e/<code>/findings``, blueprint ``findings``) shows its accountant the
township's findings about the entity, with the notes, and lets the accountant mark them handled too.
Each page costs a fixed number of statements, whatever the number of villages, entities, households
or years (tests/web/test_oversight_queries.py).
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import distinct, func, select

from cooperatives.models import MONITORING, Entity, EntityLink, Township
from cooperatives.operations import RecordError, link_member_entity
from cooperatives.web.access import current_actor, entity_or_404
from ledger.models import Posting
from ledger.schema_text import field_words
from ledger.web.support import get_session, rule, said
from payouts.models import Objection, PayoutRun
from payouts.oversight import exports
from payouts.oversight.anomalies import MESSAGES, RULES, TOWNSHIP_ONLY_RULES, find_anomalies, findings_table
from payouts.oversight.charts import bar_chart
from payouts.oversight.handling import NoteRefused, china, handlings, mark_handled
from payouts.oversight.integrity import check_integrity, history_table, latest_checks
from payouts.oversight.linkage import linkage_households, linkage_table
from payouts.oversight.opinions import (
    VERDICTS,
    OpinionSchema,
    latest_opinions,
    opinions_table,
    record_opinion,
)
from payouts.oversight.overview import build_overview, default_year, households_of, kind_labels, township_entities
from payouts.oversight.review import runs_table
from payouts.runs.labels import RULE_LABELS, STATUS_LABELS

bp = Blueprint("oversight", __name__, url_prefix="/oversight")
READERS = ("auditor", "admin")
#: the tables that can be downloaded, and their titles
EXPORT_TITLES = {
    "overview": lambda: _("Township overview"), "runs": lambda: _("Run review"),
    "anomalies": lambda: _("Anomalies"), "linkage": lambda: _("Benefit linkage"),
    "integrity": lambda: _("Integrity checks"), "opinions": lambda: _("Audit opinions"),
}


# ------------------------------------------------------------------------------------------- scope


def _township() -> Township:
    """The auditor's own township; for an admin the one asked for (``township``), else the first."""
    session = get_session()
    if current_user.role == "auditor":
        township_id = current_user.township_id
    else:
        raw = request.values.get("township", "")
        township_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
        code = (request.view_args or {}).get("code")
        if township_id is None and code:          # an entity's page: its own township (H3: authz matrix)
            township_id = session.scalar(select(Entity.township_id).where(Entity.code == code))
        if township_id is None:
            township_id = session.scalar(select(Township.id).order_by(Township.name).limit(1))
    township = session.get(Township, township_id) if township_id is not None else None
    if township is None:
        abort(404)
    g.oversight_township = township.id
    return township


def _entity_in(township: Township, code: str) -> Entity:
    entity = entity_or_404(code)
    if entity.township_id != township.id:
        abort(404)
    return entity


def _entity_scope(code: str) -> tuple[Township, Entity]:
    """(township, entity) for an entity's page: an admin who named no township gets the entity's own."""
    if current_user.role == "admin" and not request.values.get("township"):
        entity = entity_or_404(code)
        g.oversight_township = entity.township_id
        return entity.township, entity
    township = _township()
    return township, _entity_in(township, code)


def _year_arg(name: str = "year") -> int | None:
    raw = request.args.get(name, "")
    if raw.isascii() and raw.isdigit() and len(raw) == 4 and 1949 <= int(raw) <= 2999:
        return int(raw)
    return None


#: ``?year=all``: every year at once, where a page offers it
ALL_YEARS = "all"


def _chosen_year(township: Township, *, allow_all: bool = False) -> int | None:
    """The year asked for, else the township's default (:func:`payouts.oversight.overview.default_year`: the latest
    year with a posted run, else last year) — never the newest year with any data. ``?year=all`` gives None (every
    year) where ``allow_all``."""
    if allow_all and request.args.get("year") == ALL_YEARS:
        return None
    return _year_arg() or default_year(get_session(), township.id)


def _with_year(years: list[int], year: int | None) -> list[int]:
    """The years offered by the year selector, newest first: those with data, and the one shown."""
    return sorted({*years, *([year] if year else [])}, reverse=True)


def _years(township: Township) -> list[int]:
    """Years with any posting or run in the township, newest first (one statement)."""
    books = select(Entity.book_id).where(Entity.township_id == township.id)
    runs = (select(PayoutRun.year).join(Entity, Entity.id == PayoutRun.entity_id)
            .where(Entity.township_id == township.id))
    stmt = select(distinct(Posting.year)).where(Posting.book_id.in_(books)).union(runs)
    return sorted({int(y) for y in get_session().scalars(stmt)}, reverse=True)


@bp.context_processor
def _helpers():
    """``ov_args``: the township argument an admin's links carry; labels shared by the pages."""
    args = {}
    if current_user.is_authenticated and current_user.role == "admin" and g.get("oversight_township"):
        args["township"] = g.oversight_township
    return {"ov_args": args, "VERDICTS": VERDICTS, "ov_time": china, "ALL_YEARS": ALL_YEARS}


@bp.app_context_processor
def _opinion_lookup():
    """``audit_opinions(entity)`` for the entity page: the opinion in force per year, newest year first."""
    def audit_opinions(entity):
        found = latest_opinions(get_session(), [entity.id])
        return [found[k] for k in sorted(found, key=lambda k: -k[1])]

    return {"audit_opinions": audit_opinions, "VERDICT_LABELS": VERDICTS, "ov_time": china}


# ------------------------------------------------------------------------------------------- tables


def _status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


def _checks_label(passed: int, total: int) -> str:
    return _("%(passed)s of %(total)s passed", passed=passed, total=total)


def _overview_table(township: Township, year: int | None, entity_id: int | None = None):
    ov = build_overview(get_session(), township.id, entity_id=entity_id)
    return ov, ov.table(year=year, kinds=kind_labels(_))


def _runs(township: Township, year: int | None, entity_id: int | None = None):
    return runs_table(get_session(), township.id, year=year, entity_id=entity_id, status_label=_status_label,
                      checks_label=_checks_label)


def _integrity(township: Township, entity_id: int | None = None):
    return history_table(get_session(), township.id, ok_label=_("Verified, no difference"),
                         problems_label=_("Differences found"), entity_id=entity_id)


def _opinions(township: Township, entity_id: int | None = None):
    return opinions_table(get_session(), township.id, verdict_label=lambda v: _(VERDICTS[v]),
                          entity_id=entity_id, superseded_label=_("superseded"))


def _findings(township: Township, year: int | None, entity_id: int | None):
    threshold = getattr(current_app.extensions["coop.settings"], "cash_payment_threshold", None)
    return find_anomalies(get_session(), township_id=township.id, year=year, entity_id=entity_id,
                          cash_threshold=threshold)


def _linkage(township: Township, year: int):
    return linkage_table(get_session(), township_id=township.id, year=year)


def _entity_arg(township: Township) -> Entity | None:
    code = request.args.get("entity", "")
    return _entity_in(township, code) if code else None


def _export_table(name: str, township: Township):
    """The table ``name`` exactly as its page shows it (same arguments, same rows, same totals)."""
    year = _year_arg()
    if name == "overview":
        return _overview_table(township, year)[1]
    if name == "runs":
        return _runs(township, year)
    if name == "integrity":
        return _integrity(township)
    if name == "opinions":
        return _opinions(township)
    if name == "anomalies":
        entity = _entity_arg(township)
        findings = _findings(township, year, entity.id if entity else None)
        notes = handlings(get_session(), sorted({f.entity_id for f in findings}))
        table = findings_table(findings, notes)
        for row in table.rows:           # the rule's title and the finding in the reader's language
            title, message = row["rule"], row["message"]
            row["rule"], row["detail"] = _(title), _(message, **said(row["params"]))
            row["action"] = _(row["action"])
        return table
    if name == "linkage":
        return _linkage(township, year or default_year(get_session(), township.id))
    abort(404)


# ------------------------------------------------------------------------------------------- pages


@bp.get("/")
@rule(*READERS, scope="township")
def overview():
    township = _township()
    session = get_session()
    ov = build_overview(session, township.id)
    year = _chosen_year(township)
    table = ov.table(year=year, kinds=kind_labels(_))
    trend = ov.trend()
    income, distributed = _("Collective income"), _("Distributed")
    trend_chart = bar_chart([(_("Year %(year)s", year=t["year"]), [t["income"], t["distributed"]]) for t in trend],
                            (income, distributed), fmt=_money)
    villages = ov.by_village(year) if year else []
    village_chart = bar_chart([(v["name"], [v["income"], v["distributed"]]) for v in villages],
                              (income, distributed), fmt=_money)
    ids = [e.id for e in ov.entities]
    opinions = latest_opinions(session, ids)
    checks = latest_checks(session, ids)
    open_objections = session.scalar(
        select(func.count(Objection.id)).join(PayoutRun, PayoutRun.id == Objection.run_id)
        .join(Entity, Entity.id == PayoutRun.entity_id)
        .where(Entity.township_id == township.id, Objection.status == "open"))
    return render_template(
        "oversight/overview.html", township=township, townships=_townships(), overview=ov, table=table,
        year=year, years=_with_year(ov.years, year), trend=trend, trend_chart=trend_chart, village_chart=village_chart,
        reached=ov.reached.get(year, 0) if year else 0,
        opinions={k[0]: o for k, o in opinions.items() if k[1] == year},
        checks=checks, failing=sum(1 for c in checks.values() if not c.ok), open_objections=open_objections)


def _money(value) -> str:
    from ledger.web.support import money_filter

    return money_filter(value)


def _townships() -> list[Township]:
    if current_user.role != "admin":
        return []
    return list(get_session().scalars(select(Township).order_by(Township.name)))


@bp.get("/e/<code>")
@rule(*READERS, scope="township")
def entity(code: str):
    township, entity_ = _entity_scope(code)
    session = get_session()
    ov, table = _overview_table(township, None, entity_.id)
    checks = latest_checks(session, [entity_.id])
    return render_template(
        "oversight/entity.html", township=township, entity=entity_, table=table,
        runs=_runs(township, None, entity_.id), households=households_of(session, entity_),
        opinions=_opinions(township, entity_.id), checks=_integrity(township, entity_.id),
        latest_check=checks.get(entity_.id), years=ov.years, form={}, errors={}, **_links(entity_))


def _links(project: Entity) -> dict:
    """A cluster project's linked member entities, and the entities of its township that could be linked."""
    if project.kind != "cluster_project":
        return {"linked": [], "linkable": []}
    session = get_session()
    linked = list(session.scalars(select(Entity).join(EntityLink, EntityLink.member_entity_id == Entity.id)
                                  .where(EntityLink.project_id == project.id).order_by(Entity.code)))
    linkable = list(session.scalars(select(Entity).where(
        Entity.township_id == project.township_id, Entity.id != project.id,
        Entity.id.not_in([e.id for e in linked] or [0])).order_by(Entity.code)))
    return {"linked": linked, "linkable": linkable}


@bp.post("/links")
@rule("auditor", "admin", scope="township")     # who owns the project: set by the township, not by its accountant
def link_member():
    """Link an entity of the township to a cluster project of the township: it may then be the project's
    member, and the project's runs book its share in its books (docs/SECURITY.md §2)."""
    session = get_session()
    codes = [request.form.get("project", "")[:40], request.form.get("member", "")[:40]]
    query = select(Entity).where(Entity.code.in_(codes))
    if current_user.role == "auditor":          # the auditor's own township only; the admin's any
        query = query.where(Entity.township_id == current_user.township_id)
    if not all(codes):
        abort(422)
    found = {e.code: e for e in session.scalars(query)}
    if codes[0] not in found or codes[1] not in found:
        abort(404)
    try:
        link_member_entity(session, found[codes[0]], found[codes[1]], actor=current_actor())
        session.commit()
    except RecordError as exc:
        session.rollback()
        flash(exc.problems[0].text(_), "error")
        return redirect(url_for(".entity", code=codes[0]))
    flash(_("%(member)s is linked to %(project)s.", member=found[codes[1]].name, project=found[codes[0]].name))
    return redirect(url_for(".entity", code=codes[0]))


@bp.get("/runs")
@rule(*READERS, scope="township")
def runs():
    township = _township()
    year = _year_arg()
    return render_template("oversight/runs.html", township=township, table=_runs(township, year), year=year,
                           years=_years(township), RULE_LABELS=RULE_LABELS)


@bp.get("/integrity")
@rule(*READERS, scope="township")
def integrity():
    township = _township()
    entities = township_entities(get_session(), township.id)
    return render_template("oversight/integrity.html", township=township, entities=entities,
                           latest=latest_checks(get_session(), [e.id for e in entities]),
                           table=_integrity(township))


@bp.post("/integrity")
@rule(*READERS, scope="township")      # the auditor's own record: verifying reads the books, changes nothing
def run_integrity():
    township = _township()
    session = get_session()
    code = request.form.get("entity", "")
    entities = [_entity_in(township, code)] if code else township_entities(session, township.id)
    results = [check_integrity(session, e, actor=current_actor()) for e in entities]
    session.commit()
    bad = [r for r in results if not r.ok]
    if bad:
        flash(_("%(n)s of %(total)s books show differences: see below.", n=len(bad), total=len(results)), "error")
    else:
        flash(_("%(n)s books verified: no difference.", n=len(results)))
    return redirect(url_for(".integrity", **_admin_args(township)))


def _admin_args(township: Township) -> dict:
    return {"township": township.id} if current_user.role == "admin" else {}


#: ``?show=``: which findings a page lists — those not handled yet (the default), all, or the handled ones
SHOW = ("open", "all", "handled")


def _show_arg() -> str:
    show = request.args.get("show", "")
    return show if show in SHOW else "open"


#: findings the entity's own accountant does not read: they name other entities' households and figures (a bank
#: account several households share, a worker's days in other entities, a monitored household's benefit from every
#: entity) — the township's auditor follows them up
TOWNSHIP_ONLY = {(rule, MESSAGES[message]) for rule, message in (
    ("shared_bank_account", "bank"), ("labor_days_beyond_period", "labor_across"),
    ("monitored_household_benefit", "benefit_fell"), ("monitored_household_benefit", "benefit_nothing"))}


def _findings_view(township: Township, year: int | None, entity_: Entity | None, *, own: bool = False) -> dict:
    """What the anomalies pages show: the findings of the rules, grouped by rule, each with its notes, filtered by
    ``?show=`` (two statements more than the findings themselves). ``own``: the entity's page for its accountant —
    no finding that names another entity's data. A finding is handled once the township's auditor wrote a note on
    it (an accountant's note answers it; the auditor closes it)."""
    findings = _findings(township, year, entity_.id if entity_ else None)
    if own:
        findings = [f for f in findings if (f.rule, f.message) not in TOWNSHIP_ONLY and f.rule not in TOWNSHIP_ONLY_RULES]
    notes = handlings(get_session(), sorted({f.entity_id for f in findings}))
    show = _show_arg()
    by_rule: dict[str, list] = {}
    counts: dict[str, list[int]] = {code: [0, 0] for code in RULES}     # rule -> [open, handled]
    for finding in findings:
        handled = any(h.role in ("auditor", "admin") for h in notes.get((finding.entity_id, finding.key), []))
        counts[finding.rule][1 if handled else 0] += 1
        if show == "all" or (show == "handled") == handled:
            by_rule.setdefault(finding.rule, []).append(finding)
    return {"rules": RULES, "by_rule": by_rule, "notes": notes, "count": len(findings), "show": show,
            "counts": counts, "handled_count": sum(c[1] for c in counts.values())}


@bp.get("/anomalies")
@rule(*READERS, scope="township")
def anomalies():
    township = _township()
    year = _chosen_year(township, allow_all=True)
    entity_ = _entity_arg(township)
    return render_template("oversight/anomalies.html", township=township, year=year,
                           years=_with_year(_years(township), year), entity=entity_,
                           may_handle=current_user.role == "auditor", **_findings_view(township, year, entity_))


def _back_args() -> dict:
    """The page a note was written on (its year, entity and filter), from the form: only known values."""
    args = {}
    year = request.form.get("year", "")
    if year == ALL_YEARS or (year.isascii() and year.isdigit() and len(year) == 4):
        args["year"] = year
    if request.form.get("show", "") in SHOW:
        args["show"] = request.form["show"]
    return args


@bp.post("/anomalies/handled")
@rule("auditor", scope="township")      # the auditor's own record (a note on a finding); the books are not touched
def handle_finding():
    """Mark a finding of an entity of the auditor's township handled, with what was done."""
    township = _township()
    code = request.form.get("entity", "")[:40]
    if not code:
        abort(422)                        # the form always names the finding's entity
    entity_ = _entity_in(township, code)
    back = _back_args()
    if request.form.get("only"):
        back["entity"] = entity_.code
    return _mark(entity_, url_for(".anomalies", **back))


def _mark(entity_: Entity, back: str):
    """Keep the note (:func:`payouts.oversight.handling.mark_handled`) and go back to the page it came from."""
    session = get_session()
    key = request.form.get("key", "")
    try:
        mark_handled(session, entity_, key=key, note=request.form.get("note", ""), actor=current_actor())
    except NoteRefused as exc:
        session.rollback()
        flash(exc.message.translate(_), "error")
        return redirect(back)
    session.commit()
    flash(_("The finding is marked handled."))
    return redirect(f"{back}#f-{_anchor(key)}")


def _anchor(key: str) -> str:
    """An HTML id for a finding's key (letters, digits, ``-`` and ``_`` only)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in key)


@bp.app_template_filter("finding_anchor")
def _finding_anchor(key: str) -> str:
    return _anchor(key)


# ------------------------------------------------------------------------------- the entity's own findings

#: the entity's side: its accountant reads the township's findings about it and marks them handled
entity_bp = Blueprint("findings", __name__, url_prefix="/e/<code>/findings")


@entity_bp.get("")
@rule("accountant", "auditor", "admin", scope="entity")
def entity_findings(code: str):
    """The findings of the township's rules about this entity, with their notes: what the auditor sees of it."""
    entity_ = entity_or_404(code)
    township = entity_.township
    year = _chosen_year(township, allow_all=True)
    return render_template("oversight/entity_findings.html", township=township, entity=entity_, year=year,
                           years=_with_year(_entity_years(entity_), year),
                           may_handle=current_user.role == "accountant",
                           **_findings_view(township, year, entity_, own=current_user.role == "accountant"))


@entity_bp.post("/handled")
@rule("accountant", write=True, scope="entity")
def entity_handle_finding(code: str):
    """The accountant marks a finding about their entity handled, with what was done."""
    entity_ = entity_or_404(code, write=True)
    return _mark(entity_, url_for(".entity_findings", code=entity_.code, **_back_args()))


def _entity_years(entity_: Entity) -> list[int]:
    """Years with a posting or a run of the entity, newest first (one statement)."""
    runs = select(PayoutRun.year).where(PayoutRun.entity_id == entity_.id)
    stmt = select(distinct(Posting.year)).where(Posting.book_id == entity_.book_id).union(runs)
    return sorted({int(y) for y in get_session().scalars(stmt)}, reverse=True)


@entity_bp.context_processor
def _entity_helpers():
    return {"ov_args": {}, "ov_time": china, "ALL_YEARS": ALL_YEARS}


# registered with the township's blueprint, so the app registers one blueprint for the whole of oversight
bp.record_once(lambda state: state.app.register_blueprint(entity_bp))


@bp.get("/linkage")
@rule(*READERS, scope="township")
def linkage():
    township = _township()
    year = _chosen_year(township)
    years = _with_year(_years(township), year)
    table = _linkage(township, year) if year else None
    return render_template("oversight/linkage.html", township=township, year=year, years=years, table=table)


def _opinions_page(township: Township, *, form=None, errors=None, status=200):
    session = get_session()
    entities = township_entities(session, township.id)
    return render_template("oversight/opinions.html", township=township, entities=entities,
                           years=_years(township), table=_opinions(township), form=form or {},
                           errors=errors or {}), status


@bp.get("/opinions")
@rule(*READERS, scope="township")
def opinions():
    township = _township()
    form = {"entity": request.args.get("entity", ""), "year": request.args.get("year", "")}
    return _opinions_page(township, form=form)


@bp.post("/opinions")
@rule("auditor", scope="township")      # the auditor's own record; the books are not touched
def record_opinion_view():
    township = _township()
    session = get_session()
    form = {k: request.form.get(k, "") for k in ("entity", "year", "verdict", "text")}
    try:
        data = OpinionSchema().load(form)
    except ValidationError as exc:
        errors = field_words(exc.messages, _)
        return _opinions_page(township, form=form, errors=errors, status=422)
    entity_ = session.scalar(select(Entity).where(Entity.code == data["entity"],
                                                  Entity.township_id == township.id))
    if entity_ is None:
        return _opinions_page(township, form=form, status=422,
                              errors={"entity": [_("No entity %(code)s in this township.", code=data["entity"])]})
    record_opinion(session, entity_, year=data["year"], verdict=data["verdict"],
                   text=(data.get("text") or "").strip() or None, actor=current_actor())
    session.commit()
    flash(_("Audit opinion on %(entity)s for %(year)s recorded.", entity=entity_.name, year=data["year"]))
    return redirect(url_for(".opinions"))


@bp.get("/export/<name>.<fmt>")
@rule(*READERS, scope="township")
def export(name: str, fmt: str):
    if name not in EXPORT_TITLES or fmt not in ("xlsx", "csv"):
        abort(404)
    township = _township()
    table = _export_table(name, township)
    year = _year_arg()
    title = EXPORT_TITLES[name]()
    stem = f"{name}-{year}" if year else name
    total_label = _(table.total_label) if table.total_label else _("Total")
    if fmt == "csv":
        body, mime = exports.to_csv(table, gettext=_, total_label=total_label), exports.CSV_MIME
    else:
        subtitle = " · ".join(p for p in (township.name, _("Year %(year)s", year=year) if year else "", _("Unit: yuan")) if p)
        body = exports.to_xlsx(table, title=title, subtitle=subtitle, gettext=_, total_label=total_label)
        mime = exports.XLSX_MIME
    return send_file(BytesIO(body), mimetype=mime, as_attachment=True, download_name=f"{stem}.{fmt}")


@bp.get("/linkage/<code>")
@rule(*READERS, scope="township")
def linkage_entity(code: str):
    """The households behind one entity's linkage row, with what each received by channel."""
    township, entity_ = _entity_scope(code)
    year = _chosen_year(township)
    years = _with_year(_years(township), year)
    table = linkage_households(get_session(), township_id=township.id, year=year, entity_id=entity_.id)
    for row in table.rows:
        row["monitoring"] = _(MONITORING.get(row["monitoring"], row["monitoring"]))
    return render_template("oversight/linkage_entity.html", township=township, entity=entity_, year=year,
                           years=years, table=table)
