"""Storage: SQLAlchemy models, sessions and Alembic migrations.

SQLite is the embedded default (``FANZHA_DATABASE_URL`` unset); PostgreSQL is
supported and every storage test runs against both.
"""
