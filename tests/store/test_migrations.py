"""Migrations up and down on both databases; the models and the migrations agree."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from fanzha.store import db
from fanzha.store.models import Base


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_up_down_up(db_url):
    db.upgrade(db_url)
    assert _tables(db_url) == set(Base.metadata.tables)
    db.downgrade(db_url, "base")
    assert _tables(db_url) == set()
    db.upgrade(db_url)
    assert _tables(db_url) == set(Base.metadata.tables)


def test_models_match_migrations(migrated_url):
    # Raises if autogenerate would find any difference between models and schema.
    command.check(db.alembic_config(migrated_url))
