"""ecpay payouts: the payment channel Douyin reports for the merchant's 进件 (balance and withdrawals
name it), and what Douyin actually settled for an order

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_channel', sa.String(length=16), nullable=True))
    with op.batch_alter_table('ledger_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('douyin_net_fen', sa.BigInteger(), nullable=True))
        # A withdrawal may take what Douyin settled, which can be more than our estimate.
        batch_op.drop_constraint(batch_op.f('ck_ledger_orders_withdrawn'), type_='check')
        batch_op.create_check_constraint('withdrawn', 'withdrawn_fen >= 0 and withdrawn_fen <= coalesce(douyin_net_fen, net_fen)')


def downgrade():
    with op.batch_alter_table('ledger_orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_orders_withdrawn'), type_='check')
        batch_op.create_check_constraint('withdrawn', 'withdrawn_fen >= 0 and withdrawn_fen <= net_fen')
        batch_op.drop_column('douyin_net_fen')
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.drop_column('payment_channel')
