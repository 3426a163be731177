"""The daily figures kept by the signal receivers: days, idempotency, undo, refunds, settlement,
and equality with a full recompute from the order tables."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from portal import signals
from portal.extensions import db
from portal.insights.aggregation import apply, rebuild_daily_figures
from portal.insights.models import DailyFigure, DailyStoreFigure, OrderFact, RedemptionFact
from tests.fixtures.insights import drain
from tests.insights.helpers import snapshot, total


def test_paid_order_counts_on_its_shanghai_day(clock, org, insight_orders):
    # 17:30 UTC on the 19th is 01:30 on the 20th in Shanghai.
    order = insight_orders.order(org, paid_at=datetime(2026, 11, 19, 17, 30, tzinfo=UTC), total_fen=12000, paid_fen=9900,
                                 channel="live", tracking_code="live_1119", vouchers=2)
    figures = snapshot(org.id)
    assert figures == {
        (date(2026, 11, 20), order.store_id, "live", "live_1119"): {
            "orders": 1, "gmv_fen": 12000, "paid_fen": 9900, "vouchers": 2, "open_vouchers": 2,
        }
    }


def test_every_signal_sent_twice_counts_once(clock, org, insight_orders):
    order = insight_orders.order(org, tracking_code="shortvideo_0309_douyin", vouchers=2)
    signals.order_paid.send(order)
    drain()
    voucher = order.vouchers[0]
    insight_orders.redeem(voucher, at=clock.now() + timedelta(hours=30))
    signals.voucher_redeemed.send(voucher, actor=None)
    drain()
    insight_orders.redeem(order.vouchers[1], at=clock.now() + timedelta(hours=31))
    insight_orders.complete(order)
    signals.order_completed.send(order)
    drain()
    insight_orders.settle(order, net_fen=9840, fees_fen=60)
    insight_orders.settle(order, net_fen=9840, fees_fen=60)
    assert total(org.id, "orders") == 1
    assert total(org.id, "paid_fen") == 9900
    assert total(org.id, "redemptions") == 2
    assert total(org.id, "long_redemptions") == 2
    assert total(org.id, "open_vouchers") == 0
    assert total(org.id, "settled_orders") == 1
    assert total(org.id, "settled_net_fen") == 9840
    assert total(org.id, "settled_fees_fen") == 60


def test_refund_sent_twice_counts_once_with_the_refund_amount(clock, org, insight_orders):
    order = insight_orders.order(org, paid_fen=9900, total_fen=9900)
    clock.advance(days=2)
    refund = SimpleNamespace(amount_fen=9900, refunded_at=clock.now())
    insight_orders.refund(order, refund=refund)
    signals.order_refunded.send(order, refund=refund)
    drain()
    figures = snapshot(org.id)
    refund_day = figures[(date(2026, 11, 22), order.store_id, "short_video", "")]
    assert refund_day == {"refunds": 1, "refunds_fen": 9900}
    assert "open_vouchers" not in figures[(date(2026, 11, 20), order.store_id, "short_video", "")]
    assert figures[(date(2026, 11, 20), order.store_id, "short_video", "")]["vouchers"] == 1


def test_undone_redemption_is_taken_back_and_its_bucket_removed(clock, org, insight_orders):
    order = insight_orders.order(org, paid_at=clock.now() - timedelta(days=3))
    voucher = order.vouchers[0]
    insight_orders.redeem(voucher, store=org.stores[1])
    assert total(org.id, "redemptions") == 1
    insight_orders.undo(voucher)
    insight_orders.undo(voucher)  # the undo event twice
    assert total(org.id, "redemptions") == 0
    assert total(org.id, "open_vouchers") == 1
    assert db.session.get(RedemptionFact, voucher.id) is None
    # The redemption day's bucket (store 2, today) held nothing else, so it is gone.
    assert not db.session.query(DailyFigure).filter_by(store_id=org.stores[1].id).count()


def test_redemption_counts_at_the_redeeming_store(clock, org, insight_orders):
    order = insight_orders.order(org, store=org.stores[0])
    insight_orders.redeem(order.vouchers[0], store=org.stores[1])
    figures = snapshot(org.id)
    assert figures[(date(2026, 11, 20), org.stores[1].id, "short_video", "")] == {"redemptions": 1}
    assert figures[(date(2026, 11, 20), org.stores[0].id, "short_video", "")]["orders"] == 1


def test_a_corrected_settlement_replaces_the_amounts_on_the_first_settlement_day(clock, org, insight_orders):
    order = insight_orders.order(org)
    clock.advance(days=3)
    insight_orders.settle(order, net_fen=9800, fees_fen=100)
    clock.advance(days=1)
    insight_orders.settle(order, net_fen=9841, fees_fen=59)
    figures = snapshot(org.id)
    assert figures[(date(2026, 11, 23), order.store_id, "short_video", "")] == {
        "settled_orders": 1, "settled_net_fen": 9841, "settled_fees_fen": 59,
    }
    assert (date(2026, 11, 24), order.store_id, "short_video", "") not in figures


def test_an_event_missed_earlier_is_caught_up_by_the_next_one(clock, org, insight_orders):
    order = insight_orders.order(org, fire=False)
    insight_orders.redeem(order.vouchers[0], fire=False)
    insight_orders.complete(order)  # the only event that arrives
    assert total(org.id, "orders") == 1
    assert total(org.id, "redemptions") == 1


def test_unknown_channel_counts_as_other(clock, org, insight_orders):
    insight_orders.order(org, channel="wechat")
    assert list(snapshot(org.id))[0][2] == "other"


def _busy_history(clock, org, insight_orders):
    start = clock.now() - timedelta(days=12)
    codes = [("short_video", "shortvideo_0309_douyin"), ("live", "live_1111"), ("search", ""), ("other", "")]
    made = []
    for i in range(24):
        channel, code = codes[i % 4]
        paid_at = start + timedelta(hours=11 * i)
        order = insight_orders.order(org, store=org.stores[i % 2], paid_at=paid_at, total_fen=5000 + 100 * i,
                                     paid_fen=4500 + 100 * i, channel=channel, tracking_code=code, vouchers=1 + i % 3)
        made.append(order)
        if i % 5 == 0:
            insight_orders.refund(order, refund=SimpleNamespace(amount_fen=order.paid_fen, refunded_at=paid_at + timedelta(hours=5)))
            continue
        for j, voucher in enumerate(order.vouchers):
            if (i + j) % 3 == 0:
                insight_orders.redeem(voucher, at=paid_at + timedelta(hours=6 + 9 * j), store=org.stores[(i + j) % 2])
        if i % 7 == 3 and order.vouchers[0].status == "redeemed":
            insight_orders.undo(order.vouchers[0])
        if i % 4 == 1:
            clock.set(paid_at + timedelta(days=3))
            insight_orders.settle(order, net_fen=order.paid_fen - 30, fees_fen=30)
    return made


def test_incremental_figures_equal_a_full_recompute(clock, org, insight_orders, accounts):
    now = clock.now()
    _busy_history(clock, org, insight_orders)
    other = accounts.org("别家", stores=1)
    insight_orders.order(other, paid_at=now - timedelta(days=2), tracking_code="shortvideo_0309_douyin")
    incremental = snapshot(org.id)
    assert total(org.id, "orders") == 24 and total(org.id, "redemptions") > 0 and total(org.id, "settled_orders") > 0

    written = rebuild_daily_figures(org.id, date(2026, 11, 1), date(2026, 11, 30))
    assert written == len(incremental)
    assert snapshot(org.id) == incremental
    assert total(other.id, "orders") == 1  # another organization's figures are not touched


def test_rebuild_repairs_figures_that_drifted(clock, org, insight_orders):
    order = insight_orders.order(org, paid_fen=9900)
    insight_orders.redeem(order.vouchers[0], fire=False)  # a redemption whose event was lost
    bucket = db.session.query(DailyFigure).filter_by(organization_id=org.id).one()
    bucket.paid_fen = 1  # and a corrupted figure
    db.session.flush()
    rebuild_daily_figures(org.id, date(2026, 11, 20), date(2026, 11, 20))
    assert total(org.id, "paid_fen") == 9900
    assert total(org.id, "redemptions") == 1


def test_rebuild_leaves_days_outside_its_range(clock, org, insight_orders):
    insight_orders.order(org, paid_at=clock.now() - timedelta(days=5))
    insight_orders.order(org)
    for model in (DailyFigure, DailyStoreFigure):  # one bucket a day: both read 7
        db.session.query(model).update({"paid_fen": 7})
    rebuild_daily_figures(org.id, date(2026, 11, 20), date(2026, 11, 20))
    days = {key[0]: values["paid_fen"] for key, values in snapshot(org.id).items()}
    assert days == {date(2026, 11, 15): 7, date(2026, 11, 20): 9900}


def test_cancelled_order_contributes_nothing(clock, org, insight_orders):
    order = insight_orders.order(org)
    order.status = "cancelled"
    db.session.flush()
    signals.order_completed.send(order)
    drain()
    assert snapshot(org.id) == {}
    assert db.session.get(OrderFact, order.id).status == "cancelled"


def test_applying_adds_to_the_bucket_with_one_compiled_statement(org, db, compiled_for):
    # The upsert adds in SQL (no read first) and is a cached statement: the second application
    # runs the first one's compiled SQL.
    key = (date(2026, 11, 20), org.stores[0].id, "search", "")
    with compiled_for("INSERT INTO insight_daily_figures") as compiled:
        apply(org.id, {key: {"orders": 1, "paid_fen": 9900}})
        apply(org.id, {key: {"orders": 1, "paid_fen": 100}})
    assert snapshot(org.id) == {key: {"orders": 2, "paid_fen": 10000}}
    assert len(compiled) == 2 and compiled[0] is compiled[1]
