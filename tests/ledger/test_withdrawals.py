"""Withdrawals: Douyin pays out or fails; two requests at once cannot overdraw."""

import json
import threading

import pytest
import responses
from sqlalchemy import delete, select, text

from portal import clock as portal_clock
from portal.ledger import service
from portal.notifications import Notification

TOKEN = {"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}


def ecpay(data):
    return {"err_no": 0, "err_msg": "", "log_id": "l", "data": data}


def settled(orders, org, clock, *amounts):
    made = [orders.order(org, paid_fen=a) for a in amounts]
    for order in made:
        orders.redeem_all(order)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    return made


def test_sandbox_pays_out_and_merchant_is_notified(connected, orders, clock, db, queue, app):
    from portal import jobs
    from portal.jobs import ledger as ledger_jobs

    jobs.bind_app(app)
    settled(orders, connected.org, clock, 10000)
    withdrawal = service.request_withdrawal(connected.org.id, 5000, actor=None, now=portal_clock.now())
    db.session.commit()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post("http://douyin.test/oauth/client_token/", json=TOKEN)
        withdraw = mock.post("http://douyin.test/api/apps/ecpay/saas/merchant_withdraw/", json=ecpay({"order_id": "wd1", "merchant_entity": 1}))
        mock.post("http://douyin.test/api/apps/ecpay/saas/query_withdraw_order/", json=ecpay({"status": "SUCCESS", "status_msg": ""}))
        queue.run()
        assert ledger_jobs.run_withdrawal_checks() == 1
    sent = json.loads(withdraw.calls[0].request.body)
    assert sent == {"merchant_uid": connected.app.merchant_uid, "channel_type": "hz", "out_order_id": withdrawal.out_withdraw_no,
                    "withdraw_amount": 5000, "app_id": connected.app.app_id}
    db.session.expire_all()
    assert withdrawal.status == "paid" and withdrawal.douyin_withdraw_id == "wd1"
    balances = service.balances(connected.org.id)
    assert balances["withdrawn"] == 5000 and balances["withdrawing"] == 0 and balances["available"] == 10000 - 360 - 5000
    assert db.session.scalars(select(Notification).where(Notification.kind == "withdrawal")).one().title.startswith("提现 ¥50.00 已到账")


def test_failed_withdrawal_returns_money_and_orders_become_withdrawable(connected, orders, clock, db):
    (order,) = settled(orders, connected.org, clock, 10000)
    withdrawal = service.request_withdrawal(connected.org.id, 9640, actor=None, now=portal_clock.now())
    assert service.find_ledger_order(order.id).withdrawn_fen == 9640
    service.apply_withdraw_status(withdrawal, {"status": "FAIL", "status_msg": "银行卡信息有误"}, now=portal_clock.now())
    assert withdrawal.status == "failed"
    assert withdrawal.failure_reason == "抖音提现失败：银行卡信息有误。款项已退回可提现余额，核对收款账户后可重新提现。"
    assert service.balances(connected.org.id)["available"] == 9640
    assert service.find_ledger_order(order.id).withdrawn_fen == 0
    again = service.request_withdrawal(connected.org.id, 9640, actor=None, now=portal_clock.now())
    assert [i.ledger_order.order_id for i in again.items] == [order.id]
    assert service.check_books(connected.org.id) == []


def test_two_withdrawals_in_sequence_cannot_overdraw(org, orders, clock, db):
    """The SQLite variant of the concurrency test: the second request sees the first's effect."""
    settled(orders, org, clock, 10000)
    available = service.balances(org.id)["available"]
    service.request_withdrawal(org.id, available - 100, actor=None, now=portal_clock.now())
    with pytest.raises(service.InsufficientFunds):
        service.request_withdrawal(org.id, available - 100, actor=None, now=portal_clock.now())
    assert service.balances(org.id)["available"] == 100


@pytest.fixture
def committed_org(app):
    """An organization with settled money, committed for real so other connections see it."""
    from portal.accounts import service as accounts_service
    from portal.extensions import db
    from tests.fixtures.ledger import OrderFactory

    portal_clock.freeze(portal_clock.now())
    with app.app_context():
        org = accounts_service.create_organization("并发测试商户")
        accounts_service.create_store(org, "门店")
        factory = OrderFactory()
        for amount in (10000, 10000):
            factory.redeem_all(factory.order(org, paid_fen=amount))
        portal_clock.advance(__import__("datetime").timedelta(days=3))
        service.settle_batch(now=portal_clock.now(), request_douyin=False)
        db.session.commit()
        org_id = org.id
    yield org_id
    portal_clock.reset()
    with app.app_context(), db.engine.begin() as conn:
        # Children without an organization column first, then every table that has one, in
        # reverse dependency order (other domains' receivers may have written rows too).
        conn.execute(text("DELETE FROM ledger_withdrawal_items WHERE withdrawal_id IN (SELECT id FROM ledger_withdrawals WHERE organization_id = :o)"), {"o": org_id})
        for table in reversed(db.metadata.sorted_tables):
            if table.name == "order_items":
                conn.execute(text("DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE organization_id = :o)"), {"o": org_id})
            elif "organization_id" in table.c:
                conn.execute(delete(table).where(table.c.organization_id == org_id))
        conn.execute(text("DELETE FROM organizations WHERE id = :o"), {"o": org_id})


@pytest.mark.postgres_only
def test_two_concurrent_withdrawals_on_postgresql_cannot_overdraw(app, committed_org):
    from portal.extensions import db

    with app.app_context():
        available = service.balances(committed_org)["available"]
        db.session.remove()
    amount = available - 1000  # each alone fits; both together would overdraw
    barrier = threading.Barrier(2)
    results = []

    def attempt():
        with app.app_context():
            try:
                barrier.wait()
                service.request_withdrawal(committed_org, amount, actor=None, now=portal_clock.now())
                db.session.commit()
                results.append("ok")
            except service.InsufficientFunds:
                db.session.rollback()
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["ok", "refused"]
    with app.app_context():
        assert service.balances(committed_org)["available"] == 1000
        assert service.check_books(committed_org) == []
        db.session.remove()


def test_a_withdrawal_above_what_douyin_holds_is_refused_with_what_to_do(connected, orders, clock, db):
    settled(orders, connected.org, clock, 10000)
    assert service.withdrawable_fen(connected.org.id, 9000) == 9000
    assert service.withdrawable_fen(connected.org.id, None) == 9640
    with pytest.raises(service.InsufficientFunds, match="抖音账户当前可提现 ¥90.00") as error:
        service.request_withdrawal(connected.org.id, 9640, actor=None, now=portal_clock.now(), platform_fen=9000)
    assert error.value.field == "amount"
    assert service.request_withdrawal(connected.org.id, 9000, actor=None, now=portal_clock.now(), platform_fen=9000).amount_fen == 9000


def test_douyins_settled_amount_is_the_truth_and_the_difference_is_an_adjustment(connected, orders, clock, db):
    (order,) = settled(orders, connected.org, clock, 10000)
    lo = service.find_ledger_order(order.id)
    txn = service.record_douyin_settlement(lo, settle_amount=9550, rake=250, commission=0, now=portal_clock.now())
    assert txn.kind == "settlement_adjustment" and "抖音实际结算 ¥95.50" in txn.memo and "差额 ¥0.90" in txn.memo
    assert service.record_douyin_settlement(lo, settle_amount=9550, rake=250, commission=0, now=portal_clock.now()) is None
    balances = service.balances(connected.org.id)
    assert balances["available"] == 9550 and balances["fees"] == 450
    withdrawal = service.request_withdrawal(connected.org.id, 9550, actor=None, now=portal_clock.now(), platform_fen=9550)
    assert [i.amount_fen for i in withdrawal.items] == [9550]
    assert service.balances(connected.org.id)["available"] == 0
    assert service.check_books(connected.org.id) == []
