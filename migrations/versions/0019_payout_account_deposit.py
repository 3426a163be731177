"""The payout account (主体一致) and the deposit by category with its deductions

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

from portal.database import UTCDateTime

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('licence_subject', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('licence_kind', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('licence_operator', sa.String(length=50), nullable=True))
    with op.batch_alter_table('ledger_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_model', sa.String(length=16), nullable=False, server_default='platform'))
        batch_op.add_column(sa.Column('deposit_category', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint('fee_model', "fee_model in ('platform', 'groupbuy')")
    op.create_table(
        'ledger_payout_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('holder_name', sa.String(length=100), nullable=False),
        sa.Column('account_no_enc', sa.Text(), nullable=False),
        sa.Column('account_masked', sa.String(length=64), nullable=False),
        sa.Column('bank_name', sa.String(length=60), nullable=False),
        sa.Column('bank_branch', sa.String(length=100), nullable=False),
        sa.Column('bound_by_id', sa.Integer(), nullable=True),
        sa.Column('bound_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind in ('alipay', 'bank')", name=op.f('ck_ledger_payout_accounts_kind')),
        sa.ForeignKeyConstraint(['bound_by_id'], ['users.id'], name=op.f('fk_ledger_payout_accounts_bound_by_id_users')),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_payout_accounts_organization_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_payout_accounts')),
        sa.UniqueConstraint('organization_id', name=op.f('uq_ledger_payout_accounts_organization_id')),
    )
    op.create_table(
        'ledger_deposit_requirements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('required_fen', sa.BigInteger(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('required_fen >= 0', name=op.f('ck_ledger_deposit_requirements_not_negative')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_ledger_deposit_requirements_updated_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_deposit_requirements')),
        sa.UniqueConstraint('category', name=op.f('uq_ledger_deposit_requirements_category')),
    )


def downgrade():
    op.drop_table('ledger_deposit_requirements')
    op.drop_table('ledger_payout_accounts')
    with op.batch_alter_table('ledger_settings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_settings_fee_model'), type_='check')
        batch_op.drop_column('deposit_category')
        batch_op.drop_column('fee_model')
    with op.batch_alter_table('douyin_apps', schema=None) as batch_op:
        batch_op.drop_column('licence_operator')
        batch_op.drop_column('licence_kind')
        batch_op.drop_column('licence_subject')
