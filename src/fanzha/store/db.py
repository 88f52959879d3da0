"""Engines, sessions and migrations.

``FANZHA_DATABASE_URL`` chooses the database: a SQLite file by default (nothing to
install), or ``postgresql+psycopg://…``. The schema is made only by Alembic
migrations, so a fresh database and an upgraded one are the same.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from operator import itemgetter
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from fanzha.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")


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

        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


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


# Rows at most per statement when the ids come back (one multi-row INSERT … RETURNING):
# its parameters stay within SQLite's oldest limit (999) and far within PostgreSQL's.
_MAX_PARAMETERS = 999


def _column_plan(session: Session, table, keys: tuple[str, ...]) -> tuple:
    """How rows with ``keys`` go to ``table`` through the driver: the columns written
    (those given, then those with a Python-side default, as a Core insert fills them) and,
    per column, its default and its type's bind processor for this database — so the
    stored values are exactly those a Core insert stores."""
    dialect = session.get_bind().dialect
    cache = session.info.setdefault("store.insert_columns", {})
    key = (table.name, dialect.name, keys)
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


def insert_rows(session: Session, table, rows: list[dict[str, Any]],
                 returning: tuple[str, str] | None = None) -> list[tuple]:
    """Insert ``rows`` (dicts with the same keys) through the DB-API cursor, values already
    in the driver's form: the per-parameter work of a Core insert is the bulk of writing a
    chunk. With ``returning`` (two columns), the rows' values of those columns, in no set order."""
    if not rows:
        return []
    given, defaulted, procs, head, one = _column_plan(session, table, tuple(rows[0]))
    take = itemgetter(*[c.name for c in given]) if len(given) > 1 else (lambda row: (row[given[0].name],))
    scalars = [c.default.arg for c in defaulted if c.default.is_scalar]
    calls = [c.default.arg for c in defaulted if c.default.is_callable]
    # A value repeated down a column (the batch's clock time on every event) is converted once.
    converted = [(i, p, {} if hashable else None) for i, (p, hashable) in enumerate(procs) if p is not None]
    values = []
    for row in rows:
        v = [*take(row), *scalars, *(f(None) for f in calls)]
        for i, p, seen in converted:
            x = v[i]
            if seen is None:
                v[i] = p(x)
            elif x in seen:
                v[i] = seen[x]
            else:
                v[i] = seen[x] = p(x)
        values.append(tuple(v))
    conn = session.connection()
    if returning is None:
        conn.exec_driver_sql(head + one, values)
        return []
    q = session.get_bind().dialect.identifier_preparer
    tail = f" RETURNING {q.quote(returning[0])}, {q.quote(returning[1])}"
    step = max(1, _MAX_PARAMETERS // len(procs))
    out: list[tuple] = []
    for i in range(0, len(values), step):
        part = values[i:i + step]
        out += conn.exec_driver_sql(head + ", ".join([one] * len(part)) + tail,
                                    tuple(x for v in part for x in v)).all()
    return out
