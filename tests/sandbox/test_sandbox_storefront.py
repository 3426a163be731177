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


def _page(qr):
    """The owner's authorization page the QR opens, as a path of the sandbox."""
    return "/" + qr["qrcode_parse_content"].split("://", 1)[1].split("/", 1)[1]


def _relations(world, kind="brand"):
    return world.get("/api/apps/v1/capacity/query_aweme_relation_list/", type=kind).get_json()["data"]["list"]


def test_the_owner_agrees_on_the_qr_page_then_the_binding_is_reviewed_in_the_relation_list(world):
    qr = _qr(world)

    refused = world.client.post(_page(qr), data={"user_name": "小平", "phone": "13812345678"})
    assert refused.status_code == 200 and _relations(world) == []  # agreement not ticked
    world.client.post(_page(qr), data={"user_name": "小平", "phone": "13812345678", "agree": "on"})

    (rel,) = _relations(world)
    assert (rel["aweme_id"], rel["user_name"], rel["bind_status"]) == (5713812345678, "小平", 1)
    assert not {"avatar", "mobile", "mobile_mask", "phone"} & set(rel)  # Douyin's list tells neither
    world.client.post("/sandbox/control/aweme_relations/5713812345678/review", json={"approve": True})
    assert _relations(world)[0]["bind_status"] == 2
    assert _relations(world, "cooperation") == []


def test_there_is_no_call_for_a_qrs_own_state(world):
    qr = _qr(world)
    reply = world.get("/api/apps/v1/capacity/query_aweme_relation_bind_qrcode_status/", qrcode=qr["qrcode_parse_content"])
    assert reply.status_code == 404


def test_a_qr_expires_after_five_minutes(world):
    qr = _qr(world, "cooperation")
    ticket = qr["qrcode_parse_content"].rsplit("/", 1)[1]
    world.control(clock_offset_seconds=QR_TTL_MS / 1000)

    late = world.client.post(f"/sandbox/control/aweme_bind/{ticket}/agree", json={"user_name": "小平", "phone": "13812345678"})
    assert late.status_code == 400 and "过期" in late.get_json()["error"]
    assert _relations(world, "cooperation") == []
    assert "二维码已过期" in world.client.get(_page(qr)).get_data(as_text=True)


def test_unbinding_removes_the_relation_and_the_same_account_can_agree_again(world):
    qr = _qr(world)
    world.client.post(_page(qr), data={"user_name": "小平", "phone": "13812345678", "agree": "on"})
    world.client.post("/sandbox/control/aweme_relations/5713812345678/review", json={"approve": True})

    wrong_type = world.post("/api/apps/v1/capacity/unbind_aweme_relation/", {"aweme_id": "5713812345678", "type": "cooperation"})
    assert wrong_type.get_json()["err_no"] != 0 and len(_relations(world)) == 1
    reply = world.post("/api/apps/v1/capacity/unbind_aweme_relation/", {"aweme_id": "5713812345678", "type": "brand"})

    assert reply.get_json()["err_no"] == 0 and "data" not in reply.get_json()
    assert _relations(world) == []
    again = world.post("/api/apps/v1/capacity/unbind_aweme_relation/", {"aweme_id": "5713812345678", "type": "brand"})
    assert again.get_json()["err_no"] != 0  # nothing left to remove
    world.client.post(_page(_qr(world)), data={"user_name": "小平", "phone": "13812345678", "agree": "on"})
    (rel,) = _relations(world)
    assert (rel["aweme_id"], rel["bind_status"]) == (5713812345678, 1)  # listed anew, under review


def test_an_unbind_with_a_numeric_or_missing_field_is_refused(world):
    for body in ({"aweme_id": 5713812345678, "type": "brand"}, {"type": "brand"}, {"aweme_id": "1", "type": "brand", "extra": 1}):
        reply = world.post("/api/apps/v1/capacity/unbind_aweme_relation/", body)
        assert reply.get_json()["err_no"] != 0
