"""The data overview: totals, series, channel attribution and the long-cycle lists.

Every figure is read from the pre-aggregated daily buckets (see aggregation.py); only the two
follow-up lists read individual rows, through partial indexes: the overview previews the first
`PREVIEW_ROWS`, and `follow_up` pages through the whole list `LIST_LIMIT` at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, func, literal_column, select

from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.insights.aggregation import LONG_CYCLE_MINUTES, day_bounds, local_day
from portal.insights.models import METRICS, DailyFigure, DailyStoreFigure, OrderFact, RedemptionFact
from portal.orders.models import Order, Voucher, VoucherStatus

DEFAULT_DAYS = 30
MAX_DAYS = 366
LIST_LIMIT = 50
PREVIEW_ROWS = 10
FOLLOW_UP_KINDS = ("open", "long")
TRACKING_CODES_SHOWN = 20

CHANNEL_LABELS = {
    "short_video": _l("短视频"),
    "live": _l("直播"),
    "search": _l("搜索"),
    "other": _l("其他"),
}


def channel_labels() -> dict[str, str]:
    """CHANNEL_LABELS in the request's language, translated once: a table asks for a label on
    every row, and a lazy string is translated again each time."""
    return {key: str(label) for key, label in CHANNEL_LABELS.items()}


class InsightsError(DomainError):
    """A request the overview cannot answer; the message is safe to show next to `field`."""


@dataclass(slots=True)
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
        """From a row that ends with the sums of METRICS (in that order, as `_STORE_DAYS` and `_SOURCE_SUMS`)."""
        return cls(*map(int, row[-len(METRICS):]))

    def add(self, other: Figures) -> None:
        # Spelled out: an overview adds some ninety rows, and a loop of getattr/setattr over
        # METRICS costs five times as much. The tests check that every metric is added.
        self.orders += other.orders
        self.gmv_fen += other.gmv_fen
        self.paid_fen += other.paid_fen
        self.vouchers += other.vouchers
        self.open_vouchers += other.open_vouchers
        self.redemptions += other.redemptions
        self.long_redemptions += other.long_redemptions
        self.refunds += other.refunds
        self.refunds_fen += other.refunds_fen
        self.settled_orders += other.settled_orders
        self.settled_net_fen += other.settled_net_fen
        self.settled_fees_fen += other.settled_fees_fen


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


# The overview's statements are built once, with bound parameters: composing a dozen SQL
# expressions on every request costs more than running the queries.
def _in_stores(stmt, column, scoped: bool):
    return stmt.where(column.in_(bindparam("stores", expanding=True))) if scoped else stmt


def _in_period(stmt, model, scoped: bool):
    """`stmt` narrowed to the organization's daily rows of `model` in [day_from, day_to]."""
    stmt = stmt.where(model.organization_id == bindparam("org"), model.day >= bindparam("day_from"), model.day <= bindparam("day_to"))
    return _in_stores(stmt, model.store_id, scoped)


def _open_facts_stmt(*columns, scoped: bool):
    """Facts of orders paid in [start, end) that still hold unused vouchers."""
    # Literal thresholds (not bound parameters) let the planner prove the partial indexes apply.
    stmt = select(*columns).where(
        OrderFact.organization_id == bindparam("org"), OrderFact.open_vouchers > literal_column("0"),
        OrderFact.paid_at >= bindparam("start"), OrderFact.paid_at < bindparam("end"),
    )
    return _in_stores(stmt, OrderFact.store_id, scoped)


# Days and stores from the store-day sums (a row per store and day, added up here); channels and
# codes from the buckets, in one grouping: a few dozen rows whatever the period.
_STORE_DAYS = {
    scoped: _in_period(select(DailyStoreFigure.day, DailyStoreFigure.store_id, *(getattr(DailyStoreFigure, m) for m in METRICS)),
                       DailyStoreFigure, scoped)
    for scoped in (False, True)
}
_SOURCE_SUMS = tuple(func.coalesce(func.sum(getattr(DailyFigure, m)), 0).label(m) for m in METRICS)
_BY_SOURCE = {
    scoped: _in_period(select(DailyFigure.channel, DailyFigure.tracking_code, *_SOURCE_SUMS), DailyFigure, scoped)
    .group_by(DailyFigure.channel, DailyFigure.tracking_code)
    for scoped in (False, True)
}
_OPEN_IN_FACTS = {scoped: _open_facts_stmt(func.coalesce(func.sum(OrderFact.open_vouchers), 0), scoped=scoped) for scoped in (False, True)}


def _run(statements: dict, organization_id: int, store_ids, **params):
    params["org"] = organization_id
    if store_ids is not None:
        params["stores"] = sorted(store_ids)
    # Plain column selects: the connection runs them without the ORM's per-statement work.
    return db.session.connection().execute(statements[store_ids is not None], params)


def overview(organization_id: int, *, store_ids: set[int] | None, stores: dict[int, str], day_from: date, day_to: date, now: datetime) -> Overview:
    """The overview of [day_from, day_to] (Shanghai days) for `store_ids` (None: every store).

    `stores` names the stores that may appear. Raises InsightsError on a bad range. Read-only.
    """
    check_period(day_from, day_to)
    period = {"day_from": day_from, "day_to": day_to}

    per_day: dict[date, Figures] = {}
    per_store: dict[int, Figures] = {}
    for row in _run(_STORE_DAYS, organization_id, store_ids, **period):
        figures = Figures.of(row)
        per_day.setdefault(row.day, Figures()).add(figures)
        per_store.setdefault(row.store_id, Figures()).add(figures)
    by_day, totals = [], Figures()
    day = day_from
    while day <= day_to:
        figures = per_day.get(day, Figures())
        totals.add(figures)
        by_day.append(Row(day, f"{day.month:02d}-{day.day:02d}", figures))  # strftime costs three times as much
        day += timedelta(days=1)

    per_channel: dict[str, Figures] = {}
    per_code: dict[tuple[str, str], Figures] = {}
    for row in _run(_BY_SOURCE, organization_id, store_ids, **period).all():
        figures = Figures.of(row)
        per_channel.setdefault(row.channel, Figures()).add(figures)
        if row.tracking_code:
            per_code[row.channel, row.tracking_code] = figures
    shown = stores if store_ids is None else {k: v for k, v in stores.items() if k in store_ids}
    by_store = [Row(store_id, name, per_store.pop(store_id, Figures())) for store_id, name in shown.items()]
    for store_id, figures in per_store.items():  # orders without a store, or of a store since removed
        by_store.append(Row(store_id, _l("未指定门店"), figures))
    by_channel = [Row(key, label, per_channel.get(key, Figures())) for key, label in CHANNEL_LABELS.items()]
    codes = [Row(key, key[1], figures) for key, figures in per_code.items()]
    codes.sort(key=lambda r: (-r.figures.paid_fen, -r.figures.orders, r.label))

    open_count = _open_voucher_count(organization_id, store_ids, day_from, day_to, now, per_day)
    open_orders = _open_orders(organization_id, store_ids, day_from, day_to, now, limit=PREVIEW_ROWS) if open_count else []
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
        long_redemptions=_long_redemptions(organization_id, store_ids, day_from, day_to, limit=PREVIEW_ROWS) if totals.long_redemptions else [],
    )


def follow_up(kind: str, organization_id: int, *, store_ids: set[int] | None, day_from: date, day_to: date, now: datetime,
              page: int = 1) -> tuple[list, bool]:
    """One page (`LIST_LIMIT` rows) of a follow-up list of [day_from, day_to]: "open" (vouchers
    unused a day after payment, oldest first) or "long" (redemptions more than 1440 minutes after
    payment, latest first). Returns the rows and whether more follow. Raises InsightsError on a bad range."""
    check_period(day_from, day_to)
    offset = (max(page, 1) - 1) * LIST_LIMIT
    if kind == "open":
        rows = _open_orders(organization_id, store_ids, day_from, day_to, now, limit=LIST_LIMIT + 1, offset=offset)
    else:
        rows = _long_redemptions(organization_id, store_ids, day_from, day_to, limit=LIST_LIMIT + 1, offset=offset)
    return rows[:LIST_LIMIT], len(rows) > LIST_LIMIT


def _open_window(day_from: date, day_to: date, now: datetime) -> tuple[datetime, datetime] | None:
    """[start, cutoff): payments in the period that are more than a day old by `now` (None: none are)."""
    start, end = day_bounds(day_from, day_to)
    cutoff = min(end, now - timedelta(minutes=LONG_CYCLE_MINUTES))
    return (start, cutoff) if cutoff > start else None


def _open_voucher_count(organization_id, store_ids, day_from, day_to, now, per_day: dict[date, Figures]) -> int:
    """Vouchers of orders paid in the range more than a day before `now` and still unused.

    Whole days that ended at least a day before `now` are counted from the days' figures
    (`per_day`, the buckets summed per day); only the last partial day is counted from the
    per-order facts.
    """
    window = _open_window(day_from, day_to, now)
    if window is None:
        return 0
    start, cutoff = window
    cutoff_day = local_day(cutoff)  # buckets of days before this one ended before the cutoff
    whole_to = min(day_to, cutoff_day - timedelta(days=1))
    count = 0
    if whole_to >= day_from:
        count += sum(figures.open_vouchers for day, figures in per_day.items() if day <= whole_to)
    partial_from = max(start, day_bounds(cutoff_day, cutoff_day)[0])
    if partial_from < cutoff:
        count += _run(_OPEN_IN_FACTS, organization_id, store_ids, start=partial_from, end=cutoff).scalar()
    return int(count)


def _open_orders_stmt(scoped: bool):
    return (
        _open_facts_stmt(Order.id, Order.douyin_order_id, Order.store_id, Order.buyer_phone, OrderFact.paid_at, OrderFact.channel,
                         OrderFact.tracking_code, scoped=scoped)
        .join(Order, Order.id == OrderFact.order_id)
        .order_by(OrderFact.paid_at, OrderFact.order_id)
        .limit(bindparam("limit")).offset(bindparam("offset"))
    )


def _long_redemptions_stmt(scoped: bool):
    stmt = (
        select(RedemptionFact.voucher_id, RedemptionFact.store_id, RedemptionFact.paid_at, RedemptionFact.redeemed_at,
               RedemptionFact.cycle_minutes, RedemptionFact.channel, RedemptionFact.tracking_code, Voucher.code, Order.id.label("order_id"),
               Order.douyin_order_id)
        .join(Voucher, Voucher.id == RedemptionFact.voucher_id)
        .join(Order, Order.id == RedemptionFact.order_id)
        .where(RedemptionFact.organization_id == bindparam("org"),
               RedemptionFact.cycle_minutes > literal_column(str(LONG_CYCLE_MINUTES)),
               RedemptionFact.redeemed_at >= bindparam("start"), RedemptionFact.redeemed_at < bindparam("end"))
        .order_by(RedemptionFact.redeemed_at.desc(), RedemptionFact.voucher_id.desc())
        .limit(bindparam("limit")).offset(bindparam("offset"))
    )
    return _in_stores(stmt, RedemptionFact.store_id, scoped)


_OPEN_ORDERS = {scoped: _open_orders_stmt(scoped) for scoped in (False, True)}
_LONG_REDEMPTIONS = {scoped: _long_redemptions_stmt(scoped) for scoped in (False, True)}
_UNUSED_CODES = (
    select(Voucher.order_id, Voucher.code)
    .where(Voucher.order_id.in_(bindparam("orders", expanding=True)), Voucher.status == VoucherStatus.UNUSED)
    .order_by(Voucher.id)
)


def _open_orders(organization_id, store_ids, day_from, day_to, now, *, limit: int, offset: int = 0) -> list:
    """The orders holding those vouchers, oldest first, with their unused codes: per order
    `order` (id, douyin_order_id, store_id, buyer_phone), `fact` (paid_at, channel, tracking_code),
    `codes` and `hours` since payment."""
    window = _open_window(day_from, day_to, now)
    if window is None:
        return []
    start, cutoff = window
    rows = _run(_OPEN_ORDERS, organization_id, store_ids, start=start, end=cutoff, limit=limit, offset=offset).all()
    codes: dict[int, list[str]] = {}
    if rows:
        for order_id, code in db.session.connection().execute(_UNUSED_CODES, {"orders": [row.id for row in rows]}):
            codes.setdefault(order_id, []).append(code)
    return [
        {"order": row, "fact": row, "codes": codes.get(row.id, []), "hours": int((now - row.paid_at).total_seconds() // 3600)}
        for row in rows
    ]


def _long_redemptions(organization_id, store_ids, day_from, day_to, *, limit: int, offset: int = 0) -> list:
    """Redemptions in the range that came more than 1440 minutes after payment, latest first:
    per redemption `fact` (voucher_id, store_id, paid_at, redeemed_at, cycle_minutes, channel,
    tracking_code), `code`, `order_id` and `order_number`."""
    start, end = day_bounds(day_from, day_to)
    rows = _run(_LONG_REDEMPTIONS, organization_id, store_ids, start=start, end=end, limit=limit, offset=offset)
    return [{"fact": row, "code": row.code, "order_id": row.order_id, "order_number": row.douyin_order_id} for row in rows]
