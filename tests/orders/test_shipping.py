"""Courier orders: carrier and tracking number, what Douyin is told, completion on delivery."""

import json

import pytest
import responses
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import outbox, signals
from portal.catalog.models import ProductKind
from portal.orders import service, shipping
from portal.orders.models import OrderStatus, ShippingStatus
from portal.outbox import OutboxMessage, OutboxStatus

BASE = "http://douyin.test"
CLIENT_TOKEN = {"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.mark.parametrize(("carrier", "number", "stored"), [
    ("shunfeng", "sf 1234 5678 90123", "SF1234567890123"),
    ("zhongtong", "７５３１２３４５６７８９０１", "75312345678901"),
    ("yuantong", "YT1234567890123", "YT1234567890123"),
    ("yunda", "4312345678901", "4312345678901"),
    ("shentong", "773123456789", "773123456789"),
    ("jd", "JDX000123456789", "JDX000123456789"),
    ("ems", "ea123456789cn", "EA123456789CN"),
    ("jtexpress", "JT1234567890123", "JT1234567890123"),
])
def test_each_common_carrier_takes_its_own_number_shape(carrier, number, stored):
    assert shipping.check_tracking(carrier, number) == (carrier, stored)


@pytest.mark.parametrize(("carrier", "number", "field", "words"), [
    ("", "SF1234567890123", "carrier", "请选择快递公司"),
    ("dhl", "SF1234567890123", "carrier", "请选择快递公司"),
    ("shunfeng", "  ", "tracking_number", "请填写快递单号"),
    ("shunfeng", "1234567890123", "tracking_number", "SF 加 12–13 位数字"),
    ("jtexpress", "JT12345", "tracking_number", "JT 加 13 位数字"),
])
def test_a_number_that_cannot_be_the_carriers_is_refused_with_what_it_should_look_like(carrier, number, field, words):
    with pytest.raises(shipping.TrackingError) as refused:
        shipping.check_tracking(carrier, number)
    assert refused.value.field == field and words in str(refused.value)


def test_shipping_needs_carrier_and_number_and_changes_nothing_when_they_are_wrong(db, org, owner, shop, clock):
    order = shop.paid(org, shop.product(org, kind=ProductKind.GOODS))
    with pytest.raises(service.OrderError) as refused:
        service.update_shipping(order, ShippingStatus.SHIPPED, actor=owner, now=clock.now(), carrier="shunfeng", tracking_number="12")
    assert refused.value.field == "tracking_number"
    assert order.shipping_status == ShippingStatus.PENDING and order.tracking_number == "" and order.shipped_at is None
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == shipping.FULFIL)).all() == []


def test_shipping_then_delivery_tells_douyin_each_step_and_completes_the_order(db, org, owner, shop, clock):
    order = shop.paid(org, shop.product(org, kind=ProductKind.GOODS))
    completed = []
    receiver = lambda sender, **kw: completed.append(sender.id)  # noqa: E731
    signals.order_completed.connect(receiver)
    try:
        service.update_shipping(order, ShippingStatus.SHIPPED, actor=owner, now=clock.now(), carrier="yuantong", tracking_number="yt1234567890123")
        assert (order.carrier_code, order.tracking_number, order.shipped_at) == ("yuantong", "YT1234567890123", clock.now())
        assert order.status == OrderStatus.PAID and completed == []
        clock.advance(days=2)
        service.update_shipping(order, ShippingStatus.DELIVERED, actor=owner, now=clock.now())
    finally:
        signals.order_completed.disconnect(receiver)
    assert order.status == OrderStatus.COMPLETED and order.delivered_at == order.completed_at == clock.now()
    assert completed == [order.id]
    pushes = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == shipping.FULFIL).order_by(OutboxMessage.id)).all()
    assert [m.payload for m in pushes] == [{"order_id": order.douyin_order_id, "to_status": "fulfilling"},
                                           {"order_id": order.douyin_order_id, "to_status": "fulfilled"}]


def test_the_fulfilment_push_reports_every_item_order_of_the_order(connected, db, org, owner, shop, clock):
    order = shop.paid(org, shop.product(org, kind=ProductKind.GOODS), quantity=2)
    service.update_shipping(order, ShippingStatus.SHIPPED, actor=owner, now=clock.now(), carrier="jd", tracking_number="JDX000123456789")
    db.session.flush()
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == shipping.FULFIL))
    items = [{"item_order_id": f"it-{i}", "sku_id": "s", "item_order_amount": 9900} for i in range(2)]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, BASE + "/oauth/client_token/", json=CLIENT_TOKEN)
        mock.add(responses.POST, BASE + "/api/trade_basic/v1/developer/order_query/", json={"err_no": 0, "err_msg": "", "log_id": "1", "data": {
            "order_id": order.douyin_order_id, "out_order_no": order.out_order_no, "pay_status": "SUCCESS", "total_amount": 19800,
            "discount_amount": 0, "item_order_list": items}})
        pushed = mock.add(responses.POST, BASE + "/api/trade_basic/v1/developer/fulfill_push_status",
                          json={"err_no": 0, "err_msg": "success", "log_id": "2"})
        outbox.deliver(message.id)
    assert message.status == OutboxStatus.DELIVERED, message.last_error
    assert json.loads(pushed.calls[0].request.body) == {"order_id": order.douyin_order_id, "item_order_id_list": ["it-0", "it-1"],
                                                        "to_status": "fulfilling"}
    assert message.status == OutboxStatus.DELIVERED


def test_the_order_page_asks_for_carrier_and_number_and_shows_them_once_shipped(client, owner, org, shop):
    order = shop.paid(org, shop.product(org, kind=ProductKind.GOODS))
    client.login_as(owner)
    page = html(client.get(f"/orders/{order.id}"))
    assert [o["value"] for o in page.select("#carrier option")][1:] == list(shipping.CARRIERS)
    bad = client.post_form(f"/orders/{order.id}/shipping", {"status": "shipped", "carrier": "shunfeng", "tracking_number": "YT1234567890123"})
    assert bad.status_code == 422 and "SF 加 12–13 位数字" in html(bad).select_one("#tracking_number-error").get_text()
    assert order.shipping_status == "pending"
    none = client.post_form(f"/orders/{order.id}/shipping", {"status": "shipped", "carrier": "", "tracking_number": "SF1234567890123"})
    assert none.status_code == 422 and html(none).select_one("#carrier-error") is not None
    ok = client.post_form(f"/orders/{order.id}/shipping", {"status": "shipped", "carrier": "shunfeng", "tracking_number": "SF1234567890123"})
    assert ok.status_code == 303
    shown = html(client.get(f"/orders/{order.id}"))
    assert shown.select_one("#orders-carrier").get_text() == "顺丰速运"
    assert shown.select_one("#orders-tracking-number").get_text() == "SF1234567890123"
    assert shown.select_one("#carrier") is None, "the carrier is asked once, when the order is shipped"
