"""Outbox notification: on PostgreSQL every statement inserting orders notifies the
channel ``fanzha_outbox`` when its transaction commits, so a waiting dispatcher looks
at once (see ``fanzha.gateway.wake``). Nothing on SQLite, whose dispatcher reads
``PRAGMA data_version`` instead.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION fanzha_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('fanzha_outbox', '');
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER orders_outbox_notify AFTER INSERT ON orders
        FOR EACH STATEMENT EXECUTE FUNCTION fanzha_outbox_notify()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS orders_outbox_notify ON orders")
    op.execute("DROP FUNCTION IF EXISTS fanzha_outbox_notify()")
