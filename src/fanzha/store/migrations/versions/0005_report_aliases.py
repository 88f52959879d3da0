"""Report aliases: a platform's id for a call already on file under another report.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id')
    )
    with op.batch_alter_table('report_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_aliases_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_aliases_report_id'))
    op.drop_table('report_aliases')
