"""settlement batches (one journal transaction per run and scope); indexes for the ledger's
newest-first lists, the overview's count of unused vouchers, the counter's per-phone rule and the
product library's listed products

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
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_postings_org_newest', ['organization_id', 'id'], unique=False)
        batch_op.create_index('ix_ledger_postings_store_newest', ['store_id', 'id'], unique=False)
    with op.batch_alter_table('ledger_orders', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_orders_org_paid', ['organization_id', 'paid_at', 'id'], unique=False)
        batch_op.create_index('ix_ledger_orders_store_paid', ['store_id', 'paid_at', 'id'], unique=False)
    op.create_index('ix_orders_org_phone', 'orders', ['organization_id', 'buyer_phone'], unique=False)
    op.create_index('ix_products_org_listed', 'products', ['organization_id', 'id'], unique=False,
                    sqlite_where=sa.text('delisted_at IS NULL'), postgresql_where=sa.text('delisted_at IS NULL'))
    # The open-voucher count reads the index alone.
    op.drop_index('ix_insight_order_facts_open', table_name='insight_order_facts')
    op.create_index('ix_insight_order_facts_open', 'insight_order_facts', ['organization_id', 'paid_at', 'store_id', 'open_vouchers'], unique=False,
                    sqlite_where=sa.text('open_vouchers > 0'), postgresql_where=sa.text('open_vouchers > 0'))


def downgrade():
    op.drop_index('ix_orders_org_phone', table_name='orders')
    op.drop_index('ix_products_org_listed', table_name='products')
    op.drop_index('ix_insight_order_facts_open', table_name='insight_order_facts')
    op.create_index('ix_insight_order_facts_open', 'insight_order_facts', ['organization_id', 'paid_at'], unique=False,
                    sqlite_where=sa.text('open_vouchers > 0'), postgresql_where=sa.text('open_vouchers > 0'))
    with op.batch_alter_table('ledger_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_orders_store_paid')
        batch_op.drop_index('ix_ledger_orders_org_paid')
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_postings_store_newest')
        batch_op.drop_index('ix_ledger_postings_org_newest')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transactions_settle_batch')
        batch_op.drop_column('settle_batch')
