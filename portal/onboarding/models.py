"""A merchant's connection to Douyin: the 抖音推广 app, its credentials and the wizard's facts.

Secrets are stored encrypted (`portal.vault`); nothing here is ever rendered in full. The
wizard's progress is derived from these facts (`portal.onboarding.steps`); no column says
which step a merchant is on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class PaymentOnboardingStatus(StrEnum):
    """Douyin's 支付进件 status, from ecpay's query_merchant_status (`ECPAY_STATUS` maps its words)."""

    NOT_STARTED = "NOT_STARTED"
    REVIEWING = "REVIEWING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class MiniappReviewStatus(StrEnum):
    REVIEWING = "reviewing"  # Douyin AUDITING
    APPROVED = "approved"  # PASS
    REJECTED = "rejected"  # REJECT, reason in `reason`


class DouyinApp(db.Model):
    __tablename__ = "douyin_apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    # The app-center switch (抖音推广 › 应用中心). Off keeps every other column.
    enabled: Mapped[bool] = mapped_column(default=False)
    enabled_at: Mapped[datetime | None]
    # Step 1: the Laike root account (抖音商家ID) and the mini-program. A Laike account id
    # without a name is saved but not yet checked against Douyin (no AppSecret to ask with).
    laike_account_id: Mapped[str | None] = mapped_column(String(32))
    laike_account_name: Mapped[str | None] = mapped_column(String(100))
    app_id: Mapped[str | None] = mapped_column(String(32))
    app_name: Mapped[str | None] = mapped_column(String(100))
    # Step 1: the business licence image, stored under the instance folder (never static/).
    licence_path: Mapped[str | None] = mapped_column(String(200))
    licence_format: Mapped[str | None] = mapped_column(String(8))
    licence_size: Mapped[int | None]
    licence_watermarked: Mapped[bool] = mapped_column(default=False, server_default=false())
    licence_uploaded_at: Mapped[datetime | None]
    # Step 1: the licence's subject as printed on it (主体名称), its type, and for a 个体工商户 the
    # operator's name: a payout account's holder must match them (主体一致).
    licence_subject: Mapped[str | None] = mapped_column(String(100))
    licence_kind: Mapped[str | None] = mapped_column(String(12))  # enterprise | individual
    licence_operator: Mapped[str | None] = mapped_column(String(50))
    # The mini-program's subject as Douyin has it registered (basic_info, read at authorization):
    # step 1 points out a licence subject above that differs (onboarding.service.subject_differs).
    douyin_subject: Mapped[str | None] = mapped_column(String(100))
    # Step 2: AppSecret and guaranteed payment settings (encrypted).
    app_secret_enc: Mapped[str | None] = mapped_column(Text)
    app_secret_verified_at: Mapped[datetime | None]
    payment_salt_enc: Mapped[str | None] = mapped_column(Text)
    payment_token_enc: Mapped[str | None] = mapped_column(Text)
    merchant_uid: Mapped[str | None] = mapped_column(String(64))
    # Step 2: the 进件 status last read from Douyin.
    payment_status: Mapped[str | None] = mapped_column(String(16))
    payment_reason: Mapped[str | None] = mapped_column(Text)
    payment_merchant_uid: Mapped[str | None] = mapped_column(String(64))
    # The ecpay channel (a key of the status reply, e.g. Douyin Pay) whose 进件 holds the money.
    payment_channel: Mapped[str | None] = mapped_column(String(16))
    payment_checked_at: Mapped[datetime | None]
    # Step 3: the POI shelf-block questionnaire the merchant confirmed (answers kept).
    shelf_block_answers: Mapped[dict | None] = mapped_column(JSON)
    shelf_block_confirmed_at: Mapped[datetime | None]
    # Step 4: the trade system. The app key pair (private half encrypted) and Douyin's public key.
    private_key_enc: Mapped[str | None] = mapped_column(Text)
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    key_version: Mapped[str] = mapped_column(String(8), default="1")
    platform_public_key_pem: Mapped[str | None] = mapped_column(Text)
    trade_connected_at: Mapped[datetime | None]
    ka_confirmed_at: Mapped[datetime | None]
    # Step 5, after approval: the POI full-shelf acceptance questionnaire.
    full_shelf_answers: Mapped[dict | None] = mapped_column(JSON)
    full_shelf_confirmed_at: Mapped[datetime | None]
    # Step 1: the mini-program's authorization of the portal's third-party platform (服务商): the
    # authorizer access token the package_version APIs take and its refresh token (encrypted).
    authorizer_access_token_enc: Mapped[str | None] = mapped_column(Text)
    authorizer_refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    authorizer_expires_at: Mapped[datetime | None]
    authorizer_refresh_expires_at: Mapped[datetime | None]
    authorized_at: Mapped[datetime | None]
    # When Douyin said the mini-program withdrew its authorization (UNAUTHORIZED); cleared on a new one.
    unauthorized_at: Mapped[datetime | None]
    # Inbound callbacks: one unguessable URL per organization.
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]

    organization = relationship("Organization")


class MiniappReview(db.Model):
    """One submission of the mini-program for Douyin's review; the newest one is the state."""

    __tablename__ = "miniapp_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    audit_id: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=MiniappReviewStatus.REVIEWING)
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_miniapp_reviews_org_id", "organization_id", "id"),
        CheckConstraint("status in ('reviewing', 'approved', 'rejected')", name="status"),
    )


class ComponentTicket(db.Model):
    """The latest component_ticket Douyin pushed to the portal's third-party platform (encrypted):
    with it the platform fetches its component_access_token."""

    __tablename__ = "component_tickets"

    component_appid: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_enc: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
