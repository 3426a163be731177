"""The data overview: totals, series, channel attribution and the long-cycle lists.

Every figure is read from the pre-aggregated daily buckets (see aggregation.py); only the two
follow-up lists read individual rows, through partial indexes, at most `LIST_LIMIT` of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.errors import DomainError
from portal.extensions import db
from portal.insights.aggregation import LONG_CYCLE_MINUTES, day_bounds, local_day
from portal.insights.models import METRICS, DailyFigure, OrderFact, RedemptionFact
from portal.orders.models import Order, Voucher, VoucherStatus

DEFAULT_DAYS = 30
MAX_DAYS = 366
LIST_LIMIT = 50
TRACKING_CODES_SHOWN = 20

CHANNEL_LABELS = {
    "short_video": _l("短视频"),
    "live": _l("直播"),
    "search": _l("搜索"),
    "other": _l("其他"),
}


class InsightsError(DomainError):
    """A request the overview cannot answer; the message is safe to show next to `field`."""


@dataclass
class Figures:
    """The additive figures of one row of the overview (a day, a store, a channel, a code)."""

    orders: int = 0
    gmv_fen: int = 0
    paid_fen: int = 0
    vouchers: int = 0
    open_vouchers: int = 0
    redemptions: int = 0
    long_redemptions: int = 0
    refunds: int = 0
    refunds_fen: int = 0
    settled_orders: int = 0
    settled_net_fen: int = 0
    settled_fees_fen: int = 0

    @classmethod
    def of(cls, row) -> Figures:
        return cls(**{name: int(getattr(row, name) or 0) for name in METRICS})

    def add(self, other: Figures) -> None:
        for name in METRICS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Row:
    key: object
    label: str
    figures: Figures


@dataclass
class Overview:
    day_from: date
    day_to: date
    totals: Figures
    by_day: list[Row]
    by_store: list[Row]
    by_channel: list[Row]
    by_code: list[Row]
    more_codes: int
    open_voucher_count: int
    open_orders: list = field(default_factory=list)
    long_redemptions: list = field(default_factory=list)


def default_period(today: date) -> tuple[date, date]:
    """The last 30 Shanghai days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def check_period(day_from: date, day_to: date) -> None:
    """Raises InsightsError (on `day_to`) unless day_from ≤ day_to and the range is at most 366 days."""
    if day_to < day_from:
        raise InsightsError(_l("结束日期不能早于开始日期"), field="day_to")
    if (day_to - day_from).days + 1 > MAX_DAYS:
        raise InsightsError(_l("日期范围最长 %(n)s 天", n=MAX_DAYS), field="day_to")


def _sums():
    return [func.coalesce(func.sum(getattr(DailyFigure, name)), 0).label(name) for name in METRICS]


def _grouped(base, *columns):
    return db.session.execute(base.with_only_columns(*columns, *_sums()).group_by(*columns)).all()


def overview(organization_id: int, *, store_ids: set[int] | None, stores: dict[int, str], day_from: date, day_to: date, now: datetime) -> Overview:
    """The overview of [day_from, day_to] (Shanghai days) for `store_ids` (None: every store).

    `stores` names the stores that may appear. Raises InsightsError on a bad range. Read-only.
    """
    check_period(day_from, day_to)
    base = select(DailyFigure).where(
        DailyFigure.organization_id == organization_id, DailyFigure.day >= day_from, DailyFigure.day <= day_to
    )
    if store_ids is not None:
        base = base.where(DailyFigure.store_id.in_(store_ids))

    per_day = {row.day: Figures.of(row) for row in _grouped(base, DailyFigure.day)}
    by_day, totals = [], Figures()
    day = day_from
    while day <= day_to:
        figures = per_day.get(day, Figures())
        totals.add(figures)
        by_day.append(Row(day, day.strftime("%m-%d"), figures))
        day += timedelta(days=1)

    per_store = {row.store_id: Figures.of(row) for row in _grouped(base, DailyFigure.store_id)}
    shown = stores if store_ids is None else {k: v for k, v in stores.items() if k in store_ids}
    by_store = [Row(store_id, name, per_store.pop(store_id, Figures())) for store_id, name in shown.items()]
    for store_id, figures in per_store.items():  # orders without a store, or of a store since removed
        by_store.append(Row(store_id, _l("未指定门店"), figures))

    per_channel = {row.channel: Figures.of(row) for row in _grouped(base, DailyFigure.channel)}
    by_channel = [Row(key, label, per_channel.get(key, Figures())) for key, label in CHANNEL_LABELS.items()]

    codes = [
        Row((row.channel, row.tracking_code), row.tracking_code, Figures.of(row))
        for row in _grouped(base.where(DailyFigure.tracking_code != ""), DailyFigure.channel, DailyFigure.tracking_code)
    ]
    codes.sort(key=lambda r: (-r.figures.paid_fen, -r.figures.orders, r.label))

    open_count, open_orders = _open_vouchers(organization_id, store_ids, day_from, day_to, now)
    return Overview(
        day_from=day_from,
        day_to=day_to,
        totals=totals,
        by_day=by_day,
        by_store=by_store,
        by_channel=by_channel,
        by_code=codes[:TRACKING_CODES_SHOWN],
        more_codes=max(0, len(codes) - TRACKING_CODES_SHOWN),
        open_voucher_count=open_count,
        open_orders=open_orders,
        long_redemptions=_long_redemptions(organization_id, store_ids, day_from, day_to),
    )


def _open_vouchers(organization_id, store_ids, day_from, day_to, now) -> tuple[int, list]:
    """Vouchers of orders paid in the range more than a day before `now` and still unused:
    their number, and the oldest orders holding them.

    Whole days that ended at least a day before `now` are counted from the buckets; only the
    last partial day is counted from the per-order facts.
    """
    start, end = day_bounds(day_from, day_to)
    cutoff = min(end, now - timedelta(minutes=LONG_CYCLE_MINUTES))
    if cutoff <= start:
        return 0, []
    cutoff_day = local_day(cutoff)  # buckets of days before this one ended before the cutoff
    whole_to = min(day_to, cutoff_day - timedelta(days=1))
    count = 0
    if whole_to >= day_from:
        stmt = select(func.coalesce(func.sum(DailyFigure.open_vouchers), 0)).where(
            DailyFigure.organization_id == organization_id, DailyFigure.day >= day_from, DailyFigure.day <= whole_to
        )
        if store_ids is not None:
            stmt = stmt.where(DailyFigure.store_id.in_(store_ids))
        count += db.session.scalar(stmt)
    partial_from = max(start, day_bounds(cutoff_day, cutoff_day)[0])
    facts = select(OrderFact).where(OrderFact.organization_id == organization_id, OrderFact.open_vouchers > 0)
    if store_ids is not None:
        facts = facts.where(OrderFact.store_id.in_(store_ids))
    if partial_from < cutoff:
        count += db.session.scalar(
            facts.where(OrderFact.paid_at >= partial_from, OrderFact.paid_at < cutoff).with_only_columns(
                func.coalesce(func.sum(OrderFact.open_vouchers), 0)
            )
        )
    rows = db.session.execute(
        facts.where(OrderFact.paid_at >= start, OrderFact.paid_at < cutoff)
        .with_only_columns(OrderFact, Order)
        .join(Order, Order.id == OrderFact.order_id)
        .order_by(OrderFact.paid_at, OrderFact.order_id)
        .limit(LIST_LIMIT)
    ).all()
    codes: dict[int, list[str]] = {}
    if rows:
        for order_id, code in db.session.execute(
            select(Voucher.order_id, Voucher.code)
            .where(Voucher.order_id.in_([o.id for _, o in rows]), Voucher.status == VoucherStatus.UNUSED)
            .order_by(Voucher.id)
        ):
            codes.setdefault(order_id, []).append(code)
    items = [
        {
            "order": order,
            "fact": fact,
            "codes": codes.get(order.id, []),
            "hours": int((now - fact.paid_at).total_seconds() // 3600),
        }
        for fact, order in rows
    ]
    return count, items


def _long_redemptions(organization_id, store_ids, day_from, day_to) -> list:
    """Redemptions in the range that came more than 1440 minutes after payment, latest first."""
    start, end = day_bounds(day_from, day_to)
    stmt = select(RedemptionFact, Voucher.code, Order.out_order_no).join(Voucher, Voucher.id == RedemptionFact.voucher_id).join(Order, Order.id == RedemptionFact.order_id).where(
        RedemptionFact.organization_id == organization_id,
        RedemptionFact.cycle_minutes > LONG_CYCLE_MINUTES,
        RedemptionFact.redeemed_at >= start,
        RedemptionFact.redeemed_at < end,
    )
    if store_ids is not None:
        stmt = stmt.where(RedemptionFact.store_id.in_(store_ids))
    rows = db.session.execute(stmt.order_by(RedemptionFact.redeemed_at.desc(), RedemptionFact.voucher_id.desc()).limit(LIST_LIMIT))
    return [{"fact": fact, "code": code, "out_order_no": out_order_no} for fact, code, out_order_no in rows]
