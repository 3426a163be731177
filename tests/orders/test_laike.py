"""Orders of Douyin's own merchant channel (抖音来客), told by goodlife webhooks: kept apart from
mini-program orders, idempotent on replays, vouchers marked used when Douyin verifies them."""

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.douyin import webhooks
from portal.douyin.events import WebhookEvent
from portal.orders import laike
from portal.orders.models import Order, OrderStatus, TradeFamily, Voucher, VoucherKind, VoucherStatus

# Contents as SK's EventSamples show them (tests/contracts/fixtures/webhook_life_trade_*.json).
PAID = {"action": "pay_success", "msg_time": 1665991178,
        "order": {"order_id": "7100000000000000123", "pay_amount": 8800, "original_amount": 9900,
                  "account_id": "1234", "create_time": 1665991100, "pay_time": 1665991178}}
VERIFIED = {"action": "verify", "msg_time": 1665999999,
            "certificate": {"certificate_id": "7200000000000000456", "order_id": "7100000000000000123", "account_id": "1234"}}


def orders_of(db, douyin_order_id):
    return db.session.scalars(select(Order).where(Order.douyin_order_id == douyin_order_id)).all()


def test_a_paid_laike_order_appears_apart_from_mini_program_orders(connected, db, queue, client, owner):
    assert connected.goodlife_webhook("life_trade_order_notify", PAID, msg_id="m-1").status_code == 200
    queue.run()

    [order] = orders_of(db, "7100000000000000123")
    assert order.trade_family == TradeFamily.LAIKE and order.organization_id == connected.org.id
    assert (order.total_fen, order.discount_fen, order.paid_fen) == (9900, 1100, 8800)
    assert order.status == OrderStatus.PAID and int(order.paid_at.timestamp()) == 1665991178
    assert order.vouchers == []
    client.login_as(owner)
    row = BeautifulSoup(client.get("/orders/").get_data(as_text=True), "html.parser").select_one(f"#orders-row-{order.id}")
    assert row.select_one("[data-trade-family]").get_text() == "抖音来客"
    detail = BeautifulSoup(client.get(f"/orders/{order.id}").get_data(as_text=True), "html.parser")
    assert detail.select_one("#orders-trade-family").get_text() == "抖音来客"


def test_a_replayed_order_notify_makes_one_order(connected, db, queue):
    connected.goodlife_webhook("life_trade_order_notify", PAID, msg_id="m-1")
    connected.goodlife_webhook("life_trade_order_notify", PAID, msg_id="m-2")  # Douyin's retry, a new message id
    queue.run()
    event = db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "life_trade_order_notify")).one()
    webhooks.replay(event)
    db.session.commit()
    queue.run()

    assert len(orders_of(db, "7100000000000000123")) == 1


def test_an_order_notify_other_than_pay_success_makes_nothing(connected, db, clock):
    assert laike.record_laike_order(connected.org.id, dict(PAID, action="refund_success"), now=clock.now()) is None
    assert orders_of(db, "7100000000000000123") == []


def test_a_certificate_verified_at_douyin_marks_the_voucher_used_once(connected, db, queue):
    connected.goodlife_webhook("life_trade_order_notify", PAID, msg_id="m-1")
    connected.goodlife_webhook("life_trade_certificate_notify", VERIFIED, msg_id="c-1")
    connected.goodlife_webhook("life_trade_certificate_notify", VERIFIED, msg_id="c-2")
    queue.run()

    [order] = orders_of(db, "7100000000000000123")
    [voucher] = order.vouchers
    assert voucher.kind == VoucherKind.DOUYIN and voucher.status == VoucherStatus.REDEEMED
    assert voucher.douyin_certificate_id == "7200000000000000456"
    assert int(voucher.redeemed_at.timestamp()) == 1665999999


def test_a_certificate_shown_at_the_counter_is_the_one_douyin_later_reports(connected, db, clock):
    order = laike.record_laike_order(connected.org.id, PAID, now=clock.now())
    shown = laike.voucher_for_laike_certificate(connected.org.id, order.douyin_order_id,
                                                {"encrypted_code": "e", "expire_time": 1700000000, "sku": {"title": "双人套餐"}}, now=clock.now())
    assert shown.status == VoucherStatus.UNUSED and order.items[0].title == "双人套餐"
    assert int(shown.valid_until.timestamp()) == 1700000000

    verified = laike.record_certificate_verified(connected.org.id, VERIFIED, now=clock.now())

    assert verified.id == shown.id and verified.status == VoucherStatus.REDEEMED
    assert db.session.scalar(select(func.count(Voucher.id)).where(Voucher.order_id == order.id)) == 1


def test_a_certificate_of_an_unknown_order_fails_and_succeeds_on_replay(connected, db, queue):
    connected.goodlife_webhook("life_trade_certificate_notify", VERIFIED, msg_id="c-1")
    queue.run()
    event = db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "life_trade_certificate_notify")).one()
    db.session.refresh(event)
    assert event.status == "failed" and "unknown Douyin order" in event.error

    connected.goodlife_webhook("life_trade_order_notify", PAID, msg_id="m-1")
    queue.run()
    webhooks.replay(event)
    db.session.commit()
    queue.run()
    db.session.refresh(event)

    assert event.status == "processed"
    [order] = orders_of(db, "7100000000000000123")
    assert [v.status for v in order.vouchers] == [VoucherStatus.REDEEMED]
