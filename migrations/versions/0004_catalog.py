"""catalog tables

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

import portal.database

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category_id', sa.String(length=32), nullable=True),
    sa.Column('category_name', sa.String(length=100), nullable=True),
    sa.Column('original_price_fen', sa.Integer(), nullable=False),
    sa.Column('price_fen', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('sold_start_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('sold_end_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('usage_rules', sa.Text(), nullable=False),
    sa.Column('out_id', sa.String(length=64), nullable=False),
    sa.Column('douyin_product_id', sa.String(length=32), nullable=True),
    sa.Column('review_status', sa.String(length=16), nullable=False),
    sa.Column('review_reason', sa.Text(), nullable=False),
    sa.Column('local_online', sa.Boolean(), nullable=False),
    sa.Column('douyin_online', sa.Boolean(), nullable=False),
    sa.Column('paused_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('paused_reason', sa.Text(), nullable=False),
    sa.Column('delisted_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_products_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('douyin_product_id', name=op.f('uq_products_douyin_product_id')),
    sa.UniqueConstraint('out_id', name=op.f('uq_products_out_id'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_org_id', ['organization_id', 'id'], unique=False)

    op.create_table('product_stores',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_stores_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_product_stores_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('product_id', 'store_id', name=op.f('pk_product_stores'))
    )



def downgrade():
    op.drop_table('product_stores')
    op.drop_table('products')

