"""The guaranteed account (担保账户): a double-entry journal in integer fen.

Accounts exist per organization and per store (`scope` = the store id, 0 for money that belongs
to no store, e.g. the deposit). An HQ sees the sum over scopes; a store manager only the rows of
their store. Balances are cached on the account and updated in the same transaction as the
postings; the database refuses a negative balance on any account but the outside clearing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.messages import MessageText


class AccountCode(StrEnum):
    CLEARING = "douyin_clearing"  # outside: Douyin's clearing, the only account that goes negative
    IN_TRANSIT = "in_transit"
    AVAILABLE = "available"
    WITHDRAWING = "withdrawing"
    WITHDRAWN = "withdrawn"
    FEES = "fees"
    REFUNDED = "refunded"
    DEPOSIT = "deposit"


class TxnKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    SETTLEMENT = "settlement"
    WITHDRAWAL = "withdrawal"
    WITHDRAWAL_PAID = "withdrawal_paid"
    WITHDRAWAL_FAILED = "withdrawal_failed"
    SETTLEMENT_ADJUSTMENT = "settlement_adjustment"
    DEPOSIT_PAY_IN = "deposit_pay_in"
    DEPOSIT_TOP_UP = "deposit_top_up"
    DEPOSIT_DEDUCTION = "deposit_deduction"
    DEPOSIT_RETURN = "deposit_return"


class LedgerOrderStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    SETTLED = "settled"
    REFUNDED = "refunded"


class SettlementBasis(StrEnum):
    REDEEM = "redeem"  # 核销 D+N: N natural days after the order is complete
    PAY = "pay"  # 支付 D+N: N natural days after payment


class WithdrawalStatus(StrEnum):
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"


class RefundStatus(StrEnum):
    PENDING = "pending"  # waiting for the merchant (Douyin approves by itself at the deadline)
    APPROVED = "approved"  # agreed, Douyin is returning the money
    REJECTED = "rejected"
    REFUNDED = "refunded"  # Douyin returned the money; the ledger is reversed
    FAILED = "failed"


class LedgerSettings(db.Model):
    """Per-organization ledger and refund policy settings (the settings page links to the form)."""

    __tablename__ = "ledger_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    settlement_basis: Mapped[str] = mapped_column(String(8), default=SettlementBasis.REDEEM)
    settlement_days: Mapped[int] = mapped_column(default=3)
    refund_window_days: Mapped[int] = mapped_column(default=7)
    refund_auto_audit: Mapped[bool] = mapped_column(default=True)
    # Which fee schedule the estimate uses (fees.FEE_MODELS); Douyin's settled amounts stay the truth.
    fee_model: Mapped[str] = mapped_column(String(16), default="platform", server_default="platform")
    # The merchant's business category for the deposit (deposits.CATEGORIES), set by the platform operator.
    deposit_category: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("fee_model in ('platform', 'groupbuy')", name="fee_model"),
        CheckConstraint("settlement_basis in ('redeem', 'pay')", name="basis"),
        CheckConstraint("settlement_days >= 0 and settlement_days <= 90", name="days"),
        CheckConstraint("refund_window_days >= 0 and refund_window_days <= 365", name="window"),
    )


class LedgerAccount(db.Model):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    scope: Mapped[int] = mapped_column(default=0)  # store id, or 0 for the organization itself
    code: Mapped[str] = mapped_column(String(20))
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    store = relationship("Store")

    __table_args__ = (
        UniqueConstraint("organization_id", "scope", "code"),
        CheckConstraint("code = 'douyin_clearing' or balance_fen >= 0", name="not_negative"),
    )


class LedgerTransaction(db.Model):
    """One journal transaction: postings that sum to zero, unique by (kind, reference)."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str] = mapped_column(String(80))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_withdrawals.id"))
    # A settlement run posts one transaction per scope for all the orders it settled; each
    # order's share is its LedgerOrder row with the same settle_batch.
    settle_batch: Mapped[str | None] = mapped_column(String(32))
    # The note in the reader's language: a message id with values, or text as typed (portal/messages.py).
    memo_literal: Mapped[str] = mapped_column("memo", Text, default="")
    memo_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime]

    postings: Mapped[list[LedgerPosting]] = relationship(back_populates="transaction", order_by="LedgerPosting.id")

    __table_args__ = (
        UniqueConstraint("kind", "reference"),
        Index("ix_ledger_transactions_org_posted", "organization_id", "posted_at"),
        Index("ix_ledger_transactions_order_id", "order_id"),
        Index("ix_ledger_transactions_settle_batch", "settle_batch"),
    )

    memo = MessageText("memo_literal", "memo_msg")


class LedgerPosting(db.Model):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    # Copied from the account so the journal is filtered by tenant and store without a join.
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings")
    account: Mapped[LedgerAccount] = relationship()

    __table_args__ = (
        Index("ix_ledger_postings_transaction_id", "transaction_id"),
        Index("ix_ledger_postings_account_id", "account_id"),
        Index("ix_ledger_postings_org_store", "organization_id", "store_id"),
        # The journal, newest first, per organization and per store.
        Index("ix_ledger_postings_org_newest", "organization_id", "id"),
        Index("ix_ledger_postings_store_newest", "store_id", "id"),
    )


class LedgerOrder(db.Model):
    """The ledger's view of one paid order: its fees (computed once, at payment) and its
    settlement clock. Written only by ledger services."""

    __tablename__ = "ledger_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    scope: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=LedgerOrderStatus.IN_TRANSIT)
    source: Mapped[str] = mapped_column(String(16))
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    fee_category: Mapped[str] = mapped_column(String(40))
    tech_fee_rate: Mapped[str] = mapped_column(String(12))  # a decimal, "0.025"
    promo_applied: Mapped[bool] = mapped_column(default=False)
    tech_fee_fen: Mapped[int] = mapped_column(BigInteger)
    channel_fee_fen: Mapped[int] = mapped_column(BigInteger)
    net_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    settle_batch: Mapped[str | None] = mapped_column(String(32))
    refunded_at: Mapped[datetime | None]
    withdrawn_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # allocated to withdrawals
    douyin_settle_status: Mapped[str] = mapped_column(String(16), default="")
    douyin_settle_id: Mapped[str] = mapped_column(String(64), default="")
    douyin_settle_note: Mapped[str] = mapped_column(Text, default="")
    # What Douyin settled (settle_query's settle_amount) once known; a difference from net_fen is
    # posted as a settlement adjustment.
    douyin_net_fen: Mapped[int | None] = mapped_column(BigInteger)

    order = relationship("Order")

    __table_args__ = (
        CheckConstraint("net_fen + tech_fee_fen + channel_fee_fen = paid_fen", name="fees_add_up"),
        CheckConstraint("withdrawn_fen >= 0 and withdrawn_fen <= coalesce(douyin_net_fen, net_fen)", name="withdrawn"),
        Index("ix_ledger_orders_due", "status", "due_at"),
        Index("ix_ledger_orders_org_status", "organization_id", "status"),
        Index("ix_ledger_orders_settle_batch", "settle_batch"),
        # The orders list, newest first, per organization and per store.
        Index("ix_ledger_orders_org_paid", "organization_id", "paid_at", "id"),
        Index("ix_ledger_orders_store_paid", "store_id", "paid_at", "id"),
    )


class Withdrawal(db.Model):
    __tablename__ = "ledger_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    out_withdraw_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=WithdrawalStatus.PROCESSING)
    douyin_withdraw_id: Mapped[str] = mapped_column(String(64), default="")
    failure_reason_literal: Mapped[str] = mapped_column("failure_reason", Text, default="")
    failure_reason_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    items: Mapped[list[WithdrawalItem]] = relationship(back_populates="withdrawal", order_by="WithdrawalItem.id")
    requested_by = relationship("User")

    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="positive"),
        Index("ix_ledger_withdrawals_org_requested", "organization_id", "requested_at"),
    )

    failure_reason = MessageText("failure_reason_literal", "failure_reason_msg")


class WithdrawalItem(db.Model):
    """Which order's money (and how much of it) a withdrawal contains."""

    __tablename__ = "ledger_withdrawal_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    withdrawal_id: Mapped[int] = mapped_column(ForeignKey("ledger_withdrawals.id"), index=True)
    ledger_order_id: Mapped[int] = mapped_column(ForeignKey("ledger_orders.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    scope: Mapped[int] = mapped_column(default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    withdrawal: Mapped[Withdrawal] = relationship(back_populates="items")
    ledger_order: Mapped[LedgerOrder] = relationship()

    __table_args__ = (CheckConstraint("amount_fen > 0", name="positive"),)


class RefundRequest(db.Model):
    __tablename__ = "ledger_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    douyin_refund_id: Mapped[str] = mapped_column(String(64))
    douyin_order_id: Mapped[str] = mapped_column(String(64), default="")
    out_refund_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Reasons in the reader's language (portal/messages.py): Douyin's preset refund reasons and our
    # own are message ids; what the customer or the merchant typed is kept as typed.
    customer_reason_literal: Mapped[str] = mapped_column("customer_reason", Text, default="")
    customer_reason_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    need_audit: Mapped[bool] = mapped_column(default=True)
    audit_deadline_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING)
    decided_by: Mapped[str] = mapped_column(String(16), default="")  # auto | merchant | douyin
    decision_reason_literal: Mapped[str] = mapped_column("decision_reason", Text, default="")
    decision_reason_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    order = relationship("Order")

    # Unique per organization: a callback can only ever name its own organization's refunds, so a
    # refund id that another merchant's callback URL also received is a different row, never a collision.
    __table_args__ = (
        Index("ix_ledger_refunds_org_status", "organization_id", "status"),
        UniqueConstraint("organization_id", "douyin_refund_id"),
        UniqueConstraint("organization_id", "out_refund_no"),
    )

    customer_reason = MessageText("customer_reason_literal", "customer_reason_msg")
    decision_reason = MessageText("decision_reason_literal", "decision_reason_msg")


class Reconciliation(db.Model):
    """One day compared with Douyin's settlement ledger; differences are listed, never corrected."""

    __tablename__ = "ledger_reconciliations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    bill_date: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16))  # matched | differences | error
    douyin_records: Mapped[int] = mapped_column(default=0)
    douyin_total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    portal_total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    ran_at: Mapped[datetime]

    differences: Mapped[list[ReconciliationDifference]] = relationship(
        back_populates="reconciliation", order_by="ReconciliationDifference.id", cascade="all, delete-orphan"
    )

    __table_args__ = (UniqueConstraint("organization_id", "bill_date"),)


class ReconciliationDifference(db.Model):
    __tablename__ = "ledger_reconciliation_differences"

    id: Mapped[int] = mapped_column(primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(ForeignKey("ledger_reconciliations.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    douyin_order_id: Mapped[str] = mapped_column(String(64), default="")
    problem: Mapped[str] = mapped_column(String(24))  # missing_at_douyin | unknown_order | amount_differs
    douyin_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    portal_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    reconciliation: Mapped[Reconciliation] = relationship(back_populates="differences")


class PayoutKind(StrEnum):
    ALIPAY = "alipay"  # 企业支付宝 (or, for a 个体工商户, the operator's verified personal Alipay)
    BANK = "bank"  # 对公银行账户


class PayoutAccount(db.Model):
    """The account withdrawals are paid to (提现收款账户), one per organization. Its holder matched
    the business licence's subject when it was bound; the number is kept encrypted and only ever
    shown masked."""

    __tablename__ = "ledger_payout_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    holder_name: Mapped[str] = mapped_column(String(100))
    account_no_enc: Mapped[str] = mapped_column(Text)
    account_masked: Mapped[str] = mapped_column(String(64))
    bank_name: Mapped[str] = mapped_column(String(60), default="")
    bank_branch: Mapped[str] = mapped_column(String(100), default="")
    bound_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bound_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("kind in ('alipay', 'bank')", name="kind"),)


class DepositRequirement(db.Model):
    """The platform operator's deposit for a business category, replacing the portal's default
    (deposits.CATEGORIES) for every merchant of that category."""

    __tablename__ = "ledger_deposit_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(16), unique=True)
    required_fen: Mapped[int] = mapped_column(BigInteger)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("required_fen >= 0", name="not_negative"),)
