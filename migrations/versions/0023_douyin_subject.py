"""The mini-program's subject (主体) as Douyin has it registered, read with basic_info at
authorization: the licence subject typed in step 1 must be the same

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('douyin_subject', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.drop_column('douyin_subject')
