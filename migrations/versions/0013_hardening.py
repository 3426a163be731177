"""hardening: money columns wide enough for any amount the forms accept; refunds unique per
organization; a row per signed-in browser so signing out ends the session server-side

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

MONEY = {
    'products': ('original_price_fen', 'price_fen'),
    'orders': ('total_fen', 'discount_fen', 'paid_fen'),
    'pre_orders': ('unit_price_fen', 'total_fen'),
    'order_items': ('unit_price_fen',),
}


def upgrade():
    for table, columns in MONEY.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)
    with op.batch_alter_table('ledger_refunds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_ledger_refunds_douyin_refund_id', type_='unique')
        batch_op.drop_constraint('uq_ledger_refunds_out_refund_no', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_ledger_refunds_organization_id_douyin_refund_id'), ['organization_id', 'douyin_refund_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_ledger_refunds_organization_id_out_refund_no'), ['organization_id', 'out_refund_no'])
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
        sa.Column('ended_at', portal.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash')),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
    with op.batch_alter_table('ledger_refunds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_ledger_refunds_organization_id_out_refund_no', type_='unique')
        batch_op.drop_constraint('uq_ledger_refunds_organization_id_douyin_refund_id', type_='unique')
        batch_op.create_unique_constraint('uq_ledger_refunds_out_refund_no', ['out_refund_no'])
        batch_op.create_unique_constraint('uq_ledger_refunds_douyin_refund_id', ['douyin_refund_id'])
    for table, columns in MONEY.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
