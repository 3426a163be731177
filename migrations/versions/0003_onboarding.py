"""onboarding tables

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

import portal.database

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('licence_path', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('licence_format', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('licence_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('licence_watermarked', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('licence_uploaded_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('payment_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('payment_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('payment_merchant_uid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('payment_checked_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('shelf_block_answers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('shelf_block_confirmed_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('ka_confirmed_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('full_shelf_answers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('full_shelf_confirmed_at', portal.database.UTCDateTime(), nullable=True))

    op.create_table('miniapp_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('checked_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('decided_at', portal.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status in ('reviewing', 'approved', 'rejected')", name=op.f('ck_miniapp_reviews_status')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_miniapp_reviews_organization_id_organizations')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_miniapp_reviews_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_miniapp_reviews')),
    sa.UniqueConstraint('audit_id', name=op.f('uq_miniapp_reviews_audit_id'))
    )
    with op.batch_alter_table('miniapp_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_miniapp_reviews_org_id', ['organization_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('miniapp_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_miniapp_reviews_org_id')

    op.drop_table('miniapp_reviews')
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.drop_column('full_shelf_confirmed_at')
        batch_op.drop_column('full_shelf_answers')
        batch_op.drop_column('ka_confirmed_at')
        batch_op.drop_column('shelf_block_confirmed_at')
        batch_op.drop_column('shelf_block_answers')
        batch_op.drop_column('payment_checked_at')
        batch_op.drop_column('payment_merchant_uid')
        batch_op.drop_column('payment_reason')
        batch_op.drop_column('payment_status')
        batch_op.drop_column('licence_uploaded_at')
        batch_op.drop_column('licence_watermarked')
        batch_op.drop_column('licence_size')
        batch_op.drop_column('licence_format')
        batch_op.drop_column('licence_path')
