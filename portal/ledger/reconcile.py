"""Daily reconciliation against Douyin's settlement ledger (goodlife settle/ledger/query).

Douyin books a redeemed voucher in its ledger 1 h after the redemption, on that moment's
Asia/Shanghai date. For one bill date we compare, per order, what Douyin booked (amount.pay)
with what our redemptions say it should have booked. Differences are listed with the order and
the amounts for a person to look at; nothing is corrected automatically.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select

from portal import audit, clock
from portal.douyin import DouyinError
from portal.extensions import db
from portal.ledger.models import Reconciliation, ReconciliationDifference

LEDGER_DELAY = timedelta(hours=1)


def voucher_share(paid_fen: int, count: int, index: int) -> int:
    """A voucher's part of the order's paid amount: equal parts, the remainder on the first."""
    base, rest = divmod(paid_fen, count)
    return base + (rest if index == 0 else 0)


def expected_for_day(organization_id: int, bill_date: date) -> dict[str, tuple[int, int]]:
    """{douyin order id: (our order id, fen Douyin should have booked that day)}."""
    from portal.orders.models import Order, Voucher

    start = datetime.combine(bill_date, time(0), tzinfo=clock.SHANGHAI) - LEDGER_DELAY
    end = start + timedelta(days=1)
    rows = db.session.execute(
        select(Voucher, Order).join(Order, Order.id == Voucher.order_id).where(
            Voucher.organization_id == organization_id, Voucher.status == "redeemed",
            Voucher.redeemed_at >= start, Voucher.redeemed_at < end,
        )
    ).all()
    out: dict[str, tuple[int, int]] = {}
    for voucher, order in rows:
        index = [v.id for v in order.vouchers].index(voucher.id)
        share = voucher_share(order.paid_fen, len(order.vouchers), index)
        previous = out.get(order.douyin_order_id, (order.id, 0))[1]
        out[order.douyin_order_id] = (order.id, previous + share)
    return out


def fetch_day(client, bill_date: date) -> list[dict]:
    """Every ledger record Douyin booked on `bill_date`, every page of it (raises DouyinError,
    also when Douyin's cursor stops advancing)."""
    return list(client.iter_ledger_records(bill_date.isoformat()))


def reconcile(organization_id: int, bill_date: date, *, client, now: datetime) -> Reconciliation:
    """Compare one day and store the result (a re-run replaces that day's result)."""
    from portal.orders.models import Order

    run = db.session.scalar(select(Reconciliation).where(Reconciliation.organization_id == organization_id, Reconciliation.bill_date == bill_date.isoformat()))
    if run is None:
        run = Reconciliation(organization_id=organization_id, bill_date=bill_date.isoformat(), status="running", ran_at=now)
        db.session.add(run)
        db.session.flush()
    db.session.execute(delete(ReconciliationDifference).where(ReconciliationDifference.reconciliation_id == run.id))
    db.session.expire(run, ["differences"])
    run.ran_at = now
    try:
        records = fetch_day(client, bill_date)
    except DouyinError as error:
        run.status, run.error = "error", str(error)
        db.session.flush()
        return run
    theirs: dict[str, int] = defaultdict(int)
    for record in records:
        theirs[record["order_id"]] += record["amount"]["pay"]
    ours = expected_for_day(organization_id, bill_date)
    differences = []
    for douyin_order_id in sorted(set(theirs) | set(ours)):
        order_id, expected = ours.get(douyin_order_id, (None, 0))
        booked = theirs.get(douyin_order_id, 0)
        if order_id is None:
            order_id = db.session.scalar(select(Order.id).where(Order.organization_id == organization_id, Order.douyin_order_id == douyin_order_id))
            problem = "unknown_order" if order_id is None else "amount_differs"
        elif douyin_order_id not in theirs:
            problem = "missing_at_douyin"
        elif booked != expected:
            problem = "amount_differs"
        else:
            continue
        differences.append(ReconciliationDifference(order_id=order_id, douyin_order_id=douyin_order_id, problem=problem, douyin_fen=booked, portal_fen=expected))
    run.differences = differences
    run.douyin_records = len(records)
    run.douyin_total_fen = sum(theirs.values())
    run.portal_total_fen = sum(amount for _, amount in ours.values())
    run.status = "differences" if differences else "matched"
    run.error = ""
    audit.record("ledger.reconciliation.ran", organization_id=organization_id, obj=run, bill_date=run.bill_date, differences=len(differences))
    db.session.flush()
    return run
