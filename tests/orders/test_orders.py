"""Orders: placed before payment, confirmed by the payment callback, completed from order_query;
their vouchers and pages."""

import pytest
import responses
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import signals
from portal.catalog.models import ProductKind
from portal.orders import codes, service
from portal.orders.models import Fulfilment, Order, OrderStatus, PreOrderStatus, ShippingStatus, VoucherKind
from portal.outbox import OutboxMessage, OutboxStatus


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_codes_have_a_check_digit_that_catches_typos_and_swaps():
    code = codes.new_code()
    assert len(code) == 16 and code.isdigit() and codes.check_ok(code)
    for i in range(15):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
        if swapped != code:
            assert not codes.check_ok(swapped)
        changed = code[:i] + str((int(code[i]) + 3) % 10) + code[i + 1:]
        assert not codes.check_ok(changed)
    assert len({codes.new_code() for _ in range(1000)}) == 1000


def test_qr_and_barcode_images_are_svg():
    assert b"<svg" in codes.qr_svg("1234567890123452")
    assert b"<svg" in codes.barcode_svg("1234567890123452")


def test_mask_phone():
    assert service.mask_phone("13812345678") == "138****5678"
    assert service.mask_phone("") == ""


CLIENT_TOKEN = {"data": {"access_token": "clt.t", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}
ORDER_QUERY_URL = "http://douyin.test/api/trade_basic/v1/developer/order_query/"


def _douyin_answers_order_query(mock, data):
    mock.add(responses.POST, "http://douyin.test/oauth/client_token/", json=CLIENT_TOKEN)
    return mock.add(responses.POST, ORDER_QUERY_URL, json={"err_no": 0, "err_msg": "success", "log_id": "1", "data": data})


def test_a_signed_payment_with_only_reference_fields_completes_the_pre_created_order(connected, shop, org, db, queue, clock):
    org.stores[1].douyin_poi_id = "poi-9"
    product = shop.product(org, stores=[org.stores[1]])
    paid = []
    receiver = lambda sender, **kw: paid.append(sender.id)  # noqa: E731
    signals.order_paid.connect(receiver)
    try:
        pre = shop.pre_order(org, product, poi_id="poi-9", quantity=2, tracking_code="shortvideo_1122_douyin", channel="")
        msg = shop.msg(pre, discount_amount=500)
        assert connected.trade_callback("payment", msg).get_json() == {"err_no": 0, "err_tips": "success"}
        with responses.RequestsMock() as mock:
            queried = _douyin_answers_order_query(mock, shop.order_query(pre, msg))
            queue.run()
        assert queried.call_count == 1
    finally:
        signals.order_paid.disconnect(receiver)
    order = db.session.scalar(select(Order))
    db.session.refresh(pre)
    assert paid == [order.id] and pre.status == PreOrderStatus.PAID and pre.order_id == order.id
    assert (order.total_fen, order.discount_fen, order.paid_fen) == (19800, 500, 19300)
    assert order.store_id == org.stores[1].id and order.douyin_poi_id == "poi-9" and order.fulfilment == Fulfilment.IN_STORE
    assert (order.source, order.channel, order.tracking_code) == ("ad", "short_video", "shortvideo_1122_douyin")
    assert order.buyer_phone == "13800001234" and order.buyer_open_id == pre.buyer_open_id and order.paid_at == clock.now()
    assert not order.completed_from_query
    assert len(order.items) == 2 and all(i.product_id == product.id and i.quantity == 1 for i in order.items)
    assert sorted(i.douyin_item_order_id for i in order.items) == sorted(e["item_order_id"] for e in shop.order_query(pre, msg)["item_order_list"])
    assert len(order.vouchers) == 2 and all(codes.check_ok(v.code) and v.kind == VoucherKind.LOCAL for v in order.vouchers)
    assert all((v.valid_until - v.valid_from).days == 90 for v in order.vouchers)
    query = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == service.ORDER_QUERY))
    assert query.status == OutboxStatus.DELIVERED


def test_a_payment_the_portal_never_placed_is_completed_from_order_query(connected, shop, org, db, queue, clock):
    product = shop.product(org)
    msg = {"app_id": connected.app.app_id, "out_order_no": "placed-elsewhere-1", "order_id": "motb73383242802221734767173",
           "status": "SUCCESS", "total_amount": 19800, "discount_amount": 0, "pay_channel": 10, "channel_pay_id": "TP1",
           "user_bill_pay_id": "DTPS1", "merchant_uid": "71223625266663938860", "event_time": int(clock.now().timestamp() * 1000)}
    assert connected.trade_callback("payment", msg).status_code == 200
    data = {"order_id": msg["order_id"], "out_order_no": msg["out_order_no"], "app_id": msg["app_id"], "pay_status": "SUCCESS",
            "total_amount": 19800, "discount_amount": 0, "pay_time": msg["event_time"],
            "item_order_list": [{"item_order_id": f"it-{i}", "sku_id": product.out_id, "item_order_amount": 9900} for i in range(2)]}
    with responses.RequestsMock() as mock:
        _douyin_answers_order_query(mock, {"order_id": msg["order_id"], "out_order_no": msg["out_order_no"], "pay_status": "PROCESS", "total_amount": 19800})
        queue.run()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0, "order_query lags behind: nothing is made yet"
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == service.ORDER_QUERY))
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _douyin_answers_order_query(mock, data)
        from portal import outbox

        outbox.deliver(message.id)
    order = db.session.scalar(select(Order))
    assert order.completed_from_query and order.out_order_no == "placed-elsewhere-1" and order.paid_fen == 19800
    assert [i.douyin_item_order_id for i in order.items] == ["it-0", "it-1"] and all(i.product_id == product.id for i in order.items)
    assert len(order.vouchers) == 2 and order.store_id is None and order.buyer_phone == "" and order.tracking_code == ""
    from portal.ledger.service import find_ledger_order

    assert find_ledger_order(order.id).paid_fen == 19800


def test_replayed_payment_callbacks_make_one_order_and_one_ledger_credit(connected, shop, org, db, queue, clock):
    from portal.ledger.models import LedgerOrder, LedgerTransaction

    pre = shop.pre_order(org, shop.product(org))
    msg = shop.msg(pre)
    for _ in range(3):
        assert connected.trade_callback("payment", msg).get_json()["err_no"] == 0
    with responses.RequestsMock() as mock:
        _douyin_answers_order_query(mock, shop.order_query(pre, msg))
        queue.run()
    order = db.session.scalar(select(Order))
    from portal.douyin.events import WebhookEvent
    from portal.douyin import webhooks

    for event in db.session.scalars(select(WebhookEvent)):
        webhooks.replay(event)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _douyin_answers_order_query(mock, shop.order_query(pre, msg))
        queue.run()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerOrder)) == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "payment")) == 1
    assert len(order.vouchers) == 1


def test_a_payment_whose_amount_differs_from_the_pre_order_is_refused(db, org, shop, clock):
    pre = shop.pre_order(org, shop.product(org))
    with pytest.raises(service.OrderError):
        service.confirm_payment(org.id, shop.msg(pre, total_amount=1), now=clock.now())
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_cancelled_payment_creates_nothing_and_closes_the_pre_order(db, org, shop, clock):
    pre = shop.pre_order(org, shop.product(org))
    assert service.confirm_payment(org.id, shop.msg(pre, status="CANCEL"), now=clock.now()) is None
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0 and pre.status == PreOrderStatus.CANCELLED


def test_a_pre_order_of_another_organization_is_not_confirmed(db, org, accounts, shop, clock):
    other = accounts.org("别家")
    pre = shop.pre_order(other, shop.product(other))
    assert service.confirm_payment(org.id, shop.msg(pre), now=clock.now()) is None
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0 and pre.status == PreOrderStatus.PENDING


def test_the_channel_comes_from_the_tracking_code():
    assert service.channel_of("shortvideo_1122_douyin", "live") == "short_video"
    assert service.channel_of("live_0101_douyin") == "live"
    assert service.channel_of("", "search") == "search" and service.channel_of("x", "nonsense") == "other"


def test_a_count_card_gets_one_voucher_per_use_and_douyin_orders_get_certificate_vouchers(db, org, shop, clock):
    card = shop.product(org, kind=ProductKind.COUNT_CARD, uses=5)
    assert len(shop.paid(org, card).vouchers) == 5
    douyin = shop.paid(org, shop.product(org), delivery_type=1)
    assert [v.kind for v in douyin.vouchers] == [VoucherKind.DOUYIN]


def test_courier_orders_have_no_vouchers_and_complete_when_delivered(db, org, owner, shop, clock):
    order = shop.paid(org, shop.product(org, kind=ProductKind.GOODS))
    assert order.fulfilment == Fulfilment.COURIER and order.vouchers == []
    assert order.shipping_status == ShippingStatus.PENDING
    with pytest.raises(service.OrderError):
        service.update_shipping(order, ShippingStatus.DELIVERED, actor=owner, now=clock.now())
    service.update_shipping(order, ShippingStatus.SHIPPED, actor=owner, now=clock.now(), carrier="shunfeng", tracking_number="SF1234567890123")
    service.update_shipping(order, ShippingStatus.DELIVERED, actor=owner, now=clock.now())
    assert order.status == OrderStatus.COMPLETED and order.completed_at == clock.now()


def test_order_pages_mask_the_phone_and_show_vouchers(client, owner, org, shop, clock):
    order = shop.paid(org, shop.product(org, name="烤鱼"), phone="13987654321")
    client.login_as(owner)
    listing = html(client.get("/orders/?source=ad&channel=short_video"))
    row = listing.select_one(f"#orders-row-{order.id}")
    assert "139****4321" in row.get_text() and "13987654321" not in listing.get_text()
    assert html(client.get("/orders/?channel=live")).select_one(f"#orders-row-{order.id}") is None
    assert html(client.get(f"/orders/?q={order.vouchers[0].code}")).select_one(f"#orders-row-{order.id}") is not None
    detail = html(client.get(f"/orders/{order.id}"))
    assert detail.select_one("#orders-buyer").get_text() == "139****4321"
    assert detail.select_one(f"#orders-voucher-{order.vouchers[0].id}") is not None
    qr = client.get(f"/orders/vouchers/{order.vouchers[0].id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"


def test_the_order_page_shows_a_count_card_as_the_customer_sees_it(client, owner, clerk, org, shop, clock):
    from portal.catalog.models import ProductKind
    from portal.redemption import service as redemption

    order = shop.paid(org, shop.product(org, kind=ProductKind.COUNT_CARD, uses=3))
    first = min(order.vouchers, key=lambda v: v.id)
    redemption.redeem(org.stores[0], first.code, nonce="card-page", actor=clerk, now=clock.now())
    client.login_as(owner)
    detail = html(client.get(f"/orders/{order.id}"))
    shown = detail.select("#orders-vouchers [id^=orders-voucher-]")
    assert [node["id"] for node in shown] == [f"orders-voucher-{first.id}"]
    uses = detail.select_one(".orders-card-uses")
    assert (uses["data-left"], uses["data-total"]) == ("2", "3")


def test_the_order_page_tells_each_counter_attempt_in_words(client, owner, clerk, org, shop, clock):
    from portal.redemption import service as redemption

    product = shop.product(org, stores=[org.stores[0]])
    order = shop.paid(org, product)
    code = order.vouchers[0].code
    refused = redemption.redeem(org.stores[1], code, nonce="elsewhere", actor=clerk, now=clock.now()).attempt
    redeemed = redemption.redeem(org.stores[0], code, nonce="here", actor=clerk, now=clock.now()).attempt
    client.login_as(owner)
    history = html(client.get(f"/orders/{order.id}"))
    assert "失败 这张券不能在本门店使用。" in history.select_one(f"#orders-attempt-{refused.id}").get_text(" ", strip=True)
    assert "核销成功" in history.select_one(f"#orders-attempt-{redeemed.id}").get_text()
    assert not {"wrong_store", "rejected", "success"} & set(history.select_one("#orders-history").get_text(" ").split())


def test_order_pages_guard_tenants_and_roles(client, owner, clerk, accounts, shop, org):
    other = accounts.org("别家")
    theirs = shop.paid(other, shop.product(other))
    assert "/login" in client.get("/orders/").headers["Location"]
    client.login_as(clerk)
    assert client.get("/orders/").status_code == 403
    client.login_as(owner)
    assert client.get(f"/orders/{theirs.id}").status_code == 404
    assert client.get(f"/orders/vouchers/{theirs.vouchers[0].id}/qr.svg").status_code == 404


def test_shipping_form_422_then_303(client, owner, org, shop):
    order = shop.paid(org, shop.product(org, kind=ProductKind.GOODS))
    client.login_as(owner)
    bad = client.post_form(f"/orders/{order.id}/shipping", {"status": "delivered"})
    assert bad.status_code == 422 and "依次更新" in html(bad).select_one("#status-error").get_text()
    assert client.post_form(f"/orders/{order.id}/shipping", {"status": "shipped", "carrier": "zhongtong", "tracking_number": "75312345678901"}).status_code == 303
    assert order.shipping_status == "shipped"
