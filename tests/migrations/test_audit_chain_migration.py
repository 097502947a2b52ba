"""Migration 0006: the audit rows already there are chained in id order (verify clean, the heads on the last
rows), the triggers are those of ``cooperatives.ddl`` and ``payouts.ddl``, and down and up again gives the
same hashes. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cooperatives import ddl as coop_ddl
from cooperatives.audit import audit, chain_heads, verify_audit
from cooperatives.models import AuditLog
from ledger.db import make_engine, writer
from payouts import ddl as payouts_ddl
from payouts.admin.migrate import downgrade, upgrade

TABLES = ("coop_audit_log", "coop_audit_heads", "oversight_audit_opinions", "oversight_integrity_checks")
#: rows written before 0006: (entity_id, at or None for the server's default, detail)
OLD_ROWS = [(None, None, None), (1, "2025-03-01 08:00:00.123456", "身份证号: 发放"), (2, None, ""),
            (1, "2025-03-01 08:00:01.000001", None), (None, "2025-03-02 00:00:00", "x"), (1, None, "y")]


@pytest.fixture
def engine(isolated_db):
    engine = make_engine(isolated_db)
    yield engine
    engine.dispose()


def triggers(engine) -> dict[str, str]:
    """name -> its SQL (SQLite) or its table (PostgreSQL), for the four append-only tables."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                     f"({', '.join(repr(t) for t in TABLES)})")).all()
        else:
            rows = conn.execute(text(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname = ANY(:tables) AND pg_table_is_visible(c.oid)"),
                {"tables": list(TABLES)}).all()
    return dict(rows)


def expected_triggers(dialect: str) -> dict[str, str]:
    statements = [sql.strip() for _t, sql in (coop_ddl.SQLITE + payouts_ddl.SQLITE if dialect == "sqlite"
                                               else coop_ddl.POSTGRESQL + payouts_ddl.POSTGRESQL)]
    out = {}
    for sql in statements:
        found = re.match(r"CREATE TRIGGER (\w+) .*? ON (\w+)", sql)
        if found:
            out[found.group(1)] = sql if dialect == "sqlite" else found.group(2)
    return out


def test_0006_chains_the_rows_already_there_and_goes_down_and_up(engine):
    upgrade(engine, "0005")
    with engine.begin() as conn:
        for n, (entity_id, at, detail) in enumerate(OLD_ROWS):
            columns = "actor_id, action, target, entity_id, detail" + (", at" if at else "")
            values = ":actor, 'record', :target, :entity, :detail" + (", :at" if at else "")
            conn.execute(text(f"INSERT INTO coop_audit_log ({columns}) VALUES ({values})"),
                         {"actor": n or None, "target": f"record:{n}", "entity": entity_id, "detail": detail,
                          "at": at})
    upgrade(engine)

    assert triggers(engine) == expected_triggers(engine.dialect.name)
    with Session(engine) as session:
        rows = session.execute(select(AuditLog.id, AuditLog.chain, AuditLog.seq, AuditLog.hash)
                               .order_by(AuditLog.id)).all()
        assert [(r.chain, r.seq) for r in rows] == [("global", 1), ("entity:1", 1), ("entity:2", 1),
                                                    ("entity:1", 2), ("global", 2), ("entity:1", 3)]
        assert chain_heads(session) == {"global": (2, rows[4].hash), "entity:1": (3, rows[5].hash),
                                        "entity:2": (1, rows[2].hash)}
        assert verify_audit(session) == []
        first_hashes = [r.hash for r in rows]
    with Session(writer(engine)) as session:      # the app's writer carries on from the back-filled heads
        audit(session, actor_id=None, action="login", target="user:admin")
        audit(session, actor_id=1, action="record", target="record:7", entity_id=1)
        session.commit()
        assert verify_audit(session) == []
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("UPDATE coop_audit_log SET detail = 'changed'"))
        session.rollback()

    downgrade(engine, "0005")
    assert triggers(engine) == {}
    columns = {c["name"] for c in inspect(engine).get_columns("coop_audit_log")}
    assert not columns & {"chain", "seq", "prev_hash", "hash"}
    assert "coop_audit_heads" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM coop_audit_log")).scalar() == len(OLD_ROWS) + 2
        conn.execute(text("DELETE FROM coop_audit_log WHERE id > :n"), {"n": len(OLD_ROWS)})
    upgrade(engine)
    with Session(engine) as session:
        assert list(session.scalars(select(AuditLog.hash).order_by(AuditLog.id))) == first_hashes
        assert verify_audit(session) == []
