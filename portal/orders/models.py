"""Orders that arrive from Douyin, their items, and the vouchers customers redeem in store."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.extensions import db


class OrderStatus(StrEnum):
    PAID = "paid"
    COMPLETED = "completed"  # every voucher redeemed or refunded; courier orders delivered
    REFUNDED = "refunded"  # whole order refunded
    CANCELLED = "cancelled"


class Fulfilment(StrEnum):
    IN_STORE = "in_store"
    COURIER = "courier"


class OrderSource(StrEnum):
    AD = "ad"  # ad traffic (广告流量)
    NORMAL = "normal"
    ALLIANCE = "alliance"  # 精选联盟


class Channel(StrEnum):
    SHORT_VIDEO = "short_video"
    LIVE = "live"
    SEARCH = "search"
    OTHER = "other"


class TradeFamily(StrEnum):
    """Which Douyin trade system sold the order: they pay, fulfil and settle apart."""

    MINI_APP = "mini_app"  # the merchant's mini-program (trade_basic / trade v2, our payment callback)
    LAIKE = "laike"  # Douyin's own merchant channel (来客): goodlife webhooks, settled by Douyin's ledger


class VoucherStatus(StrEnum):
    UNUSED = "unused"
    REDEEMED = "redeemed"
    REFUNDED = "refunded"
    EXPIRED = "expired"


class ShippingStatus(StrEnum):
    """Courier orders: the merchant moves them along; DELIVERED completes the order."""

    PENDING = "pending"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class VoucherKind(StrEnum):
    LOCAL = "local"  # our code, pushed to Douyin (push_delivery)
    DOUYIN = "douyin"  # a Douyin group-buy certificate (prepare/verify/cancel)


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    douyin_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    out_order_no: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PAID)
    fulfilment: Mapped[str] = mapped_column(String(16), default=Fulfilment.IN_STORE)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime]
    buyer_phone: Mapped[str] = mapped_column(String(32), default="")
    # The phone's last 4 characters, kept by `_keep_phone_tail`: the list searches a phone's tail on
    # an index, which LIKE '%1234' cannot use.
    buyer_phone_tail: Mapped[str] = mapped_column(String(4), default="", server_default="")
    buyer_open_id: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16), default=OrderSource.NORMAL)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.OTHER)
    trade_family: Mapped[str] = mapped_column(String(16), default=TradeFamily.MINI_APP, server_default=TradeFamily.MINI_APP.value)
    tracking_code: Mapped[str] = mapped_column(String(64), default="")
    # The Douyin store (POI) the order was bought for, as the callback named it.
    douyin_poi_id: Mapped[str] = mapped_column(String(32), default="")
    shipping_status: Mapped[str] = mapped_column(String(16), default="")
    # Courier orders: the carrier (a code of orders.shipping.CARRIERS) and its tracking number.
    carrier_code: Mapped[str] = mapped_column(String(16), default="", server_default="")
    tracking_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # Paid for an out_order_no the portal never placed: items were rebuilt from order_query,
    # and store, buyer and attribution are unknown.
    completed_from_query: Mapped[bool] = mapped_column(default=False, server_default=false())
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")
    vouchers: Mapped[list[Voucher]] = relationship(back_populates="order", order_by="Voucher.id")

    __table_args__ = (
        CheckConstraint("paid_fen >= 0 and total_fen >= paid_fen", name="amounts"),
        # The order list's keyset pages (newest first, ties by id), whole-merchant and per store.
        Index("ix_orders_org_paid_at", "organization_id", "paid_at", "id"),
        Index("ix_orders_store_paid_at", "store_id", "paid_at", "id"),
        Index("ix_orders_org_status", "organization_id", "status"),
        # The counter's per-phone rule looks a buyer's orders up on every redemption.
        Index("ix_orders_org_phone", "organization_id", "buyer_phone"),
        Index("ix_orders_org_phone_tail", "organization_id", "buyer_phone_tail", "paid_at", "id"),
    )

    @validates("buyer_phone")
    def _keep_phone_tail(self, _key, phone):
        self.buyer_phone_tail = phone_tail(phone)
        return phone


def phone_tail(phone: str | None) -> str:
    """What `Order.buyer_phone_tail` holds for `phone`: its last 4 characters."""
    return (phone or "")[-4:]


class PreOrderStatus(StrEnum):
    PENDING = "pending"  # placed in the mini-program, waiting for payment
    PAID = "paid"  # the payment callback made its Order
    CANCELLED = "cancelled"  # the buyer abandoned the payment


class PreOrder(db.Model):
    """An order the mini-program placed before payment (tt.requestOrder): what was bought, for
    which store, by whom and from which content. Douyin's payment message carries none of
    this; it names the pre-order by `out_order_no`, and payment turns it into an Order."""

    __tablename__ = "pre_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    out_order_no: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PreOrderStatus.PENDING)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    douyin_poi_id: Mapped[str] = mapped_column(String(32), default="")
    title: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    voucher_kind: Mapped[str] = mapped_column(String(16), default=VoucherKind.LOCAL)
    buyer_phone: Mapped[str] = mapped_column(String(32), default="")
    buyer_open_id: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16), default=OrderSource.NORMAL)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.OTHER)
    tracking_code: Mapped[str] = mapped_column(String(64), default="")
    client_ip: Mapped[str] = mapped_column(String(45), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    product = relationship("Product")
    order: Mapped[Order | None] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0 and unit_price_fen >= 0 and total_fen = unit_price_fen * quantity", name="amounts"),
        # The endpoint's rate limit counts a buyer's and an address's recent pre-orders.
        Index("ix_pre_orders_org_open_id_created", "organization_id", "buyer_open_id", "created_at"),
        Index("ix_pre_orders_ip_created", "client_ip", "created_at"),
    )


class OrderItem(db.Model):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    douyin_item_order_id: Mapped[str] = mapped_column(String(64), default="")

    order: Mapped[Order] = relationship(back_populates="items")
    product = relationship("Product")


class Voucher(db.Model):
    """One redeemable use. A 次卡 with N uses is N vouchers of the same item; the customer is
    shown the first one's code, which stands for the card's next unused use at the counter."""

    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # The counter finds a 次卡's next unused use by its item on every lookup.
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=VoucherKind.LOCAL)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=VoucherStatus.UNUSED)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    redeemed_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    douyin_certificate_id: Mapped[str] = mapped_column(String(64), default="")
    douyin_verify_id: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[Order] = relationship(back_populates="vouchers")
    item: Mapped[OrderItem] = relationship()

    __table_args__ = (Index("ix_vouchers_org_status", "organization_id", "status"),)
