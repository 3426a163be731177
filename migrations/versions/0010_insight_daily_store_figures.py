"""insight daily store figures: the daily buckets summed per store and day, so that the
overview's day series and store table read a row per store and day, not one per channel and
tracking code; filled from the buckets already kept

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

METRICS = ('orders', 'gmv_fen', 'paid_fen', 'vouchers', 'open_vouchers', 'redemptions', 'long_redemptions', 'refunds',
           'refunds_fen', 'settled_orders', 'settled_net_fen', 'settled_fees_fen')
BIG = {'gmv_fen', 'paid_fen', 'refunds_fen', 'settled_net_fen', 'settled_fees_fen'}


def upgrade():
    op.create_table('insight_daily_store_figures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    *[sa.Column(name, sa.BigInteger() if name in BIG else sa.Integer(), nullable=False) for name in METRICS],
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_insight_daily_store_figures_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_daily_store_figures')),
    sa.UniqueConstraint('organization_id', 'day', 'store_id', name='uq_insight_daily_store_figures_day')
    )
    columns = ', '.join(METRICS)
    sums = ', '.join(f'SUM({name})' for name in METRICS)
    op.execute(
        f'INSERT INTO insight_daily_store_figures (organization_id, day, store_id, {columns}) '
        f'SELECT organization_id, day, store_id, {sums} FROM insight_daily_figures GROUP BY organization_id, day, store_id'
    )


def downgrade():
    op.drop_table('insight_daily_store_figures')
