"""ledger_insights tables

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import portal.database

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_reconciliations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('bill_date', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('douyin_records', sa.Integer(), nullable=False),
    sa.Column('douyin_total_fen', sa.BigInteger(), nullable=False),
    sa.Column('portal_total_fen', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('ran_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_reconciliations_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_reconciliations')),
    sa.UniqueConstraint('organization_id', 'bill_date', name=op.f('uq_ledger_reconciliations_organization_id_bill_date'))
    )
    op.create_table('ledger_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('settlement_basis', sa.String(length=8), nullable=False),
    sa.Column('settlement_days', sa.Integer(), nullable=False),
    sa.Column('refund_window_days', sa.Integer(), nullable=False),
    sa.Column('refund_auto_audit', sa.Boolean(), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(), nullable=False),
    sa.CheckConstraint("settlement_basis in ('redeem', 'pay')", name=op.f('ck_ledger_settings_basis')),
    sa.CheckConstraint('refund_window_days >= 0 and refund_window_days <= 365', name=op.f('ck_ledger_settings_window')),
    sa.CheckConstraint('settlement_days >= 0 and settlement_days <= 90', name=op.f('ck_ledger_settings_days')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_settings_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_settings')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_ledger_settings_organization_id'))
    )
    op.create_table('ledger_withdrawals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('out_withdraw_no', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('douyin_withdraw_id', sa.String(length=64), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('finished_at', portal.database.UTCDateTime(), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_ledger_withdrawals_positive')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_withdrawals_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_ledger_withdrawals_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_withdrawals')),
    sa.UniqueConstraint('out_withdraw_no', name=op.f('uq_ledger_withdrawals_out_withdraw_no'))
    )
    with op.batch_alter_table('ledger_withdrawals', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_withdrawals_org_requested', ['organization_id', 'requested_at'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('balance_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("code = 'douyin_clearing' or balance_fen >= 0", name=op.f('ck_ledger_accounts_not_negative')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_accounts_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_accounts_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('organization_id', 'scope', 'code', name=op.f('uq_ledger_accounts_organization_id_scope_code'))
    )
    op.create_table('ledger_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('fee_category', sa.String(length=40), nullable=False),
    sa.Column('tech_fee_rate', sa.String(length=12), nullable=False),
    sa.Column('promo_applied', sa.Boolean(), nullable=False),
    sa.Column('tech_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('channel_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('net_fen', sa.BigInteger(), nullable=False),
    sa.Column('paid_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('completed_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('due_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('settled_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('settle_batch', sa.String(length=32), nullable=True),
    sa.Column('refunded_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('withdrawn_fen', sa.BigInteger(), nullable=False),
    sa.Column('douyin_settle_status', sa.String(length=16), nullable=False),
    sa.Column('douyin_settle_id', sa.String(length=64), nullable=False),
    sa.Column('douyin_settle_note', sa.Text(), nullable=False),
    sa.CheckConstraint('net_fen + tech_fee_fen + channel_fee_fen = paid_fen', name=op.f('ck_ledger_orders_fees_add_up')),
    sa.CheckConstraint('withdrawn_fen >= 0 and withdrawn_fen <= net_fen', name=op.f('ck_ledger_orders_withdrawn')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_orders_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_orders_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_orders_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_orders')),
    sa.UniqueConstraint('order_id', name=op.f('uq_ledger_orders_order_id'))
    )
    with op.batch_alter_table('ledger_orders', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_orders_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_ledger_orders_org_status', ['organization_id', 'status'], unique=False)
        batch_op.create_index('ix_ledger_orders_settle_batch', ['settle_batch'], unique=False)

    op.create_table('ledger_reconciliation_differences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reconciliation_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('douyin_order_id', sa.String(length=64), nullable=False),
    sa.Column('problem', sa.String(length=24), nullable=False),
    sa.Column('douyin_fen', sa.BigInteger(), nullable=False),
    sa.Column('portal_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_reconciliation_differences_order_id_orders')),
    sa.ForeignKeyConstraint(['reconciliation_id'], ['ledger_reconciliations.id'], name=op.f('fk_ledger_reconciliation_differences_reconciliation_id_ledger_reconciliations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_reconciliation_differences'))
    )
    with op.batch_alter_table('ledger_reconciliation_differences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_reconciliation_differences_reconciliation_id'), ['reconciliation_id'], unique=False)

    op.create_table('ledger_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('douyin_refund_id', sa.String(length=64), nullable=False),
    sa.Column('douyin_order_id', sa.String(length=64), nullable=False),
    sa.Column('out_refund_no', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('customer_reason', sa.Text(), nullable=False),
    sa.Column('need_audit', sa.Boolean(), nullable=False),
    sa.Column('audit_deadline_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=16), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('refunded_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_ledger_refunds_decided_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_refunds_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_refunds_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_refunds_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_refunds')),
    sa.UniqueConstraint('douyin_refund_id', name=op.f('uq_ledger_refunds_douyin_refund_id')),
    sa.UniqueConstraint('out_refund_no', name=op.f('uq_ledger_refunds_out_refund_no'))
    )
    with op.batch_alter_table('ledger_refunds', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_refunds_org_status', ['organization_id', 'status'], unique=False)

    op.create_table('ledger_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('withdrawal_id', sa.Integer(), nullable=True),
    sa.Column('memo', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('posted_at', portal.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ledger_transactions_actor_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_transactions_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_transactions_organization_id_organizations')),
    sa.ForeignKeyConstraint(['withdrawal_id'], ['ledger_withdrawals.id'], name=op.f('fk_ledger_transactions_withdrawal_id_ledger_withdrawals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('kind', 'reference', name=op.f('uq_ledger_transactions_kind_reference'))
    )
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_transactions_order_id', ['order_id'], unique=False)
        batch_op.create_index('ix_ledger_transactions_org_posted', ['organization_id', 'posted_at'], unique=False)

    op.create_table('ledger_postings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_postings_organization_id_organizations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_postings_store_id_stores')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_postings_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_postings'))
    )
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_postings_account_id', ['account_id'], unique=False)
        batch_op.create_index('ix_ledger_postings_org_store', ['organization_id', 'store_id'], unique=False)
        batch_op.create_index('ix_ledger_postings_transaction_id', ['transaction_id'], unique=False)

    op.create_table('ledger_withdrawal_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('withdrawal_id', sa.Integer(), nullable=False),
    sa.Column('ledger_order_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_ledger_withdrawal_items_positive')),
    sa.ForeignKeyConstraint(['ledger_order_id'], ['ledger_orders.id'], name=op.f('fk_ledger_withdrawal_items_ledger_order_id_ledger_orders')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_withdrawal_items_store_id_stores')),
    sa.ForeignKeyConstraint(['withdrawal_id'], ['ledger_withdrawals.id'], name=op.f('fk_ledger_withdrawal_items_withdrawal_id_ledger_withdrawals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_withdrawal_items'))
    )
    with op.batch_alter_table('ledger_withdrawal_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_withdrawal_items_ledger_order_id'), ['ledger_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_withdrawal_items_withdrawal_id'), ['withdrawal_id'], unique=False)

    # --- insights ---
    op.create_table('insight_daily_figures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('gmv_fen', sa.BigInteger(), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('vouchers', sa.Integer(), nullable=False),
    sa.Column('open_vouchers', sa.Integer(), nullable=False),
    sa.Column('redemptions', sa.Integer(), nullable=False),
    sa.Column('long_redemptions', sa.Integer(), nullable=False),
    sa.Column('refunds', sa.Integer(), nullable=False),
    sa.Column('refunds_fen', sa.BigInteger(), nullable=False),
    sa.Column('settled_orders', sa.Integer(), nullable=False),
    sa.Column('settled_net_fen', sa.BigInteger(), nullable=False),
    sa.Column('settled_fees_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_insight_daily_figures_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_daily_figures')),
    sa.UniqueConstraint('organization_id', 'day', 'store_id', 'channel', 'tracking_code', name='uq_insight_daily_figures_bucket')
    )

    op.create_table('insight_order_facts',
    sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('paid_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('gmv_fen', sa.BigInteger(), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('vouchers', sa.Integer(), nullable=False),
    sa.Column('open_vouchers', sa.Integer(), nullable=False),
    sa.Column('refunded_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('refunds_fen', sa.BigInteger(), nullable=False),
    sa.Column('settled_at', portal.database.UTCDateTime(), nullable=True),
    sa.Column('settled_net_fen', sa.BigInteger(), nullable=False),
    sa.Column('settled_fees_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_insight_order_facts_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_insight_order_facts_organization_id_organizations')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_insight_order_facts'))
    )
    with op.batch_alter_table('insight_order_facts', schema=None) as batch_op:
        batch_op.create_index('ix_insight_order_facts_open', ['organization_id', 'paid_at'], unique=False, sqlite_where=sa.text('open_vouchers > 0'), postgresql_where=sa.text('open_vouchers > 0'))

    op.create_table('insight_redemption_facts',
    sa.Column('voucher_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('paid_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('redeemed_at', portal.database.UTCDateTime(), nullable=False),
    sa.Column('cycle_minutes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_insight_redemption_facts_order_id_orders')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_insight_redemption_facts_organization_id_organizations')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_insight_redemption_facts_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('voucher_id', name=op.f('pk_insight_redemption_facts'))
    )
    with op.batch_alter_table('insight_redemption_facts', schema=None) as batch_op:
        batch_op.create_index('ix_insight_redemption_facts_long', ['organization_id', 'redeemed_at'], unique=False, sqlite_where=sa.text('cycle_minutes > 1440'), postgresql_where=sa.text('cycle_minutes > 1440'))


def downgrade():
    with op.batch_alter_table('ledger_withdrawal_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_withdrawal_items_withdrawal_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_withdrawal_items_ledger_order_id'))

    op.drop_table('ledger_withdrawal_items')
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_postings_transaction_id')
        batch_op.drop_index('ix_ledger_postings_org_store')
        batch_op.drop_index('ix_ledger_postings_account_id')

    op.drop_table('ledger_postings')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transactions_org_posted')
        batch_op.drop_index('ix_ledger_transactions_order_id')

    op.drop_table('ledger_transactions')
    with op.batch_alter_table('ledger_refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_refunds_org_status')

    op.drop_table('ledger_refunds')
    with op.batch_alter_table('ledger_reconciliation_differences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_reconciliation_differences_reconciliation_id'))

    op.drop_table('ledger_reconciliation_differences')
    with op.batch_alter_table('ledger_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_orders_settle_batch')
        batch_op.drop_index('ix_ledger_orders_org_status')
        batch_op.drop_index('ix_ledger_orders_due')

    op.drop_table('ledger_orders')
    op.drop_table('ledger_accounts')
    with op.batch_alter_table('ledger_withdrawals', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_withdrawals_org_requested')

    op.drop_table('ledger_withdrawals')
    op.drop_table('ledger_settings')
    op.drop_table('ledger_reconciliations')

    # --- insights ---
    with op.batch_alter_table('insight_redemption_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_insight_redemption_facts_long', sqlite_where=sa.text('cycle_minutes > 1440'), postgresql_where=sa.text('cycle_minutes > 1440'))
    op.drop_table('insight_redemption_facts')
    with op.batch_alter_table('insight_order_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_insight_order_facts_open', sqlite_where=sa.text('open_vouchers > 0'), postgresql_where=sa.text('open_vouchers > 0'))
    op.drop_table('insight_order_facts')
    op.drop_table('insight_daily_figures')
