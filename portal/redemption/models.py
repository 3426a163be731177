"""The counter's memory: every attempt, the review queue, rule thresholds and events, daily exports."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.messages import MessageText, render


class Outcome(StrEnum):
    PENDING = "pending"  # the attempt row exists; its result is being decided in this transaction
    SUCCESS = "success"
    REJECTED = "rejected"
    HELD = "held"  # held for the owner's review (anomaly rule)
    UNDONE = "undone"  # a redemption undone within the window


class Reason(StrEnum):
    """The closed list of reasons a code is refused at the counter."""

    NOT_FOUND = "not_found"
    ALREADY_REDEEMED = "already_redeemed"
    EXPIRED = "expired"
    WRONG_STORE = "wrong_store"
    REFUNDED = "refunded"
    PRODUCT_PAUSED = "product_paused"
    HELD_FOR_REVIEW = "held_for_review"
    DOUYIN_UNREACHABLE = "douyin_unreachable"


class RedemptionAttempt(db.Model):
    """One try at the counter (lookup refusals, confirms, undos): who, where, which code, what happened."""

    __tablename__ = "redemption_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    code: Mapped[str] = mapped_column(String(64))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    buyer_phone: Mapped[str] = mapped_column(String(32), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32), default="")
    # What the portal said of the attempt, in the reader's language (portal/messages.py); what
    # Douyin answered, as it is.
    detail_literal: Mapped[str] = mapped_column("detail", Text, default="")
    detail_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # The phone's one-time key for this confirm: a replay (double tap, retry) returns this row's result.
    nonce: Mapped[str | None] = mapped_column(String(64))
    # The Douyin report this redemption queued (local codes), so an undo can cancel or drop it.
    report_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    at: Mapped[datetime]

    detail = MessageText("detail_literal", "detail_msg")

    user = relationship("User")
    store = relationship("Store")
    voucher = relationship("Voucher")
    product = relationship("Product")

    __table_args__ = (
        UniqueConstraint("organization_id", "nonce"),
        Index("ix_redemption_attempts_org_at", "organization_id", "at"),
        Index("ix_redemption_attempts_product_at", "product_id", "at"),
        Index("ix_redemption_attempts_voucher", "voucher_id"),
        CheckConstraint("outcome in ('pending', 'success', 'rejected', 'held', 'undone')", name="outcome"),
    )


class ReviewStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewCase(db.Model):
    """A redemption held by the per-phone rule until the owner approves or rejects it."""

    __tablename__ = "review_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    attempt_id: Mapped[int] = mapped_column(ForeignKey("redemption_attempts.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    buyer_phone: Mapped[str] = mapped_column(String(32), default="")
    rule: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.OPEN)
    # The owner's own words, as typed.
    note: Mapped[str] = mapped_column(Text, default="")
    # What the portal adds to the decision (why an approval did not redeem, or that the customer
    # must show the Douyin code again): a message, read in the reader's language.
    outcome_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    voucher = relationship("Voucher")
    store = relationship("Store")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    @property
    def outcome_note(self) -> str:
        return render(self.outcome_msg)

    __table_args__ = (
        Index("ix_review_cases_org_status", "organization_id", "status"),
        Index("ix_review_cases_voucher", "voucher_id"),
        CheckConstraint("status in ('open', 'approved', 'rejected')", name="status"),
    )


class RuleSettings(db.Model):
    """Per-organization thresholds of the anomaly rules (defaults when no row exists)."""

    __tablename__ = "redemption_rule_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    # A product with MORE than this many failed redemptions in one day is paused.
    max_failed_per_product_day: Mapped[int] = mapped_column(default=5)
    # A buyer phone with MORE than this many redemptions in 24 hours is held for review.
    max_redemptions_per_phone_24h: Mapped[int] = mapped_column(default=3)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("max_failed_per_product_day >= 1 and max_redemptions_per_phone_24h >= 1", name="positive"),
    )


class RuleEventKind(StrEnum):
    PRODUCT_PAUSED = "product_paused"
    PRODUCT_RESUMED = "product_resumed"
    REDEMPTION_HELD = "redemption_held"


class RuleEvent(db.Model):
    """What the anomaly rules did (and the owner's resume), for the rules page and the day counter."""

    __tablename__ = "redemption_rule_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Why a product was paused, in the reader's language (portal/messages.py); a held
    # redemption's buyer phone, as it is.
    detail_literal: Mapped[str] = mapped_column("detail", Text, default="")
    detail_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    at: Mapped[datetime]

    detail = MessageText("detail_literal", "detail_msg")

    product = relationship("Product")
    actor = relationship("User")

    __table_args__ = (Index("ix_redemption_rule_events_org_at", "organization_id", "at"),)


class ExportFile(db.Model):
    """One store's Excel of one day's redemptions (plus the follow-up list), kept for download."""

    __tablename__ = "redemption_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    day: Mapped[date]
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    redemption_count: Mapped[int] = mapped_column(default=0)
    long_cycle_count: Mapped[int] = mapped_column(default=0)
    follow_up_count: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    store = relationship("Store")

    __table_args__ = (UniqueConstraint("store_id", "day"), Index("ix_redemption_exports_org_day", "organization_id", "day"))
