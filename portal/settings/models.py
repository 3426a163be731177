"""Tables of the settings domain: feature toggles, notification switches, follow-up, bookings,
content registration and linked accounts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class OrganizationFeature(db.Model):
    """An operator's override of a feature for one organization (absent: the edition's default)."""

    __tablename__ = "organization_features"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("organization_id", "name"),)


class NotificationSetting(db.Model):
    """Per organization and notification kind: is it also e-mailed (the in-app entry always exists)."""

    __tablename__ = "notification_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    email: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("organization_id", "kind"),)


class FollowUpTemplate(db.Model):
    """The subscription message sent through Douyin to a buyer right after payment.

    `template_id` is the msg_id (MSG…) of a subscription template the app added in Douyin's
    developer console; `body` maps the template's fields, one `字段名=值` line each, where a value
    may hold placeholders; `page` is the mini-program page the message opens (optional)."""

    __tablename__ = "followup_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    template_id: Mapped[str] = mapped_column(String(128), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]


class CallbackTask(db.Model):
    """A new order someone should call within 60 minutes of payment."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    due_at: Mapped[datetime]
    contacted_at: Mapped[datetime | None]
    contacted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    order = relationship("Order")
    contacted_by = relationship("User")

    __table_args__ = (Index("ix_callback_tasks_org_contacted", "organization_id", "contacted_at"),)


class BookingSlot(db.Model):
    """A bookable time slot of one store, every day, for `capacity` bookings."""

    __tablename__ = "booking_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    starts: Mapped[str] = mapped_column(String(5))  # "10:00", Shanghai wall clock
    ends: Mapped[str] = mapped_column(String(5))
    capacity: Mapped[int]
    created_at: Mapped[datetime]

    store = relationship("Store")

    __table_args__ = (
        UniqueConstraint("store_id", "starts", "ends"),
        CheckConstraint("capacity > 0", name="capacity"),
    )

    @property
    def label(self) -> str:
        return f"{self.starts}-{self.ends}"


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    REFUSED = "refused"


class Booking(db.Model):
    """A customer's booking made in the mini-program and created on Douyin (trade v2
    book/create_book: `douyin_booking_id` is its book_id, `out_book_no` ours); confirmed against a
    slot, or refused with a reason, and the result told to Douyin (book/book_result_callback)."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("booking_slots.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    douyin_booking_id: Mapped[str] = mapped_column(String(32), unique=True)
    out_book_no: Mapped[str] = mapped_column(String(64), default="")
    douyin_order_id: Mapped[str] = mapped_column(String(64), default="")
    poi_id: Mapped[str] = mapped_column(String(32), default="")
    day: Mapped[date]
    slot_label: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    refused_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    store = relationship("Store")
    slot = relationship("BookingSlot")

    __table_args__ = (Index("ix_bookings_store_day", "store_id", "day"),)


class ContentKind(StrEnum):
    SHORT_VIDEO = "short_video"
    LIVE = "live"


content_products = Table(
    "content_products",
    db.metadata,
    Column("content_id", ForeignKey("contents.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
)


class Content(db.Model):
    """A short video or live stream that sells products, with its tracking code."""

    __tablename__ = "contents"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))  # the POI the content is tagged with
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    douyin_item_id: Mapped[str] = mapped_column(String(64))
    published_on: Mapped[date]
    tracking_code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]

    store = relationship("Store")
    products = relationship("Product", secondary=content_products, order_by="Product.id")

    __table_args__ = (
        UniqueConstraint("organization_id", "douyin_item_id"),
        CheckConstraint("kind in ('short_video', 'live')", name="kind"),
    )


class LinkedAccountRole(StrEnum):
    OFFICIAL = "official"
    CHANNEL = "channel"


class LinkedAccount(db.Model):
    """A Douyin / TikTok account bound to the shop; unbinding keeps the row (the unbind limit counts them)."""

    __tablename__ = "linked_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    platform: Mapped[str] = mapped_column(String(16))  # douyin | tiktok
    role: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    bound_at: Mapped[datetime]
    bound_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unbound_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("role in ('official', 'channel')", name="role"),
        CheckConstraint("platform in ('douyin', 'tiktok')", name="platform"),
        Index("ix_linked_accounts_org_unbound", "organization_id", "unbound_at"),
    )
