"""settlement batches: one journal transaction per settlement run and scope

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settle_batch', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_ledger_transactions_settle_batch', ['settle_batch'], unique=False)


def downgrade():
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transactions_settle_batch')
        batch_op.drop_column('settle_batch')
