"""Trade v2 fulfilment of third-party codes: push_delivery reports item orders used, verify_cancel
undoes one (within the cancel window), settle_create then sees the used items."""

PUSH = "/api/apps/trade/v2/fulfillment/push_delivery"
CANCEL = "/api/apps/trade/v2/fulfillment/verify_cancel"


def test_push_delivery_marks_the_listed_item_orders_used_and_is_idempotent(world, receiver):
    order = world.buy(world.online_product(delivery_type=0), quantity=2)
    first_item = order["items"][0]["item_order_id"]
    body = {"out_order_no": order["out_order_no"], "item_order_list": [{"item_order_id": first_item}]}

    first = world.post(PUSH, body).get_json()["data"]
    again = world.post(PUSH, body).get_json()["data"]

    assert first["error_code"] == 0
    assert [r["item_order_id"] for r in first["verify_results"]] == [first_item]
    assert again["verify_results"] == first["verify_results"]
    items = world.client.get(f"/sandbox/control/orders/{order['order_id']}").get_json()["items"]
    assert [i["status"] for i in items].count(2) == 1


def test_push_delivery_refuses_an_unknown_item_and_a_douyin_certificate_order(world, receiver):
    mine = world.buy(world.online_product(delivery_type=0))
    bad_item = world.post(PUSH, {"out_order_no": mine["out_order_no"], "item_order_list": [{"item_order_id": "nope"}]}).get_json()
    assert bad_item["data"]["error_code"] == 10000
    douyin = world.buy(world.online_product(delivery_type=1))
    refused = world.post(PUSH, {"out_order_no": douyin["out_order_no"], "use_all": True}).get_json()
    assert refused["data"]["error_code"] == 10000


def test_verify_cancel_undoes_a_pushed_delivery(world, receiver):
    order = world.buy(world.online_product(delivery_type=0))
    result = world.post(PUSH, {"out_order_no": order["out_order_no"], "use_all": True}).get_json()["data"]["verify_results"][0]

    undone = world.post(CANCEL, {"order_id": order["order_id"], "certificate_id": result["certificate_id"],
                                 "verify_id": result["verify_id"]}).get_json()

    assert undone["data"]["error_code"] == 0
    items = world.client.get(f"/sandbox/control/orders/{order['order_id']}").get_json()["items"]
    assert items[0]["status"] == 1
