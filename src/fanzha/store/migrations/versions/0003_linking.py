"""Linking: analysts' link decisions, holder identities, shared indicator imports.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_link_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_a_id', sa.Integer(), nullable=False),
    sa.Column('case_b_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_a_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['case_b_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_link_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_link_decisions_case_a_id'), ['case_a_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_decisions_case_b_id'), ['case_b_id'], unique=False)

    op.create_table('shared_indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=512), nullable=False),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('stix_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('confidence', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(), nullable=True),
    sa.Column('valid_until', sa.DateTime(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('imported_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'value', 'source')
    )
    with op.batch_alter_table('shared_indicators', schema=None) as batch_op:
        batch_op.create_index('ix_shared_indicators_kind_value', ['kind', 'value'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shared_indicators', schema=None) as batch_op:
        batch_op.drop_index('ix_shared_indicators_kind_value')

    op.drop_table('shared_indicators')
    with op.batch_alter_table('case_link_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_link_decisions_case_b_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_decisions_case_a_id'))

    op.drop_table('case_link_decisions')
