"""The sandbox's store pages (poi/supplier) and Douyin account binding (aweme bind), as the platform does them."""

from sandbox.storefront import QR_TTL_MS


def _sync(world, **change):
    body = dict({"poi_id": world.poi_a, "name": "老王火锅·望京店", "supplier_ext_id": "store-1", "type": 1, "status": 1,
                 "address": "望京街 1 号", "contact_phone": "13912345678", "open_time": ["10:00-22:00"]}, **change)
    return world.post("/poi/supplier/sync", body).get_json()["data"]


def _query(world):
    return world.get("/poi/supplier/query", supplier_ext_id="store-1").get_json()["data"]


def _pois(world):
    data = world.get("/goodlife/v1/shop/poi/query/", account_id=world.account_id).get_json()["data"]
    return {p["poi"]["poi_id"]: (p["poi"]["poi_name"], p["poi"]["address"]) for p in data["pois"]}


def test_a_pushed_page_waits_for_review_then_goes_live_and_renames_the_poi(world):
    assert _sync(world)["error_code"] == "0"
    assert _query(world)["sync_status"] == {"last_sync_status": 0, "fail_reason": ""}
    assert _pois(world)[world.poi_a] == ("老王火锅·A店", "朝阳路1号")

    world.client.post("/sandbox/control/supplier_pages/store-1/review", json={"approve": True})

    reply = _query(world)
    assert reply["sync_status"]["last_sync_status"] == 1
    assert reply["data_detail"]["contact_phone"] == "139xxxx5678"
    assert _pois(world)[world.poi_a] == ("老王火锅·望京店", "望京街 1 号")


def test_a_rejected_page_keeps_the_reason_and_the_live_poi(world):
    _sync(world)
    refused = world.client.post("/sandbox/control/supplier_pages/store-1/review", json={"approve": False})
    assert refused.status_code == 400  # a rejection needs its reason
    world.client.post("/sandbox/control/supplier_pages/store-1/review", json={"approve": False, "reason": "头图模糊"})

    assert _query(world)["sync_status"] == {"last_sync_status": 2, "fail_reason": "头图模糊"}
    assert _pois(world)[world.poi_a][0] == "老王火锅·A店"


def test_a_bad_phone_or_time_or_another_accounts_poi_is_refused(world):
    assert _sync(world, contact_phone="8888")["error_code"] == "10000"
    assert _sync(world, open_time=["10点-22点"])["error_code"] == "10000"
    assert _sync(world, poi_id="1")["error_code"] == "2100004"


def _qr(world, kind="brand"):
    return world.get("/api/apps/v1/capacity/get_aweme_relation_bind_qrcode/", type=kind, capacity_list="video_self_mount").get_json()["data"]


def _status(world, content):
    return world.get("/api/apps/v1/capacity/query_aweme_relation_bind_qrcode_status/", qrcode=content).get_json()["data"]


def _relations(world, kind="brand"):
    return world.get("/api/apps/v1/capacity/query_aweme_relation_list/", type=kind).get_json()["data"]["list"]


def test_the_owner_agrees_on_the_qr_page_then_the_binding_is_reviewed(world):
    qr = _qr(world)
    page = qr["qrcode_parse_content"].split("://", 1)[1].split("/", 1)[1]
    assert _status(world, qr["qrcode_parse_content"]) == {"status": "waiting"}

    refused = world.client.post("/" + page, data={"user_name": "小平", "phone": "13812345678"})
    assert refused.status_code == 200 and _status(world, qr["qrcode_parse_content"])["status"] == "waiting"  # agreement not ticked
    world.client.post("/" + page, data={"user_name": "小平", "phone": "13812345678", "agree": "on"})

    agreed = _status(world, qr["qrcode_parse_content"])
    assert (agreed["status"], agreed["user_name"], agreed["mobile_mask"]) == ("agreed", "小平", "138****5678")
    (rel,) = _relations(world)
    assert (rel["aweme_id"], rel["bind_status"]) == (int(agreed["aweme_id"]), 1)
    world.client.post(f"/sandbox/control/aweme_relations/{agreed['aweme_id']}/review", json={"approve": True})
    assert _relations(world)[0]["bind_status"] == 2
    assert _relations(world, "cooperation") == []


def test_a_qr_expires_after_five_minutes(world):
    qr = _qr(world, "cooperation")
    world.control(clock_offset_seconds=QR_TTL_MS / 1000)

    assert _status(world, qr["qrcode_parse_content"]) == {"status": "expired"}
    ticket = qr["qrcode_parse_content"].rsplit("/", 1)[1]
    late = world.client.post(f"/sandbox/control/aweme_bind/{ticket}/agree", json={"user_name": "小平", "phone": "13812345678"})
    assert late.status_code == 400 and "过期" in late.get_json()["error"]
