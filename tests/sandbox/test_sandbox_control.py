"""Fault injection, the movable clock, setup helpers, pages and sandbox-only endpoints."""

import json

import responses


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


def test_injected_errors_answer_in_the_endpoints_own_envelope_whatever_its_path(world):
    # /api/apps/v1/ paths answer with err_no like trade_basic, though their prefix says nothing of it.
    world.control(error_rate=1, error_mode="code")
    body = world.get("/api/apps/v1/capacity/query_aweme_relation_list/", type="brand").get_json()
    assert body.get("err_no") == 13000
    world.control(error_rate=0)


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
    _authorize(world)
    info = world.get("/api/apps/v2/basic_info/get_info/").get_json()["data"]
    assert info["app_id"] == world.appid and info["app_name"] == app["name"] and app["status"] == "DEVELOPING"


AUDIT = "/api/apps/v1/package_version/audit/"
VERSIONS = "/api/apps/v1/package_version/versions/"
RELEASE = "/api/apps/v1/package_version/release/"


def _authorize(world):
    """The app authorizes the sandbox's third-party platform; `world.token` becomes its authorizer token."""
    component = world.client.get("/sandbox/control/component").get_json()
    ticket = world.client.post("/sandbox/control/component/push_ticket").get_json()["ticket"]
    cmpt = world.client.get("/openapi/v2/auth/token", query_string={
        "component_appid": component["component_appid"], "component_appsecret": component["component_appsecret"],
        "component_ticket": ticket}).get_json()["component_access_token"]
    code = world.client.post("/sandbox/control/component/authorize", json={"appid": world.appid}).get_json()["authorization_code"]
    reply = world.client.get("/api/tpapp/v2/auth/get_auth_token", headers={"access-token": cmpt}, query_string={
        "grant_type": "app_to_tp_authorization_code", "authorization_code": code}).get_json()
    world.token = reply["data"]["authorizer_access_token"]
    return reply["data"]


def test_version_apis_refuse_the_apps_own_token_and_an_unauthorized_one(world):
    client_token = world.token
    reply = world.get(VERSIONS).get_json()
    assert reply["err_no"] == 28001003 and "authorizer_access_token" in reply["err_msg"]
    _authorize(world)
    assert world.get(VERSIONS).get_json()["err_no"] == 0
    assert world.get(VERSIONS, token=client_token).get_json()["err_no"] == 28001003
    world.client.post("/sandbox/control/component/unauthorize", json={"appid": world.appid})
    assert world.get(VERSIONS).get_json()["err_no"] == 28001003


def _audit_state(world):
    return world.get(VERSIONS).get_json()["data"].get("audit")


def test_version_audit_rejected_with_the_operators_reason_then_resubmitted_approved_and_released(world):
    _authorize(world)
    world.control(package_auto_approve_seconds=-1)
    assert world.post(AUDIT, {"host_names": ["douyin"], "audit_note": "首版"}).get_json()["err_no"] == 0
    assert _audit_state(world)["status"] == 0 and world.get(VERSIONS).get_json()["data"]["latest"]["has_audit"] == 1
    assert world.post(AUDIT, {"host_names": ["douyin"]}).get_json()["err_msg"] == "已有版本正在审核中"
    r = world.client.post(f"/sandbox/control/apps/{world.appid}/package_audit/review", json={"approve": False, "reason": "缺少隐私协议"})
    assert r.get_json()["status"] == "REJECT"
    assert (_audit_state(world)["status"], _audit_state(world)["reason"]) == (2, "缺少隐私协议")
    assert world.post(RELEASE, {}).get_json()["err_msg"] == "没有审核通过的版本可发布"
    # The same test version again needs audit_way 1 (resubmit the version that failed).
    assert world.post(AUDIT, {"host_names": ["douyin"]}).get_json()["err_no"] != 0
    assert world.post(AUDIT, {"host_names": ["douyin"], "audit_way": 1}).get_json()["err_no"] == 0
    world.client.post(f"/sandbox/control/apps/{world.appid}/package_audit/review", json={"approve": True})
    assert (_audit_state(world)["status"], _audit_state(world)["has_publish"]) == (1, 0)
    assert "current" not in world.get(VERSIONS).get_json()["data"]
    assert world.post(RELEASE, {}).get_json()["err_no"] == 0
    data = world.get(VERSIONS).get_json()["data"]
    assert data["audit"]["has_publish"] == 1 and data["current"]["version"] == data["audit"]["version"] == "1.0.0"
    assert world.post(RELEASE, {}).get_json()["err_msg"] == "该版本已发布"
    assert world.client.get(f"/sandbox/control/apps/{world.appid}").get_json()["status"] == "ONLINE"


def test_version_audit_passes_by_itself_a_sandbox_day_after_submission(world):
    _authorize(world)
    world.control(package_auto_approve_seconds=86400)
    world.post(AUDIT, {"host_names": ["douyin", "toutiao"]})
    world.control(clock_offset_seconds=86399)
    _authorize(world)  # the clock outran the first authorizer token
    assert _audit_state(world)["status"] == 0
    world.control(clock_offset_seconds=86401)
    assert _audit_state(world)["status"] == 1


def test_version_audit_refuses_unknown_hosts(world):
    _authorize(world)
    reply = world.post(AUDIT, {"host_names": ["wechat"]}).get_json()
    assert reply["err_no"] != 0 and "host_names" in reply["err_msg"]
    assert "audit" not in world.get(VERSIONS).get_json()["data"]


def test_payment_onboarding_status(world):
    world.client.post(f"/sandbox/control/apps/{world.appid}", json={"onboarding_status": "REJECTED", "onboarding_reason": "营业执照模糊"})
    uid = world.client.get(f"/sandbox/control/apps/{world.appid}").get_json()["merchant_uid"]
    ob = world.post("/api/apps/ecpay/v3/saas/query_merchant_status/", {"app_id": world.appid, "merchant_id": uid}).get_json()
    assert ob["err_no"] == 0 and ob["data"]["merchant_status_info"]["hz"]["status"] == "FAIL"
    assert ob["data"]["merchant_status_info"]["hz"]["reject_reason"] == "营业执照模糊"
    other = world.post("/api/apps/ecpay/v3/saas/query_merchant_status/", {"merchant_id": "7000000000"}).get_json()
    assert other["err_no"] != 0 and other["err_msg"] == "商户号不存在"


def _serve_bookings(world, receiver, order, *, refuse_with=None):
    """The merchant's back end: create the booking on Douyin, then answer it."""
    def book(request):
        wish = json.loads(request.body)
        assert wish["out_order_no"] == order["out_order_no"]
        made = world.post("/api/apps/trade/v2/book/create_book", {
            "order_id": order["order_id"], "out_book_no": "BK-" + wish["day"], "open_id": wish["open_id"],
            "item_book_info_list": [{"poi_id": world.poi_a, "book_start_time": 1893477600000, "book_end_time": 1893484800000}]}).get_json()
        book_id = made["data"]["book_id"]
        world.post("/api/apps/trade/v2/book/book_result_callback",
                   {"book_id": book_id, "result": 2 if refuse_with else 1, "msg": refuse_with or ""})
        receiver.booked.append(wish)
        reply = {"book_id": book_id, "status": "refused" if refuse_with else "confirmed", "reason": refuse_with or ""}
        return 201, {"Content-Type": "application/json"}, json.dumps(reply)
    receiver.booked = []
    receiver.mock.add_callback(responses.POST, "http://merchant.test/mp/tok/bookings", callback=book)


def test_a_consumer_booking_goes_through_the_merchant_back_end_to_create_book(world, receiver):
    order = world.buy(world.online_product())
    _serve_bookings(world, receiver, order)
    page = world.client.post(f"/consumer/order/{order['order_id']}/book", data={"date": "2030-01-02", "slot": "18:00-20:00"},
                             follow_redirects=True).get_data(as_text=True)
    assert receiver.booked == [{"open_id": order["open_id"], "out_order_no": order["out_order_no"], "day": "2030-01-02",
                                "slot": "18:00-20:00", "note": ""}]
    assert "预约成功" in page and "预约已提交，商家已确认" in page
    assert "预约成功" in world.client.get("/console/orders").get_data(as_text=True)


def test_a_refused_booking_shows_the_merchants_reason(world, receiver):
    order = world.buy(world.online_product())
    _serve_bookings(world, receiver, order, refuse_with="18:00-20:00 已约满")
    page = world.client.post(f"/consumer/order/{order['order_id']}/book", data={"date": "2030-01-02", "slot": "18:00-20:00"},
                             follow_redirects=True).get_data(as_text=True)
    assert "预约失败" in page and "18:00-20:00 已约满" in page


def test_create_book_refuses_another_buyer_and_answers_a_repeat_with_the_same_booking(world, receiver):
    order = world.buy(world.online_product())
    body = {"order_id": order["order_id"], "out_book_no": "BK1", "open_id": order["open_id"],
            "item_book_info_list": [{"poi_id": world.poi_a, "book_start_time": 1000, "book_end_time": 2000}]}
    first = world.post("/api/apps/trade/v2/book/create_book", body).get_json()["data"]
    assert world.post("/api/apps/trade/v2/book/create_book", body).get_json()["data"]["book_id"] == first["book_id"]
    stranger = world.post("/api/apps/trade/v2/book/create_book", dict(body, out_book_no="BK2", open_id="sbx_x")).get_json()["data"]
    assert stranger["error_code"] == 10000 and "open_id" in stranger["description"]
    world.post("/api/apps/trade/v2/book/book_result_callback", {"book_id": first["book_id"], "result": 1})
    again = world.post("/api/apps/trade/v2/book/book_result_callback", {"book_id": first["book_id"], "result": 2, "msg": "x"}).get_json()
    assert again["data"]["error_code"] == 10000



def test_subscription_message_reaches_the_buyer_and_only_a_buyer(world, receiver):
    order = world.buy(world.online_product())
    sent = world.post("/api/notification/v2/subscription/notify_user/", {
        "msg_id": "MSG1", "open_id": order["open_id"], "data": {"核销码": "1234 5678"}}).get_json()
    assert sent["err_no"] == 0 and "data" not in sent
    assert "核销码：1234 5678" in world.client.get(f"/consumer/order/{order['order_id']}").get_data(as_text=True)
    assert "MSG1" in world.client.get("/console/messages").get_data(as_text=True)
    stranger = world.post("/api/notification/v2/subscription/notify_user/", {
        "msg_id": "MSG1", "open_id": "sbx_nobody", "data": {"核销码": "1"}}).get_json()
    assert stranger["err_no"] == 10000 and "open_id" in stranger["err_msg"]


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


def test_consumer_page_shows_a_count_card_as_one_code_with_its_uses_left(world, receiver, monkeypatch):
    from sandbox import services

    order = world.buy(world.online_product())
    card = {"code": "700000000017", "status": "unused", "uses_total": 3, "uses_left": 2}
    monkeypatch.setattr(services, "merchant_order", lambda app, out_order_no, open_id: {"vouchers": [card]})
    page = world.client.get(f"/consumer/order/{order['order_id']}").get_data(as_text=True)
    assert page.count("700000000017") >= 1 and "次卡 剩余 2/3 次" in page


def test_a_request_whose_rollback_fails_still_releases_the_store(app):
    """Every request holds the store's lock; a lock kept by a failed teardown would make every
    later request wait for ever."""
    import threading

    import pytest
    from flask import g

    from sandbox import _close

    store = app.extensions["sandbox"]
    with app.test_request_context("/"):
        g.db = store.open_session()

        def broken_rollback():
            raise RuntimeError("rollback failed")

        g.db.rollback = broken_rollback
        with pytest.raises(RuntimeError):
            _close(store)
    taken = []
    other = threading.Thread(target=lambda: taken.append(store.lock.acquire(timeout=2)) or (taken[0] and store.lock.release()))
    other.start()
    other.join(5)
    assert taken == [True]
