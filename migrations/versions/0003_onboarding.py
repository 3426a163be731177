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
    pass


def downgrade():
    pass
