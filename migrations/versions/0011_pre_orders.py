"""pre-orders: the order the mini-program places before payment (tt.requestOrder), and the flag
on orders completed from order_query because the portal never placed them

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pre_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('out_order_no', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('douyin_poi_id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_fen', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.Integer(), nullable=False),
    sa.Column('voucher_kind', sa.String(length=16), nullable=False),
    sa.Column('buyer_phone', sa.String(length=32), nullable=False),
    sa.Column('buyer_open_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('client_ip', sa.String(length=45), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('expires_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint('quantity > 0 and unit_price_fen >= 0 and total_fen = unit_price_fen * quantity', name=op.f('ck_pre_orders_amounts')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pre_orders_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pre_orders_organization_id_organizations')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_pre_orders_product_id_products')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_pre_orders_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pre_orders')),
    sa.UniqueConstraint('order_id', name=op.f('uq_pre_orders_order_id')),
    sa.UniqueConstraint('out_order_no', name=op.f('uq_pre_orders_out_order_no'))
    )
    with op.batch_alter_table('pre_orders', schema=None) as batch_op:
        batch_op.create_index('ix_pre_orders_ip_created', ['client_ip', 'created_at'], unique=False)
        batch_op.create_index('ix_pre_orders_org_open_id_created', ['organization_id', 'buyer_open_id', 'created_at'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completed_from_query', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('completed_from_query')

    with op.batch_alter_table('pre_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_pre_orders_org_open_id_created')
        batch_op.drop_index('ix_pre_orders_ip_created')

    op.drop_table('pre_orders')
