"""Starting a statement batch from the web and watching it: the job runs in its own process
(``coopledger statements --job ID``, on local cores or Celery workers); the page refreshes itself
(a meta refresh, no JavaScript) until the PDFs are ready to download."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from cooperatives.web.access import current_actor, entity_or_404
from ledger.web.support import STAFF, get_session, rule
from payouts.models import PayoutRun, RenderJob
from payouts.statements.jobs import JOB_STATUS_LABELS, create_job, launch, stalled

bp = Blueprint("jobs", __name__, url_prefix="/e/<code>")


@bp.context_processor
def _labels():
    return {"JOB_STATUS_LABELS": JOB_STATUS_LABELS}


def _run(entity, run_id: int) -> PayoutRun:
    run = get_session().get(PayoutRun, run_id)
    if run is None or run.entity_id != entity.id:
        abort(404)
    return run


def _job(entity, job_id: int) -> RenderJob:
    job = get_session().get(RenderJob, job_id)
    if job is None or get_session().get(PayoutRun, job.run_id).entity_id != entity.id:
        abort(404)
    return job


@bp.post("/runs/<id:run_id>/render")
@rule("admin", "accountant", write=True, scope="entity")
def start(code: str, run_id: int):
    entity = entity_or_404(code, write=True)
    run = _run(entity, run_id)
    session = get_session()
    if run.status not in ("posted", "published", "paid", "reversed"):
        flash(_("Only a posted run has statements to render."), "error")
        return redirect(url_for("jobs.show_run_jobs", code=code, run_id=run_id))
    locale = "en" if request.form.get("lang") == "en" else "zh_Hans_CN"
    out_root = str(Path(current_app.instance_path) / "statements")
    job = create_job(session, run, out_root=out_root, locale=locale, actor=current_actor())
    session.commit()
    launcher = current_app.extensions.get("coop.job_launcher")
    if launcher is None:             # the production command, on this app's database and keys
        launch(job.id, env=current_app.extensions["coop.settings"].command_env())
    else:
        launcher(job.id)
    return redirect(url_for("jobs.show", code=code, job_id=job.id))


@bp.get("/runs/<id:run_id>/render")
@rule(*STAFF, scope="entity")
def show_run_jobs(code: str, run_id: int):
    entity = entity_or_404(code)
    run = _run(entity, run_id)
    jobs = get_session().query(RenderJob).filter(RenderJob.run_id == run.id).order_by(RenderJob.id.desc()).all()
    shown = {job.id: "failed" if stalled(job) else job.status for job in jobs}
    return render_template("payouts/jobs/run.html", entity=entity, run=run, jobs=jobs, shown=shown)


@bp.get("/jobs/<id:job_id>")
@rule(*STAFF, scope="entity")
def show(code: str, job_id: int):
    entity = entity_or_404(code)
    job = _job(entity, job_id)
    files = sorted(p.name for p in Path(job.out_dir).glob("*.pdf")) if job.status == "done" else []
    stopped = stalled(job)
    return render_template("payouts/jobs/job.html", entity=entity, job=job, files=files,
                           status="failed" if stopped else job.status,
                           stopped=stopped.translate(_) if stopped else None,
                           refresh=job.status in ("queued", "running") and not stopped)


@bp.get("/jobs/<id:job_id>/files/<name>")
@rule(*STAFF, scope="entity")
def download(code: str, job_id: int, name: str):
    entity = entity_or_404(code)
    job = _job(entity, job_id)
    path = (Path(job.out_dir) / name).resolve()
    if path.parent != Path(job.out_dir).resolve() or path.suffix != ".pdf" or not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name)


@bp.get("/jobs/<id:job_id>/statements.zip")
@rule(*STAFF, scope="entity")
def download_zip(code: str, job_id: int):
    entity = entity_or_404(code)
    job = _job(entity, job_id)
    if job.status != "done":
        abort(404)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:    # PDFs are compressed already
        for path in sorted(Path(job.out_dir).glob("*.pdf")):
            archive.write(path, path.name)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True,
                     download_name=f"{entity.code}-run{job.run_id}-statements.zip")
