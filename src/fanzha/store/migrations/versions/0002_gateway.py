"""Gateway: delivery attempts, received callbacks, the outbox's lease and retry
columns on orders, and per-institution dispatch limits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gateway_callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('callback_id', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gateway_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_callbacks_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_callbacks_request_id'), ['request_id'], unique=False)

    op.create_table('order_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('dispatcher', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('order_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_attempts_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_attempts_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_in_flight', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_per_minute', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('timeout_ms', sa.Integer(), nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('leased_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('round_no', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('round_no')
        batch_op.drop_column('last_error')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('leased_by')
        batch_op.drop_column('lease_until')

    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_column('timeout_ms')
        batch_op.drop_column('rate_per_minute')
        batch_op.drop_column('max_in_flight')

    with op.batch_alter_table('order_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_attempts_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_attempts_institution_id'))

    op.drop_table('order_attempts')
    with op.batch_alter_table('gateway_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_callbacks_request_id'))
        batch_op.drop_index(batch_op.f('ix_gateway_callbacks_order_id'))

    op.drop_table('gateway_callbacks')
