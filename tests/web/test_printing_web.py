"""Issue 15: the printed books, the statements' PDF and the year's archive as pages — staff within their scope."""

from __future__ import annotations

from sqlalchemy import select

from cooperatives.models import Entity
from payouts.reports import archive


def entity(session, code: str) -> Entity:
    return session.scalar(select(Entity).where(Entity.code == code))


def test_the_printed_books_are_served_to_staff_within_their_scope(demo_world, client, login):
    c = client.application.test_client()
    login(c, "kuaiji", "demo-kuaiji-2025")
    for path in ("/e/JGP-TEA/balances.pdf?year=2025&quarter=2", "/e/JGP-TEA/money-journal.pdf?year=2025&account=102",
                 "/e/JGP-TEA/ledger.pdf?year=2025&account=101", "/e/JGP-TEA/general-ledger.pdf?year=2025&account=501",
                 "/e/JGP-TEA/reports/2025/statements.pdf?name=notes"):
        response = c.get(path)
        assert response.status_code == 200 and response.mimetype == "application/pdf", path
        assert response.data.startswith(b"%PDF"), path
    assert c.get("/e/JGP-TEA/money-journal.pdf?account=501").status_code == 404      # not a money account
    assert c.get("/e/JGP-TEA/ledger.pdf?year=2025&account=999").status_code == 404
    one = c.get("/e/JGP-TEA/ledger.pdf?year=2025")         # the account its page opens on, not all of them at once
    assert one.status_code == 200 and "JGP-TEA-2025-ledger-101.pdf" in one.headers["Content-Disposition"]
    assert c.get("/e/JGP-TEA/reports/2025/statements.pdf?name=member-accounts").status_code == 404
    assert c.get("/e/TL-V01/balances.pdf").status_code == 404                          # another entity's books
    page = c.get("/e/JGP-TEA/balances?year=2025").get_data(as_text=True)
    assert "/e/JGP-TEA/balances.pdf?year=2025" in page
    quarter = c.get("/e/JGP-TEA/balances?year=2025&quarter=2").get_data(as_text=True)     # §1: a quarter too
    assert "2025-04-01 — 2025-06-30" in quarter and '<option value="2" selected>2</option>' in quarter
    assert "/e/JGP-TEA/balances.pdf?year=2025&amp;quarter=2" in quarter


def test_the_archive_is_made_from_the_web_and_downloaded(demo_world, client, login, csrf, monkeypatch, tmp_path):
    """The page starts the archive in a process of its own (here: in the test's, through the same launcher hook),
    follows its progress, then offers the ZIP; another entity's archive is not there to see."""
    app = client.application
    monkeypatch.setattr(app, "instance_path", str(tmp_path))

    def launch(code, year, out, status):
        from payouts.reports.cli import StatusFile

        built = archive.build(demo_world, entity(demo_world, code), year, out, workers=1)
        StatusFile(status).write(status="done", done=len(built["files"]), total=len(built["files"]),
                                 created_at=built["created_at"])

    app.extensions["coop.archive_launcher"] = launch
    c = app.test_client()
    login(c, "bl-kuaiji", "demo-bl-2025")
    page = c.get("/e/TL-V01/reports/2025/archive")
    assert page.status_code == 200 and "SHA256SUMS" in page.get_data(as_text=True)
    assert c.get("/e/TL-V01/reports/2025/archive.zip").headers["Location"] == "/e/TL-V01/reports/2025/archive"
    assert "/e/TL-V01/reports/2025/archive.zip" not in page.get_data(as_text=True)      # not made yet
    token = csrf(c, "/e/TL-V01/reports/2025/archive")
    started = c.post("/e/TL-V01/reports/2025/archive", data={"csrf_token": token})
    assert started.status_code == 302
    download = c.get("/e/TL-V01/reports/2025/archive.zip")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.data.startswith(b"PK") and (tmp_path / "archives" / "TL-V01" / "TL-V01-2025-archive.zip").is_file()
    download.close()
    assert "/e/TL-V01/reports/2025/archive.zip" in c.get("/e/TL-V01/reports/2025/archive").get_data(as_text=True)
    assert c.get("/e/JGP-TEA/reports/2025/archive").status_code == 404
    assert c.get("/e/JGP-TEA/reports/2025/archive.zip").status_code == 404
    auditor = app.test_client()                      # the township's auditor reads the archive made; makes none
    login(auditor, "bl-nongjing", "demo-audit-2025")
    made = auditor.get("/e/TL-V01/reports/2025/archive.zip")
    assert made.status_code == 200 and made.data.startswith(b"PK")
    made.close()
    assert 'action="/e/TL-V01/reports/2025/archive"' not in auditor.get("/e/TL-V01/reports/2025/archive").get_data(
        as_text=True)
    assert auditor.post("/e/TL-V01/reports/2025/archive", data={"csrf_token": token}).status_code in (400, 403)


def test_the_bank_journal_reconciles_with_the_bank_statement(demo_world, client, login, tmp_path):
    """银行存款余额调节表 on the bank's 日记账: the book's closing balance and the statement's, each adjusted by the
    other's outstanding items; they agree, or the page says by how much not; a wrong amount is named, not a 500;
    the print carries the same table."""
    import subprocess

    from ledger.books import money_journal, period

    c = client.application.test_client()
    login(c, "kuaiji", "demo-kuaiji-2025")
    coop = entity(demo_world, "JGP-TEA")
    closing = money_journal(demo_world, coop.book, "102", *period(2025)).closing
    bank = closing + 1500 - 200              # the bank has 1,500 received and 200 paid we have not booked
    query = f"account=102&year=2025&bank_balance={bank}&bank_in=1500&bank_out=200"
    page = c.get(f"/e/JGP-TEA/money-journal?{query}").get_data(as_text=True)
    assert "银行存款余额调节表" in page and "调节后余额相符" in page
    assert f"{closing + 1300:,.2f}" in page
    page = c.get(f"/e/JGP-TEA/money-journal?account=102&year=2025&bank_balance={bank}").get_data(as_text=True)
    assert "调节后余额不符，相差" in page and "-1,300.00" in page
    wrong = c.get("/e/JGP-TEA/money-journal?account=102&year=2025&bank_balance=12,34&bank_in=1.234")
    assert wrong.status_code == 200 and 'aria-invalid="true"' in wrong.get_data(as_text=True)
    assert c.get("/e/JGP-TEA/money-journal.pdf?account=102&year=2025&bank_balance=x").status_code == 400
    huge = c.get("/e/JGP-TEA/money-journal?account=102&year=2025&bank_balance=1e30&bank_in=-1e99")
    assert huge.status_code == 200 and huge.get_data(as_text=True).count('aria-invalid="true"') == 2
    assert c.get("/e/JGP-TEA/money-journal.pdf?account=102&year=2025&bank_balance=1e30").status_code == 400
    assert c.get("/e/JGP-TEA/disclosure?year=1000").status_code == 404          # (the disclosure's years too)
    pdf = c.get(f"/e/JGP-TEA/money-journal.pdf?{query}")
    path = tmp_path / "bank.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout
    assert "银行存款日记账" in text and "银行存款余额调节表" in text and "调节后余额相符" in text
    cash = c.get("/e/JGP-TEA/money-journal?account=101&year=2025&bank_balance=1").get_data(as_text=True)
    assert "银行存款余额调节表" not in cash                      # only the bank's journal reconciles


def test_an_archive_whose_process_died_is_shown_failed_and_can_be_made_again(demo_world, client, login, monkeypatch,
                                                                               tmp_path):
    """A status file left "running" by a process that is gone (killed, the machine restarted) reads as failed: the
    page says so and offers the button again, instead of refreshing for ever."""
    import json
    import os
    import subprocess
    import time
    from pathlib import Path

    app = client.application
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    folder = tmp_path / "archives" / "TL-V01"
    folder.mkdir(parents=True)
    (folder / "2025-status.json").write_text(json.dumps({"status": "running", "done": 3, "total": 40, "pid": gone.pid}))
    c = app.test_client()
    login(c, "bl-kuaiji", "demo-bl-2025")
    page = c.get("/e/TL-V01/reports/2025/archive").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and 'action="/e/TL-V01/reports/2025/archive"' in page
    assert "会计档案生成失败" in page
    zombie = subprocess.Popen(["true"])        # ended, not reaped yet: its number still answers os.kill(pid, 0)
    for _ in range(50):
        if (stat := Path(f"/proc/{zombie.pid}/stat")).exists() and ") Z" in stat.read_text():
            break
        time.sleep(0.05)
    (folder / "2025-status.json").write_text(json.dumps({"status": "running", "done": 3, "total": 40,
                                                         "pid": zombie.pid, "at": time.time()}))
    assert "会计档案生成失败" in c.get("/e/TL-V01/reports/2025/archive").get_data(as_text=True)
    zombie.wait()
    (folder / "2025-status.json").write_text(json.dumps({"status": "running", "done": 0, "total": 0,
                                                         "pid": os.getpid(), "at": time.time()}))
    assert 'http-equiv="refresh"' in c.get("/e/TL-V01/reports/2025/archive").get_data(as_text=True)   # alive
