"""Store page upkeep pushed to the POI; linked accounts bound by authorization

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('store_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('cover_image_url', sa.String(length=500), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('supplier_ext_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('pushed_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('reviewed_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('checked_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('mismatch', sa.JSON(), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status in ('draft', 'pending', 'approved', 'rejected')", name=op.f('ck_store_pages_status')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_store_pages_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_pages_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_pages')),
    sa.UniqueConstraint('store_id', name=op.f('uq_store_pages_store_id')),
    sa.UniqueConstraint('supplier_ext_id', name=op.f('uq_store_pages_supplier_ext_id'))
    )
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('douyin_unbound_at', portal.database.UTCDateTime(), nullable=True))
    op.create_table('link_authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('qrcode_url', sa.String(length=500), nullable=False),
    sa.Column('qrcode_content', sa.String(length=500), nullable=False),
    sa.Column('issued_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('expires_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('aweme_id', sa.String(length=64), nullable=False),
    sa.Column('nickname', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('linked_account_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', portal.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint("role in ('official', 'channel')", name=op.f('ck_link_authorizations_role')),
    sa.CheckConstraint("status in ('waiting', 'reviewing', 'bound', 'rejected', 'expired')", name=op.f('ck_link_authorizations_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_link_authorizations_created_by_id_users')),
    sa.ForeignKeyConstraint(['linked_account_id'], ['linked_accounts.id'], name=op.f('fk_link_authorizations_linked_account_id_linked_accounts')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_link_authorizations_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_authorizations'))
    )
    with op.batch_alter_table('link_authorizations', schema=None) as batch_op:
        batch_op.create_index('ix_link_authorizations_org_status', ['organization_id', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('link_authorizations', schema=None) as batch_op:
        batch_op.drop_index('ix_link_authorizations_org_status')
    op.drop_table('link_authorizations')
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.drop_column('douyin_unbound_at')
    op.drop_table('store_pages')
