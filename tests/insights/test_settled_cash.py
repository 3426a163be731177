"""The overview's settled cash is what the settlement paid, counted once: a later 结算调整 (what
Douyin settled differing from the estimate) moves money between 可提现 and fees in the ledger, and
is neither more settled cash nor a second settled order on the overview."""

from datetime import timedelta

from portal import clock as portal_clock
from portal.insights import aggregation, service as insights
from portal.ledger import service as ledger


def _settled_totals(org):
    today = portal_clock.now().date()
    report = insights.overview(org.id, store_ids=None, stores={s.id: s.name for s in org.stores},
                               day_from=today - timedelta(days=10), day_to=today, now=portal_clock.now())
    return report.totals.settled_orders, report.totals.settled_net_fen, report.totals.settled_fees_fen


def test_a_settlement_adjustment_is_not_settled_cash_on_the_overview(db, org, orders, clock, queue):
    order = orders.order(org, paid_fen=10000)
    orders.redeem_all(order)
    clock.advance(days=3)
    ledger.settle_batch(now=portal_clock.now())
    lo = ledger.find_ledger_order(order.id)
    rows = [r for r in ledger.batch_settlements(org.id, lo.settle_batch)]
    aggregation.apply_settlements(org.id, rows)
    before = _settled_totals(org)
    assert before == (1, lo.net_fen, 10000 - lo.net_fen)

    adjustment = ledger.record_douyin_settlement(lo, settle_amount=lo.net_fen - 90, rake=340, commission=0, now=portal_clock.now())
    assert adjustment is not None and ledger.balances(org.id)["available"] == lo.net_fen - 90
    queue.run()
    aggregation.apply_settlements(org.id, ledger.batch_settlements(org.id, lo.settle_batch))

    assert _settled_totals(org) == before
    day = portal_clock.now().date()
    aggregation.rebuild_daily_figures(org.id, day - timedelta(days=10), day)
    assert _settled_totals(org) == before
