"""A merchant's connection to Douyin: the 抖音推广 app, its credentials and the wizard's facts.

Secrets are stored encrypted (`portal.vault`); nothing here is ever rendered in full.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class DouyinApp(db.Model):
    __tablename__ = "douyin_apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    # The app-center switch (营销-应用中心 › 抖音推广). Off keeps every other column.
    enabled: Mapped[bool] = mapped_column(default=False)
    enabled_at: Mapped[datetime | None]
    # Step 1: the Laike root account (抖音商家ID) and the mini-program.
    laike_account_id: Mapped[str | None] = mapped_column(String(32))
    laike_account_name: Mapped[str | None] = mapped_column(String(100))
    app_id: Mapped[str | None] = mapped_column(String(32))
    app_name: Mapped[str | None] = mapped_column(String(100))
    # Step 2: AppSecret and guaranteed payment settings (encrypted).
    app_secret_enc: Mapped[str | None] = mapped_column(Text)
    app_secret_verified_at: Mapped[datetime | None]
    payment_salt_enc: Mapped[str | None] = mapped_column(Text)
    payment_token_enc: Mapped[str | None] = mapped_column(Text)
    merchant_uid: Mapped[str | None] = mapped_column(String(64))
    # Step 4: the trade system. The app key pair (private half encrypted) and Douyin's public key.
    private_key_enc: Mapped[str | None] = mapped_column(Text)
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    key_version: Mapped[str] = mapped_column(String(8), default="1")
    platform_public_key_pem: Mapped[str | None] = mapped_column(Text)
    trade_connected_at: Mapped[datetime | None]
    # Inbound callbacks: one unguessable URL per organization.
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]

    organization = relationship("Organization")
