"""Engines, sessions and migrations.

``FANZHA_DATABASE_URL`` chooses the database: a SQLite file by default (nothing to
install), or ``postgresql+psycopg://…``. The schema is made only by Alembic
migrations, so a fresh database and an upgraded one are the same.
"""

from __future__ import annotations

import itertools
import weakref
from contextlib import contextmanager
from pathlib import Path
from operator import itemgetter
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from fanzha.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")


def one_of(session: Session, column, values):
    """``column IN (values)``. On PostgreSQL as ``= ANY(array)``, one parameter however
    many values: a long IN list is a parameter each, compiled, sent and bound one by one."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def one_of_bound(dialect: str, column, name: str):
    """:func:`one_of` with the values bound when the statement runs, as parameter
    ``name``: for a statement built once and run many times (``dialect``: the name of
    the database kind it is built for)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def normalise_url(url: str) -> str:
    """Let people write ``postgresql://`` and get the psycopg 3 driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str | None = None) -> Engine:
    url = normalise_url(url or get_settings().database_url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "handle_error")
        def _out_of_range(ctx):
            # An integer beyond 64 bits (an id of twenty digits in a URL): the driver's
            # OverflowError is the value's fault, a DataError as PostgreSQL's "integer out
            # of range" is — not a failure of the server.
            if isinstance(ctx.original_exception, OverflowError):
                return DataError(ctx.statement, ctx.parameters, ctx.original_exception)
            return None

        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``info``: what each starts with in its ``Session.info``."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error — nothing half-written."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url or get_settings().database_url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url or get_settings().database_url), revision)


#: Rows from which PostgreSQL gets them by COPY: below, the one INSERT costs fewer round
#: trips than taking ids from the sequence and then copying (a single report's few rows).
COPY_FROM = 16

# Rows at most per statement when the ids come back (one multi-row INSERT … RETURNING):
# its parameters stay within SQLite's oldest limit (999) and far within PostgreSQL's.
_MAX_PARAMETERS = 999


#: engine → what the bulk writer worked out for it once: ``("plan", table, keys)`` → a
#: :func:`_column_plan`, ``("sequence", table)`` → the sequence a table's ``id`` is
#: taken from.
_PER_ENGINE: "weakref.WeakKeyDictionary[Engine, dict[tuple, Any]]" = weakref.WeakKeyDictionary()


def _column_plan(session: Session, table, keys: tuple[str, ...]) -> tuple:
    """How rows with ``keys`` go to ``table`` through the driver: the columns written
    (those given, then those with a Python-side default, as a Core insert fills them) and,
    per column, its default and its type's bind processor for this database — so the
    stored values are exactly those a Core insert stores."""
    engine = session.get_bind()
    dialect = engine.dialect
    cache = _PER_ENGINE.setdefault(engine, {})
    key = ("plan", table.name, keys)
    if key not in cache:
        given = [table.c[k] for k in keys]
        defaulted = [c for c in table.c if c.name not in keys and c.default is not None and c.default.is_scalar]
        defaulted += [c for c in table.c if c.name not in keys and c.default is not None and c.default.is_callable]
        cols = given + defaulted
        procs = [(c.type.dialect_impl(dialect).bind_processor(dialect), c.type.hashable) for c in cols]
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        q = dialect.identifier_preparer
        head = f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(c.name) for c in cols)}) VALUES "
        cache[key] = (given, defaulted, procs, head, "(" + ", ".join([mark] * len(cols)) + ")")
    return cache[key]


def _driver_values(plan: tuple, rows: list[dict[str, Any]]) -> list[tuple]:
    """The rows' values in the driver's form, columns as in ``plan``; converted a column at
    a time (a value repeated down a column, such as the batch's clock time on every event,
    is converted once)."""
    given, defaulted, procs, _, _ = plan
    n = len(rows)
    if len(given) > 1:
        columns: list[Any] = list(zip(*map(itemgetter(*[c.name for c in given]), rows)))
    else:
        columns = [[row[given[0].name] for row in rows]]
    columns += [itertools.repeat(c.default.arg, n) for c in defaulted if c.default.is_scalar]
    columns += [[f(None) for _ in range(n)] for f in (c.default.arg for c in defaulted if c.default.is_callable)]
    for i, (proc, hashable) in enumerate(procs):
        if proc is None:
            continue
        if hashable:
            once = {x: proc(x) for x in set(columns[i])}
            columns[i] = map(once.__getitem__, columns[i])
        else:
            columns[i] = map(proc, columns[i])
    return list(zip(*columns))


def insert_rows(session: Session, table, rows: list[dict[str, Any]],
                returning: tuple[str, str] | None = None) -> list[tuple]:
    """Insert ``rows`` (dicts with the same keys) through the DB-API cursor, values already
    in the driver's form: the per-parameter work of a Core insert is the bulk of writing a
    chunk. With ``returning`` (two columns), the rows' values of those columns, in no set order.

    On PostgreSQL, from :data:`COPY_FROM` rows on, they are streamed with
    ``COPY … FROM STDIN`` in the caller's transaction (one statement for the lot, no SQL
    to parse per row); when the rows' ``id`` is asked for, the ids are taken from the
    table's sequence first, in one query, and written with the rows. A row the database
    refuses raises SQLAlchemy's error for it (:class:`~sqlalchemy.exc.IntegrityError`,
    :class:`~sqlalchemy.exc.DataError`), as an ``INSERT`` would.
    """
    if not rows:
        return []
    plan = _column_plan(session, table, tuple(rows[0]))
    values = _driver_values(plan, rows)
    conn = session.connection()
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM and _copyable(table, rows[0], returning):
        return _copy_rows(session, table, plan, rows, values, returning)
    head, one = plan[3], plan[4]
    if returning is None:
        conn.exec_driver_sql(head + one, values)
        return []
    q = session.get_bind().dialect.identifier_preparer
    tail = f" RETURNING {q.quote(returning[0])}, {q.quote(returning[1])}"
    step = max(1, _MAX_PARAMETERS // len(plan[2]))
    out: list[tuple] = []
    for i in range(0, len(values), step):
        part = values[i:i + step]
        out += conn.exec_driver_sql(head + ", ".join([one] * len(part)) + tail,
                                    tuple(x for v in part for x in v)).all()
    return out


def _copyable(table, row: dict[str, Any], returning: tuple[str, str] | None) -> bool:
    """Whether COPY can write these rows and answer ``returning``: each column asked for
    is given in the rows or is the table's own integer ``id`` (taken from its sequence)."""
    if returning is None:
        return True
    pk = list(table.primary_key.columns)
    own_id = len(pk) == 1 and pk[0].name == "id" and pk[0].autoincrement in (True, "auto") and "id" not in row
    return all(c in row or (c == "id" and own_id) for c in returning)


def _sequence(session: Session, table) -> str:
    engine = session.get_bind()
    known = _PER_ENGINE.setdefault(engine, {})
    key = ("sequence", table.name)
    if key not in known:
        name = session.connection().exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, 'id')",
            (engine.dialect.identifier_preparer.format_table(table),)).scalar_one()
        if name is None:
            raise RuntimeError(f"{table.name}.id takes its values from no sequence")
        known[key] = name
    return known[key]


def _copy_rows(session: Session, table, plan: tuple, rows: list[dict[str, Any]], values: list[tuple],
               returning: tuple[str, str] | None) -> list[tuple]:
    """:func:`insert_rows` on PostgreSQL by ``COPY`` (text format: each value as the
    driver writes it, the server parses it as its column's type)."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    conn = session.connection()
    q = conn.dialect.identifier_preparer
    names = [c.name for c in plan[0] + plan[1]]
    ids: list[int] = []
    if returning is not None and "id" in returning and "id" not in rows[0]:
        # The ids the rows get, in the rows' order (a sequence hands them out increasing).
        ids = sorted(conn.exec_driver_sql("SELECT nextval(%s) FROM generate_series(1, %s)",
                                          (_sequence(session, table), len(values))).scalars())
        names.insert(0, "id")
        values = [(i, *v) for i, v in zip(ids, values)]
    sql = f"COPY {q.format_table(table)} ({', '.join(q.quote(n) for n in names)}) FROM STDIN"
    try:
        with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:
            for v in values:
                copy.write_row(v)
    except psycopg.Error as err:
        raise DBAPIError.instance(sql, None, err, psycopg.Error, dialect=conn.dialect) from err
    if returning is None:
        return []
    a, b = returning
    return [(n if a == "id" and ids else row[a], n if b == "id" and ids else row[b])
            for row, n in zip(rows, ids or [None] * len(rows))]
