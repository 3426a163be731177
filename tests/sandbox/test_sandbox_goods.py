"""Courier goods (product_type 2) in the sandbox: no codes, no booking; shipped and delivered
through trade_basic fulfill_push_status, and settled once delivered."""

from bs4 import BeautifulSoup

PUSH = "/api/trade_basic/v1/developer/fulfill_push_status"


def _push(world, order, to_status, items=None):
    return world.post(PUSH, {"order_id": order["order_id"], "to_status": to_status,
                             "item_order_id_list": items or [i["item_order_id"] for i in order["items"]]}).get_json()


def _page(world, order):
    return BeautifulSoup(world.client.get(f"/consumer/order/{order['order_id']}").get_data(as_text=True), "html.parser")


def test_a_goods_order_shows_shipping_not_codes_or_a_booking_form(world):
    order = world.buy(world.online_product(price=3900, product_type=2))
    page = _page(world, order)
    assert page.select_one("#consumer-vouchers") is None
    assert "商家尚未发放券码" not in page.get_text() and "预约到店" not in page.get_text()
    assert page.select_one("#consumer-shipping-status").get_text() == "待发货"
    assert _push(world, order, "fulfilling")["err_no"] == 0
    assert _page(world, order).select_one("#consumer-shipping-status").get_text() == "已发货"


def test_a_voucher_order_still_shows_its_codes_and_the_booking_form(world):
    order = world.buy(world.online_product(price=3900))
    page = _page(world, order)
    assert page.select_one("#consumer-vouchers") is not None and "预约到店" in page.get_text()
    assert _push(world, order, "fulfilling")["err_no"] != 0, "codes are redeemed, not shipped"


def test_delivery_completes_the_goods_order_so_it_can_be_settled_and_never_goes_back(world):
    order = world.buy(world.online_product(price=3900, product_type=2), quantity=2)
    settle = {"out_order_no": order["out_order_no"], "out_settle_no": "S-goods", "settle_desc": "签收结算"}
    assert world.trade("settle_create", settle, sign=False).get_json()["err_no"] == 23107
    assert _push(world, order, "fulfilling")["err_no"] == 0
    assert _push(world, order, "fulfilled")["err_no"] == 0
    assert _push(world, order, "fulfilled")["err_no"] == 0, "the state it is in: nothing changes"
    back = _push(world, order, "fulfilling")
    assert back["err_no"] != 0 and "回退" in back["err_msg"]
    assert _page(world, order).select_one("#consumer-shipping-status").get_text() == "已签收"
    assert world.trade("settle_create", settle, sign=False).get_json()["err_no"] == 0


def test_an_unknown_state_or_an_item_of_another_order_is_refused(world):
    order = world.buy(world.online_product(price=3900, product_type=2))
    other = world.buy(world.online_product(price=3900, product_type=2))
    assert "to_status" in _push(world, order, "shipped")["err_msg"]
    assert _push(world, order, "fulfilling", items=[other["items"][0]["item_order_id"]])["err_no"] != 0
