"""Keeping the daily figures: per-order facts, the change they contribute, and a full recompute.

Each signal re-derives the order's facts from its current state (plus what only the event
knows: the refund time, the settled amounts) and applies the difference between the new and the
old contribution to `insight_daily_figures`. Deriving from state makes every receiver
idempotent and indifferent to the order in which events arrive.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import BigInteger, and_, any_, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql

from portal import clock
from portal.database import add_or_insert
from portal.extensions import db
from portal.insights.models import METRICS, NO_STORE, DailyFigure, DailyStoreFigure, OrderFact, RedemptionFact
from portal.orders.models import Channel, Order, OrderStatus, Voucher, VoucherStatus

LONG_CYCLE_MINUTES = 1440  # 核销时间 − 支付时间 > 1440 分钟: a long-cycle redemption

Key = tuple[date, int, str, str]  # day, store, channel, tracking code
Figures = dict[Key, dict[str, int]]  # also keyed by (day, store) for the store-day sums


def local_day(moment: datetime) -> date:
    return clock.to_local(moment).date()


def day_bounds(day_from: date, day_to: date) -> tuple[datetime, datetime]:
    """UTC instants of the start of `day_from` and of the day after `day_to` (Shanghai days)."""
    start = datetime.combine(day_from, time(0), tzinfo=clock.SHANGHAI).astimezone(UTC)
    end = datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=clock.SHANGHAI).astimezone(UTC)
    return start, end


def channel_of(value: str | None) -> str:
    return value if value in set(Channel) else Channel.OTHER.value


def _add(figures: Figures, key: Key, sign: int = 1, **metrics: int) -> None:
    bucket = figures.setdefault(key, defaultdict(int))
    for name, value in metrics.items():
        bucket[name] += sign * value


def order_contribution(fact: OrderFact | None, figures: Figures, sign: int = 1) -> None:
    if fact is None or fact.status == OrderStatus.CANCELLED:
        return
    dims = (fact.store_id, fact.channel, fact.tracking_code)
    _add(
        figures,
        (local_day(fact.paid_at), *dims),
        sign,
        orders=1,
        gmv_fen=fact.gmv_fen,
        paid_fen=fact.paid_fen,
        vouchers=fact.vouchers,
        open_vouchers=fact.open_vouchers,
    )
    if fact.refunded_at is not None:
        _add(figures, (local_day(fact.refunded_at), *dims), sign, refunds=1, refunds_fen=fact.refunds_fen)
    settled_contribution(fact, figures, sign)


def settled_contribution(fact: OrderFact | None, figures: Figures, sign: int = 1) -> None:
    if fact is None or fact.status == OrderStatus.CANCELLED or fact.settled_at is None:
        return
    _add(
        figures,
        (local_day(fact.settled_at), fact.store_id, fact.channel, fact.tracking_code),
        sign,
        settled_orders=1,
        settled_net_fen=fact.settled_net_fen,
        settled_fees_fen=fact.settled_fees_fen,
    )


def redemption_contribution(fact: RedemptionFact | None, figures: Figures, sign: int = 1) -> None:
    if fact is None:
        return
    _add(
        figures,
        (local_day(fact.redeemed_at), fact.store_id, fact.channel, fact.tracking_code),
        sign,
        redemptions=1,
        long_redemptions=int(fact.cycle_minutes > LONG_CYCLE_MINUTES),
    )


_BUCKET = ("organization_id", "day", "store_id", "channel", "tracking_code")
_STORE_DAY = ("organization_id", "day", "store_id")


def apply(organization_id: int, figures: Figures) -> None:
    """Add `figures` (which may be negative) to the daily buckets and to their store-day sums;
    drop rows left at zero."""
    emptied = _add_rows(DailyFigure, _BUCKET, organization_id, figures)
    emptied = _add_rows(DailyStoreFigure, _STORE_DAY, organization_id, _by_store_day(figures)) or emptied
    if emptied:
        days = {key[0] for key in figures}
        for model in (DailyFigure, DailyStoreFigure):
            db.session.execute(
                delete(model).where(
                    model.organization_id == organization_id, *[getattr(model, name) == 0 for name in METRICS], model.day.in_(days)
                )
            )


def _by_store_day(figures: Figures) -> Figures:
    """The buckets' figures summed per (day, store)."""
    store_days: Figures = {}
    for (day, store_id, _channel, _code), metrics in figures.items():
        _add(store_days, (day, store_id), **metrics)
    return store_days


def _row(unique: tuple[str, ...], organization_id: int, key: tuple, metrics: dict[str, int]) -> dict:
    """The column values of `key`'s row: the unique columns, then every metric (0 where absent)."""
    return dict(zip(unique, (organization_id, *key), strict=True)) | {name: metrics.get(name, 0) for name in METRICS}


def _add_rows(model, unique: tuple[str, ...], organization_id: int, figures: Figures) -> bool:
    """Add each key's metrics to `model`'s row of (organization_id, *key); true if any went down.

    Rows are taken in key order: concurrent jobs (on PostgreSQL) then lock shared rows, such as a
    busy day's store-day row, in the same order and wait for each other instead of deadlocking."""
    emptied = False
    for key, metrics in sorted(figures.items()):
        changed = tuple(name for name in METRICS if metrics.get(name))
        if not changed:
            continue
        values = _row(unique, organization_id, key, metrics)
        add_or_insert(db.session, model.__table__, values, unique, add=changed)
        emptied = emptied or any(values[name] < 0 for name in changed)
    return emptied


def _refund_details(order: Order, refund, now: datetime) -> tuple[datetime, int]:
    """When and how much was refunded. The refund row's shape belongs to the orders domain, so
    read it defensively; refunds are whole-order, so the paid amount is the fallback."""
    at = None
    amount = None
    if refund is not None:
        at = next((getattr(refund, n) for n in ("refunded_at", "succeeded_at", "created_at") if getattr(refund, n, None)), None)
        amount = next((getattr(refund, n) for n in ("amount_fen", "refund_fen", "refunded_fen") if getattr(refund, n, None) is not None), None)
    return at or now, order.paid_fen if amount is None else amount


def sync_later(order_id: int) -> None:
    """Bring an order's figures up to date in a job after the current transaction commits."""
    from portal.extensions import queue

    queue.enqueue("default", "portal.jobs.default.run_insights_sync", order_id, retry=3)


def settlements_later(organization_id: int, batch: str) -> None:
    """Record a settlement batch's cash in a job after the current transaction commits."""
    from portal.extensions import queue

    queue.enqueue("default", "portal.jobs.default.run_insights_settled", organization_id, batch, job_id=f"insights:settled:{batch}:{organization_id}", retry=3)


def sync_order(order: Order, *, now: datetime | None = None, refund=None, settlement: tuple[int, int] | None = None) -> None:
    """Bring the order's facts (and its vouchers' redemption facts) in line with its state and
    apply the change to the daily figures. Idempotent: the same state applies nothing.

    `refund` is the refund row of an `order_refunded` event (or None); `settlement` is
    `(net_fen, fees_fen)` of an `order_settled` event. A refund or settlement learned once is
    kept; a repeated settlement with other amounts replaces the amounts, not the day.
    """
    now = now or clock.now()
    db.session.flush()
    # Conditional UPDATEs (the counter's redeem) may have bypassed the loaded objects: reload.
    db.session.refresh(order)
    vouchers = list(
        db.session.scalars(
            select(Voucher).where(Voucher.order_id == order.id).order_by(Voucher.id).execution_options(populate_existing=True)
        )
    )
    fact = db.session.get(OrderFact, order.id, with_for_update=True)
    change: Figures = {}
    order_contribution(fact, change, -1)
    if fact is None:
        fact = OrderFact(order_id=order.id, refunded_at=None, settled_at=None, refunds_fen=0, settled_net_fen=0, settled_fees_fen=0)
        db.session.add(fact)
    fact.organization_id = order.organization_id
    fact.store_id = order.store_id or NO_STORE
    fact.status = order.status
    fact.channel = channel_of(order.channel)
    fact.tracking_code = order.tracking_code or ""
    fact.paid_at = order.paid_at
    fact.gmv_fen = order.total_fen
    fact.paid_fen = order.paid_fen
    fact.vouchers = len(vouchers)
    fact.open_vouchers = sum(1 for v in vouchers if v.status == VoucherStatus.UNUSED)
    if order.status == OrderStatus.REFUNDED:
        if fact.refunded_at is None:
            fact.refunded_at, fact.refunds_fen = _refund_details(order, refund, now)
    else:
        fact.refunded_at, fact.refunds_fen = None, 0
    if settlement is not None:
        fact.settled_at = fact.settled_at or now
        fact.settled_net_fen, fact.settled_fees_fen = settlement
    order_contribution(fact, change, +1)
    for voucher in vouchers:
        _sync_redemption(voucher, order, fact, change)
    apply(order.organization_id, change)
    db.session.flush()


_SETTLED_FACT_COLUMNS = select(OrderFact.order_id, OrderFact.status, OrderFact.store_id, OrderFact.channel, OrderFact.tracking_code,
                               OrderFact.settled_at, OrderFact.settled_net_fen, OrderFact.settled_fees_fen).with_for_update()
_SETTLED_FACTS = {
    # PostgreSQL takes the ids as one array, not thousands of placeholders.
    "postgresql": _SETTLED_FACT_COLUMNS.where(OrderFact.order_id == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger)))),
    None: _SETTLED_FACT_COLUMNS.where(OrderFact.order_id.in_(bindparam("ids", expanding=True))),
}


# PostgreSQL: every order of a chunk in one statement, its values as four arrays.
_SETTLE_FACTS_PG = text(
    "UPDATE insight_order_facts AS f SET settled_at = s.settled_at, settled_net_fen = s.net_fen, settled_fees_fen = s.fees_fen "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamp[]), CAST(:nets AS bigint[]), CAST(:fees AS bigint[])) "
    "AS s(order_id, settled_at, net_fen, fees_fen) WHERE f.order_id = s.order_id"
)


def _settle_facts(writes: list[tuple[int, datetime, int, int]]) -> None:
    """Set (order id, settled at, net fen, fees fen) on the orders' facts: on PostgreSQL in one
    statement, elsewhere (SQLite, in process) one executemany."""
    if db.session.get_bind().dialect.name == "postgresql":
        ids, ats, nets, fees = zip(*writes, strict=True)
        # Naive UTC, as UTCDateTime stores it: the arrays bypass the column type.
        naive = [at.astimezone(UTC).replace(tzinfo=None) for at in ats]
        db.session.execute(_SETTLE_FACTS_PG, {"ids": list(ids), "ats": naive, "nets": list(nets), "fees": list(fees)})
        return
    table = OrderFact.__table__
    db.session.execute(
        update(table).where(table.c.order_id == bindparam("b_order_id")).values(
            settled_at=bindparam("b_settled_at"), settled_net_fen=bindparam("b_net_fen"), settled_fees_fen=bindparam("b_fees_fen")),
        [{"b_order_id": o, "b_settled_at": at, "b_net_fen": net, "b_fees_fen": fee} for o, at, net, fee in writes],
    )


def apply_settlements(organization_id: int, settlements: list[tuple[int, int, int, datetime]]) -> int:
    """Record settled cash, `(order id, net fen, fees fen, settled at)` per order, on the orders'
    facts and the daily figures; returns how many orders changed. A settlement already recorded
    with the same amounts changes nothing; other amounts replace them on the first settlement
    day. Orders without facts yet (paid before the overview existed) are derived in full.

    A settlement batch holds thousands of orders: the facts are read and written as plain rows
    (one select, one update), not as ORM objects, so the overview keeps up with settling."""
    statement = _SETTLED_FACTS.get(db.session.get_bind().dialect.name, _SETTLED_FACTS[None])
    facts = {row.order_id: row for row in db.session.execute(statement, {"ids": [order_id for order_id, *_ in settlements]})}
    days: dict[datetime, date] = {}  # a batch shares one settlement time

    def day_of(moment: datetime) -> date:
        if moment not in days:
            days[moment] = local_day(moment)
        return days[moment]

    change: Figures = {}
    writes, unknown = [], []
    for order_id, net_fen, fees_fen, settled_at in settlements:
        fact = facts.get(order_id)
        if fact is None:
            unknown.append((order_id, net_fen, fees_fen, settled_at))
            continue
        if fact.settled_at is not None and (fact.settled_net_fen, fact.settled_fees_fen) == (net_fen, fees_fen):
            continue
        first_day = fact.settled_at or settled_at
        if fact.status != OrderStatus.CANCELLED:  # as settled_contribution: a cancelled order counts nowhere
            dims = (fact.store_id, fact.channel, fact.tracking_code)
            if fact.settled_at is not None:
                _add(change, (day_of(fact.settled_at), *dims), -1, settled_orders=1, settled_net_fen=fact.settled_net_fen,
                     settled_fees_fen=fact.settled_fees_fen)
            _add(change, (day_of(first_day), *dims), settled_orders=1, settled_net_fen=net_fen, settled_fees_fen=fees_fen)
        writes.append((order_id, first_day, net_fen, fees_fen))
    if writes:
        _settle_facts(writes)
        for obj in list(db.session.identity_map.values()):  # loaded facts must not hide the rows just written
            if isinstance(obj, OrderFact):
                db.session.expire(obj)
    apply(organization_id, change)
    for order_id, net_fen, fees_fen, settled_at in unknown:
        order = db.session.get(Order, order_id)
        if order is not None:
            sync_order(order, now=settled_at, settlement=(net_fen, fees_fen))
            writes.append(order_id)
    db.session.flush()
    return len(writes)


def _sync_redemption(voucher: Voucher, order: Order, order_fact: OrderFact, change: Figures) -> None:
    fact = db.session.get(RedemptionFact, voucher.id)
    redemption_contribution(fact, change, -1)
    if voucher.status != VoucherStatus.REDEEMED or voucher.redeemed_at is None or order.status == OrderStatus.CANCELLED:
        if fact is not None:
            db.session.delete(fact)
        return
    if fact is None:
        fact = RedemptionFact(voucher_id=voucher.id)
        db.session.add(fact)
    fact.organization_id = voucher.organization_id
    fact.order_id = order.id
    fact.store_id = voucher.redeemed_store_id or order.store_id or NO_STORE
    fact.channel = order_fact.channel
    fact.tracking_code = order_fact.tracking_code
    fact.paid_at = order.paid_at
    fact.redeemed_at = voucher.redeemed_at
    fact.cycle_minutes = int((voucher.redeemed_at - order.paid_at).total_seconds() // 60)
    redemption_contribution(fact, change, +1)


def compute_daily_figures(organization_id: int, day_from: date, day_to: date) -> Figures:
    """The figures of [day_from, day_to] computed afresh from the order and voucher tables.

    Only the refund time and the settled amounts, which the order tables do not hold, are read
    from the facts the events left.
    """
    start, end = day_bounds(day_from, day_to)
    figures: Figures = {}

    def dims(store_id, channel, code):
        return store_id or NO_STORE, channel_of(channel), code or ""

    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    voucher_rows = db.session.execute(
        select(Voucher.order_id, Voucher.status)
        .join(Order, Order.id == Voucher.order_id)
        .where(Order.organization_id == organization_id, Order.paid_at >= start, Order.paid_at < end)
        .execution_options(yield_per=10_000)
    )
    for order_id, status in voucher_rows:
        counts[order_id][0] += 1
        counts[order_id][1] += status == VoucherStatus.UNUSED
    order_rows = db.session.execute(
        select(Order.id, Order.store_id, Order.channel, Order.tracking_code, Order.paid_at, Order.total_fen, Order.paid_fen)
        .where(
            Order.organization_id == organization_id,
            Order.paid_at >= start,
            Order.paid_at < end,
            Order.status != OrderStatus.CANCELLED,
        )
        .execution_options(yield_per=10_000)
    )
    for order_id, store_id, channel, code, paid_at, total_fen, paid_fen in order_rows:
        n, unused = counts.get(order_id, (0, 0))
        _add(figures, (local_day(paid_at), *dims(store_id, channel, code)), orders=1, gmv_fen=total_fen, paid_fen=paid_fen, vouchers=n, open_vouchers=unused)

    redemption_rows = db.session.execute(
        select(Voucher.redeemed_at, Voucher.redeemed_store_id, Order.store_id, Order.channel, Order.tracking_code, Order.paid_at)
        .join(Order, Order.id == Voucher.order_id)
        .where(
            Voucher.organization_id == organization_id,
            Voucher.status == VoucherStatus.REDEEMED,
            Voucher.redeemed_at >= start,
            Voucher.redeemed_at < end,
            Order.status != OrderStatus.CANCELLED,
        )
        .execution_options(yield_per=10_000)
    )
    for redeemed_at, redeemed_store_id, store_id, channel, code, paid_at in redemption_rows:
        minutes = int((redeemed_at - paid_at).total_seconds() // 60)
        key = (local_day(redeemed_at), *dims(redeemed_store_id or store_id, channel, code))
        _add(figures, key, redemptions=1, long_redemptions=int(minutes > LONG_CYCLE_MINUTES))

    event_rows = db.session.execute(
        select(Order.store_id, Order.channel, Order.tracking_code, Order.status, OrderFact)
        .join(OrderFact, OrderFact.order_id == Order.id)
        .where(
            Order.organization_id == organization_id,
            Order.status != OrderStatus.CANCELLED,
            (and_(OrderFact.refunded_at >= start, OrderFact.refunded_at < end))
            | (and_(OrderFact.settled_at >= start, OrderFact.settled_at < end)),
        )
    )
    for store_id, channel, code, status, fact in event_rows:
        d = dims(store_id, channel, code)
        if status == OrderStatus.REFUNDED and fact.refunded_at and start <= fact.refunded_at < end:
            _add(figures, (local_day(fact.refunded_at), *d), refunds=1, refunds_fen=fact.refunds_fen)
        if fact.settled_at and start <= fact.settled_at < end:
            _add(figures, (local_day(fact.settled_at), *d), settled_orders=1, settled_net_fen=fact.settled_net_fen, settled_fees_fen=fact.settled_fees_fen)
    return figures


def rebuild_daily_figures(organization_id: int, day_from: date, day_to: date) -> int:
    """Replace the organization's daily figures (buckets and store-day sums) of [day_from,
    day_to] (Shanghai days) by a full recompute from the order tables; returns the number of
    buckets written. Idempotent.

    For repair and for proving the incremental figures: the per-order facts are not touched, so
    the next event of an order still applies its change on top of the rebuilt buckets.
    """
    figures = compute_daily_figures(organization_id, day_from, day_to)
    written = {}
    for model, unique, rows in ((DailyFigure, _BUCKET, figures), (DailyStoreFigure, _STORE_DAY, _by_store_day(figures))):
        db.session.execute(delete(model).where(model.organization_id == organization_id, model.day >= day_from, model.day <= day_to))
        values = [
            _row(unique, organization_id, key, metrics)
            for key, metrics in rows.items()
            if any(metrics.values())
        ]
        for i in range(0, len(values), 5000):
            db.session.execute(model.__table__.insert(), values[i : i + 5000])
        written[model] = len(values)
    db.session.flush()
    return written[DailyFigure]
