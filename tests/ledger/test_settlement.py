"""Payment, completion clock, set-based settlement and its idempotency."""

from sqlalchemy import func, select

from portal import clock as portal_clock
from portal.jobs import ledger as ledger_jobs
from portal.ledger import service
from portal.ledger.models import LedgerOrder, LedgerPosting, LedgerTransaction, TxnKind


def snapshot(db):
    postings = db.session.execute(select(LedgerPosting.account_id, LedgerPosting.amount_fen).order_by(LedgerPosting.id)).all()
    orders = db.session.execute(select(LedgerOrder.id, LedgerOrder.status, LedgerOrder.settled_at).order_by(LedgerOrder.id)).all()
    return postings, orders


def test_paid_order_is_in_transit_with_its_fees_fixed(clock, org, orders, db):
    order = orders.order(org, paid_fen=9900)
    lo = service.find_ledger_order(order.id)
    assert service.balances(org.id)["in_transit"] == 9900
    assert (lo.tech_fee_fen, lo.channel_fee_fen, lo.net_fen) == (297, 59, 9544)
    assert lo.due_at is None


def test_paid_signal_twice_posts_once(clock, org, orders, db):
    from portal import signals

    order = orders.order(org, paid_fen=5000)
    signals.order_paid.send(order)
    assert service.balances(org.id)["in_transit"] == 5000
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 1


def test_redeemed_order_settles_three_days_later_less_fees(clock, org, orders, db):
    order = orders.order(org, paid_fen=9900)
    orders.redeem_all(order)
    assert service.settle_batch(now=portal_clock.now()) == 0
    clock.advance(days=2)
    assert service.settle_batch(now=portal_clock.now()) == 0
    clock.advance(days=1)
    assert service.settle_batch(now=portal_clock.now()) == 1
    balances = service.balances(org.id)
    assert balances["in_transit"] == 0 and balances["available"] == 9544 and balances["fees"] == 356
    assert service.check_books(org.id) == []


def test_settlement_job_twice_changes_nothing_the_second_time(clock, org, orders, db, app):
    from portal import jobs

    jobs.bind_app(app)
    for amount in (1000, 2000, 3000):
        orders.redeem_all(orders.order(org, paid_fen=amount))
    clock.advance(days=4)
    assert ledger_jobs.run_settlement() == 3
    first = snapshot(db)
    assert ledger_jobs.run_settlement() == 0
    assert snapshot(db) == first
    settlements = db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.kind == TxnKind.SETTLEMENT)).all()
    assert len(settlements) == 1  # one batch, one scope
    batch = settlements[0]
    by_account = {p.account.code: p.amount_fen for p in batch.postings}
    los = db.session.scalars(select(LedgerOrder)).all()
    assert {lo.settle_batch for lo in los} == {batch.settle_batch}
    assert by_account["in_transit"] == -6000
    assert by_account["available"] == sum(lo.net_fen for lo in los)
    assert by_account["fees"] == sum(lo.tech_fee_fen + lo.channel_fee_fen for lo in los)
    assert service.check_books(org.id) == []


def test_books_check_catches_a_batch_that_disagrees_with_its_orders(clock, org, orders, db):
    orders.redeem_all(orders.order(org, paid_fen=1000))
    orders.redeem_all(orders.order(org, paid_fen=2000))
    clock.advance(days=4)
    assert service.settle_batch(now=portal_clock.now()) == 2
    assert service.check_books(org.id) == []
    lo = db.session.scalars(select(LedgerOrder).order_by(LedgerOrder.id)).first()
    lo.settle_batch = None  # an order settled outside any batch
    db.session.flush()
    problems = service.check_books(org.id)
    assert any("no settlement posted it" in p for p in problems)
    assert any("settlement batch" in p for p in problems)


def test_completion_starts_the_clock_by_the_saved_rule(clock, org, orders, db):
    """D+3 by default; a saved D+N from the next completion on; a pay-based rule keeps its date."""
    from datetime import timedelta

    def due_days(order):
        lo = service.find_ledger_order(order.id)
        return (portal_clock.to_local(lo.due_at) - portal_clock.to_local(lo.completed_at).replace(hour=0, minute=0, second=0, microsecond=0)).days

    first = orders.order(org, paid_fen=1000)
    orders.redeem_all(first)
    assert due_days(first) == 3
    service.update_settings(org.id, settlement_basis="redeem", settlement_days=5, refund_window_days=7, refund_auto_audit=True, actor=None, now=portal_clock.now())
    second = orders.order(org, paid_fen=1000)
    orders.redeem_all(second)
    assert due_days(second) == 5 and due_days(first) == 3
    service.update_settings(org.id, settlement_basis="pay", settlement_days=2, refund_window_days=7, refund_auto_audit=True, actor=None, now=portal_clock.now())
    third = orders.order(org, paid_fen=1000)
    paid_due = service.find_ledger_order(third.id).due_at
    clock.advance(days=1)
    orders.redeem_all(third)
    lo = service.find_ledger_order(third.id)
    assert lo.completed_at is not None and lo.due_at == paid_due
    assert portal_clock.to_local(paid_due).date() == portal_clock.to_local(third.paid_at).date() + timedelta(days=2)


def test_undo_before_settlement_stops_the_clock(clock, org, orders, db):
    order = orders.order(org, paid_fen=9900)
    orders.redeem_all(order)
    orders.undo(order.vouchers[0])
    clock.advance(days=5)
    assert service.settle_batch(now=portal_clock.now()) == 0
    assert service.find_ledger_order(order.id).due_at is None


def test_a_settlement_batch_reaches_the_overview_once(clock, org, orders, db, queue):
    from portal.insights.models import DailyFigure, OrderFact

    for amount in (1000, 2500):
        orders.redeem_all(orders.order(org, paid_fen=amount))
    clock.advance(days=4)
    assert service.settle_batch(now=portal_clock.now()) == 2
    db.session.commit()  # the overview's job is queued when the settlement commits
    queue.run()
    los = db.session.scalars(select(LedgerOrder)).all()

    def settled():
        return db.session.execute(
            select(func.sum(DailyFigure.settled_orders), func.sum(DailyFigure.settled_net_fen), func.sum(DailyFigure.settled_fees_fen))
            .where(DailyFigure.organization_id == org.id)
        ).one()

    assert settled() == (2, sum(lo.net_fen for lo in los), sum(lo.tech_fee_fen + lo.channel_fee_fen for lo in los))
    facts = db.session.scalars(select(OrderFact).order_by(OrderFact.order_id)).all()
    assert [f.settled_at for f in facts] == [portal_clock.now()] * 2
    from portal.jobs import default as default_jobs

    assert default_jobs.run_insights_settled(org.id, los[0].settle_batch) == 0  # replayed: nothing changes
    assert settled()[0] == 2


def test_refund_of_a_settled_order_keeps_its_batch_consistent(clock, org, orders, db):
    from portal.ledger import refunds

    first, second = orders.order(org, paid_fen=1000), orders.order(org, paid_fen=3000)
    orders.redeem_all(first)
    orders.redeem_all(second)
    clock.advance(days=4)
    assert service.settle_batch(now=portal_clock.now()) == 2
    assert refunds.apply_refund(second, refund=None, now=portal_clock.now()) is True
    balances = service.balances(org.id)
    lo = service.find_ledger_order(first.id)
    assert balances["available"] == lo.net_fen and balances["refunded"] == 3000 and balances["in_transit"] == 0
    assert service.check_books(org.id) == []


def test_a_batch_across_merchants_reaches_each_overview(clock, org, accounts, orders, db, queue):
    from portal.insights.models import DailyFigure

    other = accounts.org("别家", stores=1)
    for merchant, amount in ((org, 1000), (other, 2000)):
        orders.redeem_all(orders.order(merchant, paid_fen=amount))
    clock.advance(days=4)
    assert service.settle_batch(now=portal_clock.now()) == 2  # one batch, two organizations
    db.session.commit()
    queue.run()
    for merchant in (org, other):
        lo = db.session.scalars(select(LedgerOrder).where(LedgerOrder.organization_id == merchant.id)).one()
        settled = db.session.scalar(select(func.sum(DailyFigure.settled_net_fen)).where(DailyFigure.organization_id == merchant.id))
        assert settled == lo.net_fen
