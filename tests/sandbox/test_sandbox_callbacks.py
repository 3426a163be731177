"""Trade callbacks: one signed payment callback per purchase, faults, and the retry schedule."""
import json
import time

import responses


def test_purchase_sends_exactly_one_signed_payment_callback(world, receiver):
    pid = world.online_product(price=9900, out_id="HOTPOT-2")
    order = world.buy(pid, channel="short_video", order_source="ad")
    calls = receiver.trade("payment")
    assert len(calls) == 1
    call = calls[0]
    assert world.verify_platform_signature(world.platform_public_key, call["headers"], call["body"])
    tampered = call["body"].replace(b"9900", b"9901")
    assert not world.verify_platform_signature(world.platform_public_key, call["headers"], tampered)
    assert call["json"]["version"] == "3.0" and call["json"]["type"] == "payment"
    msg = json.loads(call["json"]["msg"])
    assert msg["order_id"] == order["order_id"] and msg["out_order_no"] == order["out_order_no"]
    assert msg["status"] == "SUCCESS" and msg["total_amount"] == 9900 and msg["discount_amount"] == 0
    assert msg["tracking_code"] == "shortvideo_1122_douyin" and msg["channel"] == "short_video"
    assert msg["order_source"] == "ad" and msg["poi_id"] == world.poi_a and msg["delivery_type"] == 0
    assert msg["buyer"]["phone"] == "13900001111" and msg["buyer"]["open_id"]
    assert msg["item_order_list"][0]["product_id"] == pid
    assert msg["item_order_list"][0]["out_product_id"] == "HOTPOT-2"
    assert msg["merchant_uid"] and msg["message_id"]
    log = world.callbacks("payment")
    assert log[0]["status"] == "DELIVERED" and len(log[0]["log"]) == 1


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
    assert len({json.loads(c["json"]["msg"])["message_id"] for c in calls}) == 1
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
    world.trade("refund_create", {"order_id": order["order_id"], "out_refund_no": "R1", "refund_all": True})
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
