"""product stores by store: a store manager's library (and the store filter) starts from the
store's products instead of checking every product of the organization

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_product_stores_store', 'product_stores', ['store_id', 'product_id'], unique=False)


def downgrade():
    op.drop_index('ix_product_stores_store', table_name='product_stores')
