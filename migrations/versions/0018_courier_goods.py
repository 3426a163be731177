"""Courier goods: carrier and tracking number; mini-program package audit

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carrier_code', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('tracking_number', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('shipped_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', portal.database.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('shipped_at')
        batch_op.drop_column('tracking_number')
        batch_op.drop_column('carrier_code')
