"""Refund callbacks: policy decisions, the synchronous reply, merchant decisions, reversal."""

import json

import responses
from sqlalchemy import func, select

from portal import clock as portal_clock
from portal.ledger import refunds, service
from portal.ledger.models import LedgerTransaction, RefundRequest
from portal.notifications import Notification
from portal.outbox import OutboxMessage


def request_msg(order, refund_id="rf-1", amount=None, **extra):
    return {"refund_id": refund_id, "order_id": order.douyin_order_id, "out_order_no": order.out_order_no,
            "refund_total_amount": order.paid_fen if amount is None else amount, "need_refund_audit": 1,
            "refund_reason": ["不想要了"], **extra}


def test_pre_create_refund_is_approved_by_policy_and_replied(connected, orders, clock, db, queue):
    order = orders.order(connected.org, paid_fen=9900)
    response = connected.trade_callback("pre_create_refund", request_msg(order))
    assert response.status_code == 200
    body = response.get_json()
    assert body["err_no"] == 0 and body["data"]["out_refund_no"] == "rfrf-1"
    refund = db.session.scalars(select(RefundRequest)).one()
    assert refund.status == "approved" and refund.decided_by == "auto" and "未核销" in refund.decision_reason
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ledger.refund_audit")).one()
    assert message.payload == {"refund_id": "rf-1", "agree": True, "deny_message": None}
    note = db.session.scalars(select(Notification).where(Notification.kind == "refund_request")).one()
    assert "已自动同意" in note.title


def test_redeemed_order_is_rejected_with_the_reason(connected, orders, clock, db):
    order = orders.order(connected.org, paid_fen=9900, vouchers=2)
    orders.redeem(order.vouchers[0])
    refund = refunds.receive_request(connected.org.id, request_msg(order), now=portal_clock.now())
    assert refund.status == "rejected" and "已有券核销" in refund.decision_reason


def test_partial_and_late_requests_are_rejected(connected, orders, clock, db):
    order = orders.order(connected.org, paid_fen=9900)
    partial = refunds.receive_request(connected.org.id, request_msg(order, "rf-p", amount=5000), now=portal_clock.now())
    assert partial.status == "rejected" and "整单" in partial.decision_reason
    clock.advance(days=8)
    late = refunds.receive_request(connected.org.id, request_msg(order, "rf-l"), now=portal_clock.now())
    assert late.status == "rejected" and "7 天" in late.decision_reason


def test_audit_answer_goes_to_douyin_through_the_outbox(connected, orders, clock, db, queue):
    order = orders.order(connected.org, paid_fen=9900)
    connected.trade_callback("pre_create_refund", request_msg(order))
    with responses.RequestsMock() as mock:
        mock.post("http://douyin.test/oauth/client_token/", json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
        mock.post("http://douyin.test/api/trade_basic/v1/developer/refund_audit_callback/", json={"err_no": 0, "err_msg": "", "log_id": "l", "data": {}})
        queue.run()
        sent = [c for c in mock.calls if "refund_audit_callback" in c.request.url]
    assert json.loads(sent[0].request.body) == {"refund_id": "rf-1", "refund_audit_status": 1}


def test_refund_success_reverses_ledger_voids_vouchers_and_signals(connected, orders, clock, db, queue):
    from portal import signals

    heard = []

    def hear(order, refund=None, **_):
        heard.append(order.id)

    with signals.order_refunded.connected_to(hear):
        order = orders.order(connected.org, paid_fen=9900, vouchers=2)
        connected.trade_callback("pre_create_refund", request_msg(order))
        for _ in range(3):
            connected.trade_callback("refund", {"refund_id": "rf-1", "order_id": order.douyin_order_id, "status": "SUCCESS", "refund_total_amount": 9900, "message_id": "m-refund"})
        queue.run()
    db.session.expire_all()
    balances = service.balances(connected.org.id)
    assert balances["in_transit"] == 0 and balances["refunded"] == 9900
    assert {v.status for v in order.vouchers} == {"refunded"} and order.status == "refunded"
    assert db.session.scalars(select(RefundRequest)).one().status == "refunded"
    assert heard.count(order.id) == 1
    assert service.check_books(connected.org.id) == []


def test_pending_request_auto_approved_by_douyin_after_72_hours(connected, orders, clock, db):
    service.update_settings(connected.org.id, settlement_basis="redeem", settlement_days=3, refund_window_days=7, refund_auto_audit=False, actor=None, now=portal_clock.now())
    order = orders.order(connected.org, paid_fen=5000)
    refund = refunds.receive_request(connected.org.id, request_msg(order), now=portal_clock.now())
    assert refund.status == "pending" and refunds.hours_left(refund, portal_clock.now()) == (72, 0)
    clock.advance(hours=73)
    try:
        refunds.decide(refund, approve=True, reason="", actor=None, now=portal_clock.now())
        raise AssertionError("decided after the deadline")
    except refunds.RefundError as error:
        assert "72" in str(error)
    refunds.receive_result(connected.org.id, {"refund_id": "rf-1", "order_id": order.douyin_order_id, "status": "SUCCESS"}, now=portal_clock.now())
    assert refund.status == "refunded" and refund.decided_by == "douyin"


def test_replayed_payment_signal_and_refund_callbacks_credit_once(connected, orders, clock, db, queue):
    from portal import signals

    order = orders.order(connected.org, paid_fen=9900)
    for _ in range(100):
        signals.order_paid.send(order)
    payments = db.session.scalar(select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "payment"))
    assert payments == 1 and service.balances(connected.org.id)["in_transit"] == 9900
    for _ in range(100):
        refunds.receive_result(connected.org.id, {"refund_id": "rf-x", "order_id": order.douyin_order_id, "status": "SUCCESS"}, now=portal_clock.now())
    assert service.balances(connected.org.id)["refunded"] == 9900
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "refund")) == 1


def test_refund_callbacks_never_touch_another_merchants_refund(connected, accounts, orders, clock, db, client, queue):
    from tests.fixtures.douyin import ConnectedMerchant

    victim_order = orders.order(connected.org, paid_fen=9900)
    connected.trade_callback("pre_create_refund", request_msg(victim_order, "rf-victim"))
    attacker = ConnectedMerchant(accounts.org("攻击者"), client)
    db.session.flush()
    # Correctly signed messages to the attacker's own URL, naming the victim's refund and order.
    assert attacker.trade_callback("pre_create_refund", request_msg(victim_order, "rf-victim")).status_code == 200
    attacker.trade_callback("refund", {"refund_id": "rf-victim", "order_id": victim_order.douyin_order_id, "status": "SUCCESS",
                                       "refund_total_amount": 9900, "message_id": "m-attack"})
    queue.run()
    db.session.expire_all()
    victims = db.session.scalars(select(RefundRequest).where(RefundRequest.organization_id == connected.org.id)).all()
    assert [r.status for r in victims] == ["approved"]
    assert victim_order.status == "paid" and service.balances(connected.org.id)["in_transit"] == 9900
    # What the attacker sent is recorded as its own, matched to no order, and moved no money.
    theirs = db.session.scalars(select(RefundRequest).where(RefundRequest.organization_id == attacker.org.id)).all()
    assert theirs and all(r.order_id is None for r in theirs)
    assert service.balances(attacker.org.id).get("refunded", 0) == 0
