"""Follow-up redemption incentives and the customer's booking slot

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_CONFIRMED_ROOM = "status = 'confirmed' AND room_id IS NOT NULL"


def upgrade():
    op.create_table('booking_rooms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint('seats > 0', name=op.f('ck_booking_rooms_seats')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_booking_rooms_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_booking_rooms_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_rooms')),
    sa.UniqueConstraint('store_id', 'name', name=op.f('uq_booking_rooms_store_id_name'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('room_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('room_name', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('people', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_bookings_room_id_booking_rooms'), 'booking_rooms', ['room_id'], ['id'])
        batch_op.create_index('ix_bookings_order', ['order_id'], unique=False)
        batch_op.create_index('ux_bookings_room_slot_day', ['room_id', 'slot_id', 'day'], unique=True,
                              sqlite_where=sa.text(_CONFIRMED_ROOM), postgresql_where=sa.text(_CONFIRMED_ROOM))
    op.create_table('incentive_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=60), nullable=False),
    sa.Column('gift', sa.String(length=20), nullable=False),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.String(length=128), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint('valid_days between 1 and 30', name=op.f('ck_incentive_offers_valid_days')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_incentive_offers_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incentive_offers'))
    )
    with op.batch_alter_table('incentive_offers', schema=None) as batch_op:
        batch_op.create_index('ix_incentive_offers_org', ['organization_id'], unique=False)
    op.create_table('incentive_offer_products',
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['incentive_offers.id'], name=op.f('fk_incentive_offer_products_offer_id_incentive_offers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_incentive_offer_products_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('offer_id', 'product_id', name=op.f('pk_incentive_offer_products'))
    )
    op.create_table('order_incentives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=60), nullable=False),
    sa.Column('gift', sa.String(length=20), nullable=False),
    sa.Column('sent_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('deadline_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['offer_id'], ['incentive_offers.id'], name=op.f('fk_order_incentives_offer_id_incentive_offers')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_incentives_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_order_incentives_organization_id_organizations')),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_order_incentives_sent_by_id_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_order_incentives_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_incentives')),
    sa.UniqueConstraint('order_id', name=op.f('uq_order_incentives_order_id'))
    )
    with op.batch_alter_table('order_incentives', schema=None) as batch_op:
        batch_op.create_index('ix_order_incentives_org_sent', ['organization_id', 'sent_at'], unique=False)


def downgrade():
    with op.batch_alter_table('order_incentives', schema=None) as batch_op:
        batch_op.drop_index('ix_order_incentives_org_sent')
    op.drop_table('order_incentives')
    op.drop_table('incentive_offer_products')
    with op.batch_alter_table('incentive_offers', schema=None) as batch_op:
        batch_op.drop_index('ix_incentive_offers_org')
    op.drop_table('incentive_offers')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ux_bookings_room_slot_day')
        batch_op.drop_index('ix_bookings_order')
        batch_op.drop_constraint(batch_op.f('fk_bookings_room_id_booking_rooms'), type_='foreignkey')
        batch_op.drop_column('people')
        batch_op.drop_column('room_name')
        batch_op.drop_column('room_id')
    op.drop_table('booking_rooms')
