"""Indexes, stored phone tails and keyset paging for a merchant with a million orders

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer_phone_tail', sa.String(length=4), nullable=False, server_default=''))
    # What Order._keep_phone_tail keeps for new orders: the phone's last 4 characters.
    op.execute("UPDATE orders SET buyer_phone_tail = CASE WHEN length(buyer_phone) > 4 "
               "THEN substr(buyer_phone, length(buyer_phone) - 3) ELSE buyer_phone END")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_org_paid_at')
        batch_op.create_index('ix_orders_org_paid_at', ['organization_id', 'paid_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_store_paid_at', ['store_id', 'paid_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_org_phone_tail', ['organization_id', 'buyer_phone_tail', 'paid_at', 'id'], unique=False)
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index('ix_vouchers_order_item_id', ['order_item_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # A trusted extension since PostgreSQL 13: the database's owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_name_trgm', ['name'], unique=False, postgresql_using='gin',
                              postgresql_ops={'name': 'gin_trgm_ops'})


def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_name_trgm')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index('ix_vouchers_order_item_id')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_org_phone_tail')
        batch_op.drop_index('ix_orders_store_paid_at')
        batch_op.drop_index('ix_orders_org_paid_at')
        batch_op.create_index('ix_orders_org_paid_at', ['organization_id', 'paid_at'], unique=False)
        batch_op.drop_column('buyer_phone_tail')
