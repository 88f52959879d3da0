"""Interception: entries, their history, appeals and hit counters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intercept_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('value_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.BigInteger(), nullable=True),
    sa.Column('source_kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('sightings', sa.Integer(), nullable=False),
    sa.Column('hits', sa.BigInteger(), nullable=False),
    sa.Column('last_hit_at', sa.DateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('listing', 'kind', 'value_hash')
    )
    with op.batch_alter_table('intercept_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intercept_entries_prefix'), ['prefix'], unique=False)
        batch_op.create_index(batch_op.f('ix_intercept_entries_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_intercept_entries_valid_until'), ['valid_until'], unique=False)

    op.create_table('intercept_hit_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day', 'kind', 'outcome')
    )
    head = op.create_table('intercept_list_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(head, [{'id': 1, 'version': 0, 'changed_at': None}])

    op.create_table('intercept_prefix_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('prefix', sa.BigInteger(), nullable=False),
    sa.Column('added', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intercept_prefix_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intercept_prefix_changes_version'), ['version'], unique=False)

    op.create_table('intercept_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('appellant', sa.String(length=128), nullable=False),
    sa.Column('contact', sa.String(length=128), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('filed_by', sa.String(length=128), nullable=False),
    sa.Column('filed_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['intercept_entries.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intercept_appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intercept_appeals_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intercept_appeals_state'), ['state'], unique=False)

    op.create_table('intercept_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['intercept_entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intercept_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intercept_events_entry_id'), ['entry_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intercept_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intercept_events_entry_id'))
    op.drop_table('intercept_events')
    with op.batch_alter_table('intercept_appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intercept_appeals_state'))
        batch_op.drop_index(batch_op.f('ix_intercept_appeals_entry_id'))
    op.drop_table('intercept_appeals')
    with op.batch_alter_table('intercept_prefix_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intercept_prefix_changes_version'))
    op.drop_table('intercept_prefix_changes')
    op.drop_table('intercept_list_head')
    op.drop_table('intercept_hit_counts')
    with op.batch_alter_table('intercept_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intercept_entries_valid_until'))
        batch_op.drop_index(batch_op.f('ix_intercept_entries_state'))
        batch_op.drop_index(batch_op.f('ix_intercept_entries_prefix'))
    op.drop_table('intercept_entries')
