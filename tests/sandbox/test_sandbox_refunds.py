"""Refunds: user refunds with merchant audit (pre_create_refund, 72 h auto-agree) and refund_create."""
import json


def test_user_refund_with_audit_auto_agrees_after_72_hours(world, receiver):
    order = world.buy(world.online_product(delivery_type=1))
    r = world.client.post("/sandbox/control/refunds", json={"order_id": order["order_id"]}).get_json()
    pre = receiver.trade("pre_create_refund")
    assert len(pre) == 1
    msg = json.loads(pre[0]["json"]["msg"])
    assert msg["refund_id"] == r["refund_id"] and msg["need_refund_audit"] == 1
    assert world.verify_platform_signature(world.platform_public_key, pre[0]["headers"], pre[0]["body"])
    listed = world.trade("refund_query", {"order_id": order["order_id"]}).get_json()["data"]["refund_list"]
    assert listed[0]["out_refund_no"] == "M-" + r["refund_id"]  # taken from the merchant's reply
    assert listed[0]["refund_status"] == "PROCESSING"
    world.control(advance_seconds=72 * 3600 - 5)
    assert receiver.trade("refund") == []
    world.control(advance_seconds=10)
    refund = json.loads(receiver.trade("refund")[0]["json"]["msg"])
    assert refund["status"] == "SUCCESS" and refund["refund_type"] == 1
    world.token = world.fetch_token()  # 72 h later the old token has long expired
    got = world.get("/goodlife/v1/fulfilment/certificate/get/", order_id=order["order_id"]).get_json()["data"]
    assert got["certificate"]["status"] == 3


def test_merchant_can_deny_a_user_refund(world, receiver):
    order = world.buy(world.online_product())
    r = world.client.post("/sandbox/control/refunds", json={"order_id": order["order_id"]}).get_json()
    out = world.trade("refund_audit_callback", {"refund_id": r["refund_id"], "refund_audit_status": 2,
                                                "deny_message": "已预约到店"}).get_json()
    assert out["err_no"] == 0
    refund = json.loads(receiver.trade("refund")[0]["json"]["msg"])
    assert refund["status"] == "FAIL"
    again = world.trade("refund_audit_callback", {"refund_id": r["refund_id"], "refund_audit_status": 1}).get_json()
    assert again["err_no"] == 10000


def test_refund_create_by_merchant_succeeds_and_is_idempotent(world, receiver):
    order = world.buy(world.online_product(price=5000), quantity=2)
    item = order["items"][0]["item_order_id"]
    body = {"order_id": order["order_id"], "out_refund_no": "R-1", "refund_total_amount": 5000,
            "item_order_detail": [{"item_order_id": item, "refund_amount": 5000}],
            "refund_reason": [{"code": 102, "text": "商家服务原因"}]}
    first = world.trade("refund_create", body).get_json()
    second = world.trade("refund_create", body).get_json()
    assert first["err_no"] == 0 and first["data"]["refund_id"] == second["data"]["refund_id"]
    assert len(receiver.trade("refund")) == 1
    msg = json.loads(receiver.trade("refund")[0]["json"]["msg"])
    assert msg["out_refund_no"] == "R-1" and msg["refund_type"] == 2 and msg["refund_total_amount"] == 5000


def test_verified_voucher_cannot_be_refunded(world, receiver):
    order = world.buy(world.online_product(delivery_type=1))
    prep = world.get("/goodlife/v1/fulfilment/certificate/prepare/", encrypted_data=order["encrypted_data"]).get_json()["data"]
    world.post("/goodlife/v1/fulfilment/certificate/verify/", {"verify_token": prep["verify_token"], "poi_id": world.poi_a,
                                                              "encrypted_codes": [prep["certificates"][0]["encrypted_code"]]})
    r = world.trade("refund_create", {"order_id": order["order_id"], "out_refund_no": "R", "refund_all": True,
                                      "refund_total_amount": order["total_amount"],
                                      "refund_reason": [{"code": 101, "text": "不想要了"}]}).get_json()
    assert r["err_no"] == 10000 and "券" in r["err_msg"]
