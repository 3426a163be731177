"""The mini-program's authorization of the portal's third-party platform: the authorizer's tokens
on the 抖音推广 app, and the latest pushed component_ticket

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

import portal.database

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('component_tickets',
    sa.Column('component_appid', sa.String(length=32), nullable=False),
    sa.Column('ticket_enc', sa.Text(), nullable=False),
    sa.Column('received_at', portal.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('component_appid', name=op.f('pk_component_tickets'))
    )
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authorizer_access_token_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('authorizer_refresh_token_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('authorizer_expires_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('authorizer_refresh_expires_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('authorized_at', portal.database.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('unauthorized_at', portal.database.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.drop_column('unauthorized_at')
        batch_op.drop_column('authorized_at')
        batch_op.drop_column('authorizer_refresh_expires_at')
        batch_op.drop_column('authorizer_expires_at')
        batch_op.drop_column('authorizer_refresh_token_enc')
        batch_op.drop_column('authorizer_access_token_enc')
    op.drop_table('component_tickets')
