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

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('images', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('douyin_sku_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('douyin_version', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('submitted_version', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('synced_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_seen_run_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('edited_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_products_org_review', ['organization_id', 'review_status', 'id'], unique=False)

    op.create_table('sync_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('active_org_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('cursor', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('seen', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('conflicts', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('started_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('heartbeat_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('finished_at', portal.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_sync_runs_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_sync_runs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs')),
    sa.UniqueConstraint('active_org_id', name=op.f('uq_sync_runs_active_org_id'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index('ix_sync_runs_org_id', ['organization_id', 'id'], unique=False)

    op.create_table('sync_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('douyin_product_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_sync_changes_product_id_products'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_sync_changes_run_id_sync_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_changes'))
    )
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.create_index('ix_sync_changes_run_id', ['run_id', 'id'], unique=False)

    op.create_table('product_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('local_version', sa.JSON(), nullable=False),
    sa.Column('douyin_version', sa.JSON(), nullable=False),
    sa.Column('detected_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_product_conflicts_organization_id_organizations')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_conflicts_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_product_conflicts_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_product_conflicts_run_id_sync_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_conflicts'))
    )
    with op.batch_alter_table('product_conflicts', schema=None) as batch_op:
        batch_op.create_index('ix_product_conflicts_product_resolved', ['product_id', 'resolved_at'], unique=False)




def downgrade():
    op.drop_table('product_conflicts')
    op.drop_table('sync_changes')
    op.drop_table('sync_runs')
    op.drop_table('product_stores')
    op.drop_table('products')

