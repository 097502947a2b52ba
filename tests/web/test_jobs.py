"""Statement PDF batches started from the web: the job records its progress and the files download."""

import io
import json
import re
import zipfile

from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity
from cooperatives.users import create_user
from payouts.models import RenderJob

POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["JB", "批量合作社", "farmer_coop", "批量乡"]],
    "households": [["code", "head_name", "village"], ["J1", "王大山", "一村"], ["J2", "李秀英", "一村"]],
    "members": [["member", "member_no", "joined_on"], ["J1", 1, "2020-01-01"], ["J2", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-01", "J1", "1000"], ["2025-01-01", "J2", "1000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-05-01", "J1", "茶", "100", "kg", "10", "bank"], ["2025-05-01", "J2", "茶", "300", "kg", "10", "bank"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "14000"]],
}


def test_render_job_started_from_the_page_reports_progress_and_serves_the_pdfs(app, session, cli, xlsx,
                                                                                policy_file, tmp_path):
    assert cli("import", xlsx(WORKBOOK)).exit_code == 0
    run = json.loads(cli("distribute", "--entity", "JB", "--year", "2025", "--policy", policy_file(POLICY),
                         "--json").stdout)
    cli("run", "approve", str(run["run"]), "--meeting-date", "2026-03-01", "--attended", "2", "--votes-for", "2")
    assert cli("run", "post", str(run["run"])).exit_code == 0
    entity = session.scalar(select(Entity).where(Entity.code == "JB"))
    create_user(session, username="kj", password="pw-123456", role="accountant", entity_id=entity.id, actor=CONSOLE)
    session.commit()
    app.instance_path = str(tmp_path)
    ran = []
    # the page starts a separate process; here the same command runs in-process, synchronously
    app.extensions["coop.job_launcher"] = lambda job_id: ran.append(cli("statements", "--job", str(job_id)))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "kj", "password": "pw-123456", "csrf_token": token}).status_code == 302
    page = client.get(f"/e/JB/runs/{run['run']}/render").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    started = client.post(f"/e/JB/runs/{run['run']}/render", data={"csrf_token": token, "lang": "zh"})
    assert started.status_code == 302 and ran and ran[0].exit_code == 0, ran and ran[0].output
    job = session.scalar(select(RenderJob).order_by(RenderJob.id.desc()))
    session.refresh(job)
    assert (job.status, job.done, job.total) == ("done", 2, 2)
    shown = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "00001-J1.pdf" in shown and "notice-JB-2025.pdf" in shown and 'http-equiv="refresh"' not in shown
    with client.get(f"/e/JB/jobs/{job.id}/files/00001-J1.pdf") as pdf:      # send_file holds the file open
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/e/JB/jobs/{job.id}/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    with client.get(f"/e/JB/jobs/{job.id}/statements.zip") as response:
        archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["00001-J1.pdf", "00002-J2.pdf", "notice-JB-2025.pdf"]
