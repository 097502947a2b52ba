"""Database infrastructure shared by every package: the declarative base, exact types, the engine.

Money is stored as integer fen (BIGINT) behind :class:`Fixed`, which hands :class:`~decimal.Decimal`
to Python code, so sums are exact on SQLite and PostgreSQL alike and no float ever touches an amount.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Fixed(TypeDecorator):
    """Decimal in Python, an integer of 10**-scale units in the database (exact on both databases)."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.__class__ is not Decimal:                 # exact check first: this runs per cell in bulk paths
            if isinstance(value, bool) or not isinstance(value, Decimal | int):
                raise TypeError(f"expected Decimal, got {type(value).__name__}")
            value = Decimal(value)
        units = value.scaleb(self.scale)
        whole = int(units)
        if whole != units:
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        return whole

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale).quantize(Decimal(1).scaleb(-self.scale))


Money = Fixed(2)      #: yuan, stored as fen
Quantity = Fixed(3)   #: kg / 斤 / days, stored in thousandths
Area = Fixed(4)       #: 亩 and shares, stored in ten-thousandths
Rate = Fixed(4)       #: unit prices (元/kg) stored in ten-thousandths of a yuan


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Times are stored in UTC; SQLite hands them back without their zone, which RFC 3339 requires."""
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine with the connection settings both production and tests rely on.

    On SQLite: foreign keys on, WAL and synchronous=FULL for file databases (village power is
    unreliable), a busy timeout, and SQLAlchemy-emitted ``BEGIN`` so SAVEPOINTs work. A connection
    whose execution options carry ``sqlite_immediate=True`` begins with ``BEGIN IMMEDIATE`` so a
    write transaction takes the write lock up front and never fails to upgrade a read lock.
    """
    if url.startswith("sqlite") and (url.endswith(":memory:") or url in ("sqlite://", "sqlite+pysqlite://")):
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {})
        kwargs["connect_args"].setdefault("timeout", 30)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        memory = engine.url.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, but whose SQLite transactions take the write lock at BEGIN."""
    return engine.execution_options(sqlite_immediate=True)


def fixed_sum(column, type_=None):
    """``SUM(column)`` (0 when there are no rows), read back through the column's exact type.

    SQLite returns SUM of integers as an integer and PostgreSQL SUM(bigint) as numeric; the Fixed type
    reads both as the exact Decimal, so results must not be scaled again by the caller.
    """
    from sqlalchemy import func, type_coerce

    return type_coerce(func.coalesce(func.sum(column), 0), type_ or column.type)


def money_sum(expr):
    """``SUM(expr)`` over fen, read back as exact Decimal yuan (for expressions, e.g. CASE, too)."""
    return fixed_sum(expr, Money)


def raw_converters(table, columns, dialect_name: str) -> list:
    """Per column, a function turning a Python value into what the driver stores (None: as is).

    Used by :func:`insert_raw`, the bulk path that skips SQLAlchemy's per-row processing: Fixed
    columns become integers of their unit, and SQLite gets dates as ISO text (as SQLAlchemy stores them).
    """
    import datetime as dt

    from sqlalchemy import Date

    out = []
    for name in columns:
        col_type = table.c[name].type
        if isinstance(col_type, Fixed):
            out.append(lambda v, _t=col_type: _t.process_bind_param(v, None))
        elif isinstance(col_type, Date) and dialect_name == "sqlite":
            out.append(lambda v: v.isoformat() if isinstance(v, dt.date) else v)
        else:
            out.append(None)
    return out


def insert_raw(connection, table, columns: list[str], rows: list[tuple]) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order, already converted by :func:`raw_converters`)
    with one driver-level executemany (``COPY`` on PostgreSQL). The bulk path for large imports."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        # COPY: on PostgreSQL several times faster than a pipelined executemany (bench/README.md, import)
        with connection.connection.dbapi_connection.cursor() as cursor, \
                cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    connection.exec_driver_sql(sql, rows)


def keyed_in(session, key, value, keys, *where) -> dict:
    """``{key: value}`` for the rows whose ``key`` column is one of ``keys`` (and ``where`` holds).

    PostgreSQL gets one ``key = ANY(array)`` whatever the number of keys: an ``IN`` of 500 bound
    parameters took it 55–120 ms to plan each time (40 such queries cost a county import 2 s for
    10,000 households, 8 s for their sub-ledgers; bench/README.md). SQLite gets ``IN`` lists of 500.
    """
    return {k: row[0] for k, row in keyed_rows(session, key, (value,), keys, *where).items()}


def keyed_rows(session, key, columns, keys, *where) -> dict:
    """``{key: (columns…)}`` for the rows whose ``key`` column is one of ``keys`` — :func:`keyed_in` with
    several columns (``where`` may join other tables)."""
    from sqlalchemy import any_, bindparam, select
    from sqlalchemy.dialects.postgresql import ARRAY

    keys = list(keys)
    if not keys:
        return {}
    query = select(key, *columns).where(*where)
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam("keyed_in_keys", keys, type_=ARRAY(key.type))
        return {row[0]: tuple(row[1:]) for row in session.execute(query.where(key == any_(array)))}
    found: dict = {}
    for start in range(0, len(keys), 500):
        found.update({row[0]: tuple(row[1:]) for row in session.execute(query.where(key.in_(keys[start:start + 500])))})
    return found
