"""Fault injection, the movable clock, setup helpers, pages and sandbox-only endpoints."""


def test_429_burst_hits_the_next_n_calls_only(world):
    world.control(burst_429=2)
    codes = [world.get("/goodlife/v1/shop/poi/query/", account_id=world.account_id).status_code for _ in range(3)]
    assert codes == [429, 429, 200]


def test_error_rate_one_fails_every_call_with_the_family_envelope(world):
    world.control(error_rate=1, error_mode="code")
    r = world.get("/goodlife/v1/shop/poi/query/", account_id=world.account_id)
    assert r.status_code == 200 and r.get_json()["data"]["error_code"] == 2119002
    assert world.trade("tag_query", {}).get_json()["err_no"] == 13000
    world.control(error_mode="http500")
    assert world.trade("tag_query", {}).status_code == 500
    world.control(error_rate=0)
    assert world.trade("tag_query", {}).get_json()["err_no"] == 0


def test_clock_moves_and_resets(client):
    before = client.get("/sandbox/control").get_json()["now_ms"]
    after = client.post("/sandbox/control", json={"advance_seconds": 86400}).get_json()
    assert after["now_ms"] - before >= 86400 * 1000
    assert after["settings"]["clock_offset_seconds"] == 86400
    assert client.post("/sandbox/control", json={"bogus": 1}).status_code == 400
    assert client.post("/sandbox/control", json={"error_rate": 2}).status_code == 400


def test_reset_wipes_state(world):
    world.client.post("/sandbox/control/reset")
    assert world.client.get(f"/sandbox/control/apps/{world.appid}").status_code == 400


def test_control_is_local_only(client):
    r = client.get("/sandbox/control", environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert r.status_code == 403


def test_setup_returns_secret_and_platform_key(world):
    app = world.client.get(f"/sandbox/control/apps/{world.appid}").get_json()
    assert world.appid.startswith("tt") and len(world.appid) == 18
    assert app["platform_public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert app["key_version"] == "1" and app["onboarding_status"] == "APPROVED"
    info = world.client.get("/api/apps/v1/app/info/", query_string={"appid": world.appid}).get_json()["data"]
    assert info["appid"] == world.appid and info["status"] == "DEVELOPING"
    unknown = world.client.get("/api/apps/v1/app/info/", query_string={"appid": "tt0"}).get_json()["data"]
    assert unknown["error_code"] == 2100005


def test_package_audit_and_onboarding(world):
    sub = world.post("/api/apps/v1/package/audit/submit/", {"version": "1.0.0", "desc": "首版"}).get_json()["data"]
    q = world.get("/api/apps/v1/package/audit/query/", audit_id=sub["audit_id"]).get_json()["data"]
    assert q["status"] == "AUDITING"
    r = world.client.post(f"/sandbox/control/audits/{sub['audit_id']}/review", json={"approve": False, "reason": "缺少隐私协议"})
    assert r.get_json()["status"] == "REJECT"
    q = world.get("/api/apps/v1/package/audit/query/", audit_id=sub["audit_id"]).get_json()["data"]
    assert q["reason"] == "缺少隐私协议"
    check = world.post("/api/apps/v1/package/preview_check/", {}).get_json()["data"]
    assert check["ok"] is True and check["problems"] == []
    world.client.post(f"/sandbox/control/apps/{world.appid}", json={"onboarding_status": "REJECTED", "onboarding_reason": "营业执照模糊"})
    ob = world.get("/api/apps/v1/payment/onboarding/query/").get_json()["data"]
    assert ob["status"] == "REJECTED" and ob["reason"] == "营业执照模糊"


def test_bookings_and_messages(world, receiver):
    order = world.buy(world.online_product())
    world.client.post(f"/consumer/order/{order['order_id']}/book", data={"date": "2030-01-02", "slot": "18:00-20:00"})
    books = world.client.get("/sandbox/bookings", query_string={"appid": world.appid}).get_json()
    assert books["sandbox_only"] is True
    assert [(b["order_id"], b["slot"]) for b in books["bookings"]] == [(order["order_id"], "18:00-20:00")]
    msg = world.post("/api/apps/v1/message/send/", {"order_id": order["order_id"], "open_id": order["open_id"],
                                                    "content": "您的券码已发放"}).get_json()["data"]
    assert msg["error_code"] == 0 and msg["msg_id"]
    assert "您的券码已发放" in world.client.get(f"/consumer/order/{order['order_id']}").get_data(as_text=True)


def test_console_and_consumer_pages_render(world, receiver):
    pid = world.save_product(name="待审核套餐")
    page = world.client.get("/console/products").get_data(as_text=True)
    assert "待审核套餐" in page and pid in page
    r = world.client.post(f"/console/products/{pid}", data={"decision": "approve"})
    assert r.status_code == 303
    assert "待审核套餐" in world.client.get(f"/consumer/poi/{world.poi_a}").get_data(as_text=True)
    receiver.serve_merchant(world)
    r = world.client.post("/consumer/buy", data={"product_id": pid, "poi_id": world.poi_a, "quantity": "1",
                                                 "channel": "live", "tracking_code": "live_1", "order_source": "normal",
                                                 "phone": "13700000000", "pay_channel": "10", "action": "pay"})
    assert r.status_code == 303 and "/consumer/order/" in r.headers["Location"]
    assert len(receiver.trade("payment")) == 1
    assert receiver.placed[0]["tracking_code"] == "live_1" and receiver.placed[0]["phone"] == "13700000000"
    for url in ("/console/", f"/console/apps/{world.appid}", "/console/orders", "/console/callbacks",
                "/console/faults", "/console/settlements", "/console/withdrawals", "/console/refunds",
                "/console/messages", "/console/accounts", "/consumer/", "/consumer/orders?phone=13700000000"):
        assert world.client.get(url).status_code == 200, url
    assert world.platform_public_key.splitlines()[1] in world.client.get(f"/console/apps/{world.appid}").get_data(as_text=True)
