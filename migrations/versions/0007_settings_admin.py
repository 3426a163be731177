"""settings_admin tables

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

import portal.database

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('followup_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_followup_templates_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_templates')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_followup_templates_organization_id'))
    )
    op.create_table('linked_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('bound_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('bound_by_id', sa.Integer(), nullable=True),
    sa.Column('unbound_at', portal.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint("platform in ('douyin', 'tiktok')", name=op.f('ck_linked_accounts_platform')),
    sa.CheckConstraint("role in ('official', 'channel')", name=op.f('ck_linked_accounts_role')),
    sa.ForeignKeyConstraint(['bound_by_id'], ['users.id'], name=op.f('fk_linked_accounts_bound_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_linked_accounts_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linked_accounts'))
    )
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_linked_accounts_org_unbound', ['organization_id', 'unbound_at'], unique=False)

    op.create_table('notification_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_notification_settings_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_settings')),
    sa.UniqueConstraint('organization_id', 'kind', name=op.f('uq_notification_settings_organization_id_kind'))
    )
    op.create_table('organization_features',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_features_organization_id_organizations')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_organization_features_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_features')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_organization_features_organization_id_name'))
    )
    op.create_table('booking_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('starts', sa.String(length=5), nullable=False),
    sa.Column('ends', sa.String(length=5), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_booking_slots_capacity')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_booking_slots_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_booking_slots_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_slots')),
    sa.UniqueConstraint('store_id', 'starts', 'ends', name=op.f('uq_booking_slots_store_id_starts_ends'))
    )
    op.create_table('contents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('douyin_item_id', sa.String(length=64), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind in ('short_video', 'live')", name=op.f('ck_contents_kind')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_contents_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_contents_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contents')),
    sa.UniqueConstraint('organization_id', 'douyin_item_id', name=op.f('uq_contents_organization_id_douyin_item_id')),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_contents_tracking_code'))
    )
    op.create_table('bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('slot_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('douyin_booking_id', sa.String(length=32), nullable=False),
    sa.Column('douyin_order_id', sa.String(length=64), nullable=False),
    sa.Column('poi_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('slot_label', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('refused_reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_bookings_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_bookings_organization_id_organizations')),
    sa.ForeignKeyConstraint(['slot_id'], ['booking_slots.id'], name=op.f('fk_bookings_slot_id_booking_slots')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_bookings_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')),
    sa.UniqueConstraint('douyin_booking_id', name=op.f('uq_bookings_douyin_booking_id'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index('ix_bookings_store_day', ['store_id', 'day'], unique=False)

    op.create_table('callback_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('due_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('contacted_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('contacted_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contacted_by_id'], ['users.id'], name=op.f('fk_callback_tasks_contacted_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_callback_tasks_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_callback_tasks_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_callback_tasks_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_tasks')),
    sa.UniqueConstraint('order_id', name=op.f('uq_callback_tasks_order_id'))
    )
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_callback_tasks_org_contacted', ['organization_id', 'contacted_at'], unique=False)

    op.create_table('content_products',
    sa.Column('content_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['content_id'], ['contents.id'], name=op.f('fk_content_products_content_id_contents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_content_products_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('content_id', 'product_id', name=op.f('pk_content_products'))
    )


def downgrade():
    op.drop_table('content_products')
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_tasks_org_contacted')

    op.drop_table('callback_tasks')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_store_day')

    op.drop_table('bookings')
    op.drop_table('contents')
    op.drop_table('booking_slots')
    op.drop_table('organization_features')
    op.drop_table('notification_settings')
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_linked_accounts_org_unbound')

    op.drop_table('linked_accounts')
    op.drop_table('followup_templates')
