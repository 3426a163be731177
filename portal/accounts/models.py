"""Organizations, stores, users and their memberships (roles)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class Edition(StrEnum):
    BASIC = "basic"
    ADVANCED = "advanced"
    FLAGSHIP = "flagship"


class Role(StrEnum):
    OWNER = "owner"
    HQ_ADMIN = "hq_admin"
    STORE_MANAGER = "store_manager"
    CLERK = "clerk"

    @property
    def store_scoped(self) -> bool:
        return self in (Role.STORE_MANAGER, Role.CLERK)


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    INVITED = "invited"
    SUSPENDED = "suspended"


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    edition: Mapped[str] = mapped_column(String(16), default=Edition.BASIC)
    multi_store: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    stores: Mapped[list[Store]] = relationship(back_populates="organization", order_by="Store.id")

    __table_args__ = (CheckConstraint("edition in ('basic', 'advanced', 'flagship')", name="edition"),)


class Store(db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    opening_hours: Mapped[str] = mapped_column(String(100), default="")
    # The Douyin store (POI) this store is authorized as: 抖音商家ID + 抖音门店ID.
    douyin_account_id: Mapped[str | None] = mapped_column(String(32))
    douyin_poi_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    douyin_poi_name: Mapped[str | None] = mapped_column(String(100))
    poi_bound_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    organization: Mapped[Organization] = relationship(back_populates="stores")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    locale: Mapped[str] = mapped_column(String(16), default="zh_Hans")
    is_operator: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change so other sessions of this user are logged out.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", order_by="Membership.id", foreign_keys="Membership.user_id"
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Membership(db.Model):
    """A user's role in one organization; store-scoped roles name their store."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    status: Mapped[str] = mapped_column(String(16), default=MembershipStatus.ACTIVE)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    organization: Mapped[Organization] = relationship()
    store: Mapped[Store | None] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        CheckConstraint("role in ('owner', 'hq_admin', 'store_manager', 'clerk')", name="role"),
        CheckConstraint(
            "(role in ('store_manager', 'clerk')) = (store_id is not null)", name="store_scope"
        ),
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Invitation(db.Model):
    """A one-time link for a new staff member to set their password."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]

    membership: Mapped[Membership] = relationship()


class LoginAttempt(db.Model):
    """Every login attempt, so repeated failures can be throttled across processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    at: Mapped[datetime]

    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"), Index("ix_login_attempts_ip_at", "ip", "at"))


class UserSession(db.Model):
    """One signed-in browser. The session cookie carries the token; signing out ends the row, so a
    copied cookie stops working at once (changing the password ends the others through
    `User.session_version`)."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
