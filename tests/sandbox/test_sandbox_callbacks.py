"""Trade callbacks: one signed payment callback per purchase, faults, and the retry schedule."""
import json
import time

import responses


PAYMENT_FIELDS = {"app_id", "out_order_no", "order_id", "status", "total_amount", "discount_amount", "pay_channel",
                  "channel_pay_id", "merchant_uid", "message", "event_time", "user_bill_pay_id", "currency"}


def test_purchase_sends_exactly_one_signed_payment_callback_with_the_reference_fields_only(world, receiver):
    pid = world.online_product(price=9900, out_id="HOTPOT-2")
    order = world.buy(pid, channel="short_video", order_source="ad", out_order_no="MP-1")
    calls = receiver.trade("payment")
    assert len(calls) == 1
    call = calls[0]
    assert world.verify_platform_signature(world.platform_public_key, call["headers"], call["body"])
    tampered = call["body"].replace(b"9900", b"9901")
    assert not world.verify_platform_signature(world.platform_public_key, call["headers"], tampered)
    assert call["json"]["version"] == "3.0" and call["json"]["type"] == "payment"
    msg = json.loads(call["json"]["msg"])
    assert set(msg) <= PAYMENT_FIELDS
    assert msg["order_id"] == order["order_id"] and msg["out_order_no"] == "MP-1" == order["out_order_no"]
    assert msg["status"] == "SUCCESS" and msg["total_amount"] == 9900 and msg["discount_amount"] == 0
    assert msg["app_id"] == world.appid and msg["merchant_uid"] and msg["channel_pay_id"] and msg["user_bill_pay_id"]
    log = world.callbacks("payment")
    assert log[0]["status"] == "DELIVERED" and len(log[0]["log"]) == 1


def test_request_order_refuses_a_bad_signature_and_a_reused_out_order_no(world, receiver):
    pid = world.online_product(price=9900, out_id="HOTPOT-3")
    data, authorization = world.request_order_data(pid)
    forged = data.replace("9900", "1")
    r = world.client.post("/sandbox/control/orders", json={"data": forged, "byteAuthorization": authorization})
    assert r.status_code != 201 and receiver.trade("payment") == []
    assert world.client.post("/sandbox/control/orders", json={"data": data, "byteAuthorization": authorization}).status_code == 201
    again = world.client.post("/sandbox/control/orders", json={"data": data, "byteAuthorization": authorization})
    assert again.status_code != 201


def test_order_query_answers_the_item_orders_with_the_sku_the_merchant_placed(world, receiver):
    pid = world.online_product(price=5000, out_id="HOTPOT-4")
    order = world.buy(pid, quantity=2)
    reply = world.trade("order_query", {"order_id": order["order_id"]}, sign=False).get_json()
    assert reply["err_no"] == 0, reply
    items = reply["data"]["item_order_list"]
    assert [(i["sku_id"], i["item_order_amount"]) for i in items] == [("HOTPOT-4", 5000)] * 2
    assert reply["data"]["out_order_no"] == order["out_order_no"] and reply["data"]["pay_status"] == "SUCCESS"


def test_abandoned_payment_sends_cancel(world, receiver):
    pid = world.online_product()
    world.buy(pid, pay=False)
    msg = json.loads(receiver.trade("payment")[0]["json"]["msg"])
    assert msg["status"] == "CANCEL" and msg["message"] == "USER_CANCEL"


def test_duplicate_setting_sends_the_same_event_n_times(world, receiver):
    world.control(duplicate=3)
    world.buy(world.online_product())
    calls = receiver.trade("payment")
    assert len(calls) == 3
    assert len({c["body"] for c in calls}) == 1
    assert len(world.callbacks("payment")) == 1


def test_dropped_callback_is_retried_later(world, receiver):
    pid = world.online_product()
    world.control(drop_rate=1)
    world.buy(pid)
    assert receiver.trade("payment") == []
    log = world.callbacks("payment")[0]
    assert log["status"] == "PENDING" and log["log"][0]["outcome"] == "dropped"
    world.control(drop_rate=0, advance_seconds=15)
    world.client.post("/sandbox/control/deliver")
    assert len(receiver.trade("payment")) == 1
    assert world.callbacks("payment")[0]["status"] == "DELIVERED"


def test_payment_retry_schedule_follows_the_doc(world, receiver):
    pid = world.online_product()
    receiver.replies = [(500, {"err_no": 1})] * 4 + [(200, {"err_no": 7, "err_tips": "busy"})]
    world.buy(pid)
    waits = [15, 30, 60, 120, 240]
    for n, wait in enumerate(waits, start=1):
        assert len(receiver.trade("payment")) == n
        world.control(advance_seconds=wait - 1)
        world.client.post("/sandbox/control/deliver")
        assert len(receiver.trade("payment")) == n, f"retry {n} came early"
        world.control(advance_seconds=1)
        world.client.post("/sandbox/control/deliver")
    # 5 failures (4 x HTTP 500, 1 x err_no != 0), the 6th attempt succeeds
    assert len(receiver.trade("payment")) == 6
    log = world.callbacks("payment")[0]
    assert log["status"] == "DELIVERED"
    assert [a["outcome"] for a in log["log"]] == ["fail"] * 5 + ["ok"]


def test_refund_retry_schedule_starts_10s_10s_30s(world, receiver):
    order = world.buy(world.online_product())
    receiver.replies = [(503, {})] * 3
    world.trade("refund_create", {"order_id": order["order_id"], "out_refund_no": "R1", "refund_all": True,
                                  "refund_total_amount": order["total_amount"], "refund_reason": [{"code": 101, "text": "不想要了"}]})
    for wait in (10, 10, 30):
        world.control(advance_seconds=wait - 1)
        world.client.post("/sandbox/control/deliver")
        before = len(receiver.trade("refund"))
        world.control(advance_seconds=1)
        world.client.post("/sandbox/control/deliver")
        assert len(receiver.trade("refund")) == before + 1
    assert world.callbacks("refund")[0]["status"] == "DELIVERED"


def test_background_thread_retries_with_compressed_time(kit):
    app = kit.make_app(CALLBACK_DISPATCHER=True, DISPATCH_INTERVAL=0.02, CALLBACK_SYNC=False,
                   CALLBACK_TIME_SCALE=0.001)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            receiver = kit.Receiver(mock)
            receiver.replies = [(500, {})] * 3
            world = kit.World(app.test_client())
            world.buy(world.online_product())
            deadline = time.time() + 10
            while time.time() < deadline and len(receiver.trade("payment")) < 4:
                time.sleep(0.05)
            time.sleep(0.1)
            assert len(receiver.trade("payment")) == 4  # 3 failures, then success, then nothing more
            log = world.callbacks("payment")[0]
            assert log["status"] == "DELIVERED" and len(log["log"]) == 4
            gaps = [b["at_ms"] - a["at_ms"] for a, b in zip(log["log"], log["log"][1:])]
            assert gaps[0] >= 15 and gaps[1] >= 30 and gaps[2] >= 60  # 15 s, 30 s, 60 s scaled by 0.001
    finally:
        app.extensions["sandbox"].stop()


def test_callback_without_url_is_logged_and_retried(world, receiver, kit):
    world.client.post(f"/sandbox/control/apps/{world.appid}", json={"trade_callback_url": ""})
    world.buy(world.online_product())
    log = world.callbacks("payment")[0]
    assert log["status"] == "PENDING" and log["log"][0]["error"] == "未配置回调地址"
    world.client.post(f"/sandbox/control/apps/{world.appid}", json={"trade_callback_url": kit.CALLBACK_URL})
    world.control(advance_seconds=15)
    world.client.post("/sandbox/control/deliver")
    assert len(receiver.trade("payment")) == 1
