"""Tables of the settings domain: feature toggles, notification switches, follow-up, bookings,
content registration and linked accounts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.messages import MessageText


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


class BookingRoom(db.Model):
    """A private room (包间) of one store that customers can pick when booking a time slot: one
    booking per slot and day, for at most `seats` people."""

    __tablename__ = "booking_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    name: Mapped[str] = mapped_column(String(40))
    seats: Mapped[int]
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("store_id", "name"),
        CheckConstraint("seats > 0", name="seats"),
    )


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
    # The private room (包间) the customer picked, if any; its name is kept should the room go.
    room_id: Mapped[int | None] = mapped_column(ForeignKey("booking_rooms.id"))
    room_name: Mapped[str] = mapped_column(String(40), default="", server_default="")
    people: Mapped[int | None]
    phone: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    # Why it was refused, in the reader's language (portal/messages.py).
    refused_reason_literal: Mapped[str] = mapped_column("refused_reason", String(200), default="")
    refused_reason_msg: Mapped[dict | None] = mapped_column(db.JSON(none_as_null=True))
    refused_reason = MessageText("refused_reason_literal", "refused_reason_msg")
    created_at: Mapped[datetime]

    store = relationship("Store")
    slot = relationship("BookingSlot")

    __table_args__ = (
        Index("ix_bookings_store_day", "store_id", "day"),
        Index("ix_bookings_order", "order_id"),
        # A room is one booking per slot and day: the database refuses a second confirmed one.
        Index("ux_bookings_room_slot_day", "room_id", "slot_id", "day", unique=True,
              sqlite_where=text("status = 'confirmed' AND room_id IS NOT NULL"),
              postgresql_where=text("status = 'confirmed' AND room_id IS NOT NULL")),
    )


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
    # When Douyin removed the relation (unbind_aweme_relation delivered, or Douyin no longer lists
    # it); None while a Douyin account's unbind is still on its way.
    douyin_unbound_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("role in ('official', 'channel')", name="role"),
        CheckConstraint("platform in ('douyin', 'tiktok')", name="platform"),
        Index("ix_linked_accounts_org_unbound", "organization_id", "unbound_at"),
    )


incentive_offer_products = Table(
    "incentive_offer_products",
    db.metadata,
    Column("offer_id", ForeignKey("incentive_offers.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
)


class IncentiveOffer(db.Model):
    """A time-limited redemption incentive the merchant can push to a buyer after the call-back
    (「3 天内到店核销送饮品」): the message text, the gift the counter hands over, how many days
    the buyer has, the products it is for, and the subscription template that carries it."""

    __tablename__ = "incentive_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    text: Mapped[str] = mapped_column(String(60))
    gift: Mapped[str] = mapped_column(String(20))
    valid_days: Mapped[int]
    template_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    products = relationship("Product", secondary=incentive_offer_products, order_by="Product.id")

    __table_args__ = (
        CheckConstraint("valid_days between 1 and 30", name="valid_days"),
        Index("ix_incentive_offers_org", "organization_id"),
    )


class OrderIncentive(db.Model):
    """An incentive pushed to one order's buyer, with its deadline. It is taken up when a voucher
    of the order is redeemed by the deadline: derived from the vouchers, so an undo un-takes it."""

    __tablename__ = "order_incentives"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("incentive_offers.id"))
    # What the buyer was promised, as sent (the offer may be edited or switched off later).
    text: Mapped[str] = mapped_column(String(60))
    gift: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    order = relationship("Order")
    offer = relationship("IncentiveOffer")

    __table_args__ = (Index("ix_order_incentives_org_sent", "organization_id", "sent_at"),)


class StorePageStatus(StrEnum):
    DRAFT = "draft"  # kept in the portal, never pushed
    PENDING = "pending"  # pushed, Douyin is reviewing it
    APPROVED = "approved"
    REJECTED = "rejected"


class StorePage(db.Model):
    """A store's Douyin page (POI): cover image and weekday opening hours kept here (address and
    phone are the store's own), pushed with poi/supplier/sync, and Douyin's review of the last push.

    `hours` maps ISO weekday "1".."7" to its ranges ["10:00-14:00", "17:00-22:00"]; a day absent
    or empty is closed. `mismatch` lists the fields ("name", "address", "phone") where the POI as
    Douyin returns it differs from the store, as of `checked_at`."""

    __tablename__ = "store_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), unique=True)
    cover_image_url: Mapped[str] = mapped_column(String(500), default="")
    hours: Mapped[dict] = mapped_column(db.JSON, default=dict)
    supplier_ext_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=StorePageStatus.DRAFT)
    reason: Mapped[str] = mapped_column(String(200), default="")
    supplier_id: Mapped[str] = mapped_column(String(64), default="")
    pushed_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    mismatch: Mapped[dict] = mapped_column(db.JSON, default=dict)  # field -> [ours, Douyin's]
    updated_at: Mapped[datetime]

    store = relationship("Store")

    __table_args__ = (CheckConstraint("status in ('draft', 'pending', 'approved', 'rejected')", name="status"),)


class LinkAuthorizationStatus(StrEnum):
    WAITING = "waiting"  # QR shown, no new account in Douyin's relation list yet
    REVIEWING = "reviewing"  # the owner agreed; Douyin reviews the binding
    BOUND = "bound"
    REJECTED = "rejected"
    EXPIRED = "expired"


class LinkAuthorization(db.Model):
    """One attempt to bind a Douyin account by authorization: the QR Douyin issued (valid 5
    minutes), then whose owner agreed (抖音号 and nickname, as the relation list names them), then
    the binding review. Douyin tells no avatar or phone of the account."""

    __tablename__ = "link_authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    role: Mapped[str] = mapped_column(String(16))
    qrcode_url: Mapped[str] = mapped_column(String(500), default="")
    qrcode_content: Mapped[str] = mapped_column(String(500))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    aweme_id: Mapped[str] = mapped_column(String(64), default="")
    nickname: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    linked_account_id: Mapped[int | None] = mapped_column(ForeignKey("linked_accounts.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("role in ('official', 'channel')", name="role"),
        CheckConstraint("status in ('waiting', 'reviewing', 'bound', 'rejected', 'expired')", name="status"),
        Index("ix_link_authorizations_org_status", "organization_id", "status"),
    )
