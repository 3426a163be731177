"""Subscription messages and trade v2 bookings: the follow-up's template id and page, and the
merchant's own number of a booking (out_book_no of book/create_book)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('followup_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_id', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('page', sa.String(length=200), nullable=False, server_default=''))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('out_book_no', sa.String(length=64), nullable=False, server_default=''))
    # The old free-text message cannot be a subscription template's field map: start from the default
    # map, switched off until the merchant enters a template id.
    templates = sa.table('followup_templates', sa.column('enabled', sa.Boolean), sa.column('body', sa.Text))
    op.execute(templates.update().values(enabled=False, body='核销码={voucher_code}\n门店名称={store_name}\n营业时间={opening_hours}'))


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('out_book_no')
    with op.batch_alter_table('followup_templates', schema=None) as batch_op:
        batch_op.drop_column('page')
        batch_op.drop_column('template_id')
