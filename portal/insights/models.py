"""Pre-aggregated figures for the data overview, and the per-order facts they are derived from.

The overview never scans the order tables for its totals: receivers of the domain signals keep
one fact row per order (and one per redeemed voucher) and apply the *change* of that fact's
contribution to `insight_daily_figures`. A fact re-derived from the same state contributes the
same figures, so a signal handled twice changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

NO_STORE = 0  # store_id of figures for orders without a store (a NULL would break the unique bucket)

# Every additive figure of a daily bucket; a bucket whose figures are all zero is deleted.
METRICS = (
    "orders",
    "gmv_fen",
    "paid_fen",
    "vouchers",
    "open_vouchers",
    "redemptions",
    "long_redemptions",
    "refunds",
    "refunds_fen",
    "settled_orders",
    "settled_net_fen",
    "settled_fees_fen",
)


class _Metrics:
    """The additive figures (METRICS) of a daily row."""

    orders: Mapped[int] = mapped_column(default=0)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    vouchers: Mapped[int] = mapped_column(default=0)
    open_vouchers: Mapped[int] = mapped_column(default=0)
    redemptions: Mapped[int] = mapped_column(default=0)
    long_redemptions: Mapped[int] = mapped_column(default=0)
    refunds: Mapped[int] = mapped_column(default=0)
    refunds_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_orders: Mapped[int] = mapped_column(default=0)
    settled_net_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_fees_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyFigure(_Metrics, db.Model):
    """One bucket: organization × store × Shanghai day × channel × tracking code.

    Order figures (orders, GMV, paid, vouchers, open_vouchers) sit on the day the order was paid;
    redemptions on the day and store of the redemption; refunds on the refund day; settled cash
    on the settlement day. `open_vouchers` is the number of those orders' vouchers still unused.
    """

    __tablename__ = "insight_daily_figures"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    day: Mapped[date]
    store_id: Mapped[int] = mapped_column(default=NO_STORE)
    channel: Mapped[str] = mapped_column(String(16))
    tracking_code: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        UniqueConstraint(
            "organization_id", "day", "store_id", "channel", "tracking_code", name="uq_insight_daily_figures_bucket"
        ),
    )


class DailyStoreFigure(_Metrics, db.Model):
    """The buckets of one organization × store × Shanghai day, summed over channels and codes.

    Kept with the buckets, in the same transaction: the overview's day series and
    store table read a row per store and day here instead of every channel and code of the day.
    """

    __tablename__ = "insight_daily_store_figures"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    day: Mapped[date]
    store_id: Mapped[int] = mapped_column(default=NO_STORE)

    __table_args__ = (UniqueConstraint("organization_id", "day", "store_id", name="uq_insight_daily_store_figures_day"),)


class OrderFact(db.Model):
    """What one order contributes, as last applied to the daily figures.

    Refund time and settled amounts exist only in the events (the order tables do not hold
    them), so they are kept here once learned.
    """

    __tablename__ = "insight_order_facts"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int] = mapped_column(default=NO_STORE)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    tracking_code: Mapped[str] = mapped_column(String(64), default="")
    paid_at: Mapped[datetime]
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    vouchers: Mapped[int] = mapped_column(default=0)
    open_vouchers: Mapped[int] = mapped_column(default=0)
    refunded_at: Mapped[datetime | None]
    refunds_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_at: Mapped[datetime | None]
    settled_net_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_fees_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        # The long-cycle list: orders with unused vouchers, oldest first (and their count, for the
        # organization or a store, from the index alone).
        Index(
            "ix_insight_order_facts_open",
            "organization_id",
            "paid_at",
            "store_id",
            "open_vouchers",
            sqlite_where=text("open_vouchers > 0"),
            postgresql_where=text("open_vouchers > 0"),
        ),
    )


class RedemptionFact(db.Model):
    """A redeemed voucher as counted; deleted when the redemption is undone."""

    __tablename__ = "insight_redemption_facts"

    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    store_id: Mapped[int] = mapped_column(default=NO_STORE)
    channel: Mapped[str] = mapped_column(String(16))
    tracking_code: Mapped[str] = mapped_column(String(64), default="")
    paid_at: Mapped[datetime]
    redeemed_at: Mapped[datetime]
    cycle_minutes: Mapped[int]

    __table_args__ = (
        Index(
            "ix_insight_redemption_facts_long",
            "organization_id",
            "redeemed_at",
            sqlite_where=text("cycle_minutes > 1440"),
            postgresql_where=text("cycle_minutes > 1440"),
        ),
    )
