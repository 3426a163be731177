"""orders_redemption tables

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

import portal.database

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('douyin_order_id', sa.String(length=64), nullable=False),
    sa.Column('out_order_no', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fulfilment', sa.String(length=16), nullable=False),
    sa.Column('total_fen', sa.Integer(), nullable=False),
    sa.Column('discount_fen', sa.Integer(), nullable=False),
    sa.Column('paid_fen', sa.Integer(), nullable=False),
    sa.Column('paid_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('buyer_phone', sa.String(length=32), nullable=False),
    sa.Column('buyer_open_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('douyin_poi_id', sa.String(length=32), nullable=False),
    sa.Column('shipping_status', sa.String(length=16), nullable=False),
    sa.Column('completed_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint('paid_fen >= 0 and total_fen >= paid_fen', name=op.f('ck_orders_amounts')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_orders_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_orders_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('douyin_order_id', name=op.f('uq_orders_douyin_order_id')),
    sa.UniqueConstraint('out_order_no', name=op.f('uq_orders_out_order_no'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_org_paid_at', ['organization_id', 'paid_at'], unique=False)
        batch_op.create_index('ix_orders_org_status', ['organization_id', 'status'], unique=False)

    op.create_table('order_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_fen', sa.Integer(), nullable=False),
    sa.Column('douyin_item_order_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_items_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_items_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_items'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_items_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_items_product_id'), ['product_id'], unique=False)

    op.create_table('vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('valid_from', portal.database.UTCDateTime(), nullable=False),
    sa.Column('valid_until', portal.database.UTCDateTime(), nullable=False),
    sa.Column('redeemed_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('redeemed_by_id', sa.Integer(), nullable=True),
    sa.Column('redeemed_store_id', sa.Integer(), nullable=True),
    sa.Column('douyin_certificate_id', sa.String(length=64), nullable=False),
    sa.Column('douyin_verify_id', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_vouchers_order_id_orders')),
    sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'], name=op.f('fk_vouchers_order_item_id_order_items')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_vouchers_organization_id_organizations')),
    sa.ForeignKeyConstraint(['redeemed_by_id'], ['users.id'], name=op.f('fk_vouchers_redeemed_by_id_users')),
    sa.ForeignKeyConstraint(['redeemed_store_id'], ['stores.id'], name=op.f('fk_vouchers_redeemed_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('code', name=op.f('uq_vouchers_code'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_vouchers_org_status', ['organization_id', 'status'], unique=False)

    op.create_table('redemption_rule_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('max_failed_per_product_day', sa.Integer(), nullable=False),
    sa.Column('max_redemptions_per_phone_24h', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint('max_failed_per_product_day >= 1 and max_redemptions_per_phone_24h >= 1', name=op.f('ck_redemption_rule_settings_positive')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_redemption_rule_settings_organization_id_organizations')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_redemption_rule_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_rule_settings')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_redemption_rule_settings_organization_id'))
    )

    op.create_table('redemption_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('buyer_phone', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=True),
    sa.Column('report_message_id', sa.Integer(), nullable=True),
    sa.Column('at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("outcome in ('pending', 'success', 'rejected', 'held', 'undone')", name=op.f('ck_redemption_attempts_outcome')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_redemption_attempts_organization_id_organizations')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_redemption_attempts_product_id_products')),
    sa.ForeignKeyConstraint(['report_message_id'], ['outbox_messages.id'], name=op.f('fk_redemption_attempts_report_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_redemption_attempts_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_redemption_attempts_user_id_users')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_redemption_attempts_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_attempts')),
    sa.UniqueConstraint('organization_id', 'nonce', name=op.f('uq_redemption_attempts_organization_id_nonce'))
    )
    with op.batch_alter_table('redemption_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_attempts_org_at', ['organization_id', 'at'], unique=False)
        batch_op.create_index('ix_redemption_attempts_product_at', ['product_id', 'at'], unique=False)
        batch_op.create_index('ix_redemption_attempts_voucher', ['voucher_id'], unique=False)

    op.create_table('review_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('buyer_phone', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status in ('open', 'approved', 'rejected')", name=op.f('ck_review_cases_status')),
    sa.ForeignKeyConstraint(['attempt_id'], ['redemption_attempts.id'], name=op.f('fk_review_cases_attempt_id_redemption_attempts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_review_cases_decided_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_review_cases_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_review_cases_requested_by_id_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_review_cases_store_id_stores')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_review_cases_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_cases'))
    )
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.create_index('ix_review_cases_org_status', ['organization_id', 'status'], unique=False)
        batch_op.create_index('ix_review_cases_voucher', ['voucher_id'], unique=False)

    op.create_table('redemption_rule_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_redemption_rule_events_actor_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_redemption_rule_events_organization_id_organizations')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_redemption_rule_events_product_id_products')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_redemption_rule_events_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_rule_events'))
    )
    with op.batch_alter_table('redemption_rule_events', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_rule_events_org_at', ['organization_id', 'at'], unique=False)

    op.create_table('redemption_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('redemption_count', sa.Integer(), nullable=False),
    sa.Column('long_cycle_count', sa.Integer(), nullable=False),
    sa.Column('follow_up_count', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_redemption_exports_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_redemption_exports_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_redemption_exports_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_exports')),
    sa.UniqueConstraint('store_id', 'day', name=op.f('uq_redemption_exports_store_id_day'))
    )
    with op.batch_alter_table('redemption_exports', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_exports_org_day', ['organization_id', 'day'], unique=False)




def downgrade():
    op.drop_table('redemption_exports')
    op.drop_table('redemption_rule_events')
    op.drop_table('review_cases')
    op.drop_table('redemption_attempts')
    op.drop_table('redemption_rule_settings')
    op.drop_table('vouchers')
    op.drop_table('order_items')
    op.drop_table('orders')

