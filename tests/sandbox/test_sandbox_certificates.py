"""Douyin certificates (delivery_type 1): prepare / verify / cancel (1-hour window) / get;
merchant codes (delivery_type 0) via push_delivery and verify with codes[]."""


def prepare(world, **params):
    return world.get("/goodlife/v1/fulfilment/certificate/prepare/", **params).get_json()


def verify(world, body):
    return world.post("/goodlife/v1/fulfilment/certificate/verify/", body).get_json()


def cancel(world, body):
    return world.post("/goodlife/v1/fulfilment/certificate/cancel/", body).get_json()


def bought_certificate_order(world, receiver, quantity=1):
    pid = world.online_product(delivery_type=1)
    return world.buy(pid, quantity=quantity)


def test_prepare_then_verify_then_qr_is_dead(world, receiver):
    order = bought_certificate_order(world, receiver, quantity=2)
    prep = prepare(world, encrypted_data=order["encrypted_data"])["data"]
    assert prep["error_code"] == 0 and prep["order_id"] == order["order_id"]
    assert len(prep["certificates"]) == 2
    assert "code" not in prep["certificates"][0]  # never plaintext codes
    first = prep["certificates"][0]["encrypted_code"]
    res = verify(world, {"verify_token": prep["verify_token"], "poi_id": world.poi_a, "encrypted_codes": [first]})
    assert res["data"]["error_code"] == 0
    assert res["data"]["verify_results"][0]["result"] == 0
    assert res["data"]["verify_results"][0]["verify_id"]
    stale = prepare(world, encrypted_data=order["encrypted_data"])
    assert stale["data"]["error_code"] == 13000 and stale["extra"]["sub_error_code"] == 13000
    again = verify(world, {"verify_token": prep["verify_token"], "poi_id": world.poi_a, "encrypted_codes": [first]})
    assert again["data"]["verify_results"][0]["result"] == 1208
    assert len(receiver.webhooks("life_trade_certificate_notify")) == 1


def test_prepare_by_code_returns_only_unused(world, receiver):
    order = bought_certificate_order(world, receiver)
    code = order["items"][0]["code"]
    assert len(code) == 12
    prep = prepare(world, code=code)["data"]
    verify(world, {"verify_token": prep["verify_token"], "poi_id": world.poi_a,
                   "encrypted_codes": [prep["certificates"][0]["encrypted_code"]]})
    assert prepare(world, code=code)["data"]["description"] == "无券信息"


def _verified(world, receiver):
    order = bought_certificate_order(world, receiver)
    prep = prepare(world, encrypted_data=order["encrypted_data"])["data"]
    res = verify(world, {"verify_token": prep["verify_token"], "poi_id": world.poi_a,
                         "encrypted_codes": [prep["certificates"][0]["encrypted_code"]]})["data"]["verify_results"][0]
    return order, res


def test_cancel_within_one_hour_restores_the_voucher(world, receiver):
    order, res = _verified(world, receiver)
    world.control(advance_seconds=3599)
    body = {"certificate_id": res["certificate_id"], "verify_id": res["verify_id"], "cancel_token": "c-1"}
    out = cancel(world, body)
    assert out["data"]["error_code"] == 0 and out["extra"]["error_code"] == 0
    assert cancel(world, body)["data"]["error_code"] == 0  # same cancel_token: idempotent
    got = world.get("/goodlife/v1/fulfilment/certificate/get/", order_id=order["order_id"]).get_json()["data"]
    assert got["certificate"]["status"] == 1 and "verify" not in got["certificate"]
    # usable again with a fresh QR
    fresh = world.client.get(f"/sandbox/control/orders/{order['order_id']}").get_json()["encrypted_data"]
    assert prepare(world, encrypted_data=fresh)["data"]["error_code"] == 0


def test_cancel_after_one_hour_is_refused(world, receiver):
    order, res = _verified(world, receiver)
    world.control(advance_seconds=3601)
    out = cancel(world, {"certificate_id": res["certificate_id"], "verify_id": res["verify_id"]})
    assert out["data"]["error_code"] == 3000001
    assert out["extra"]["sub_error_code"] == 2034000910
    got = world.get("/goodlife/v1/fulfilment/certificate/get/", order_id=order["order_id"]).get_json()["data"]
    assert got["certificate"]["status"] == 2
    assert got["certificate"]["verify"]["can_cancel"] is False


def test_verify_at_a_store_not_selling_the_product(world, receiver):
    pid = world.online_product(delivery_type=1, pois=[world.poi_a])
    order = world.buy(pid)
    prep = prepare(world, encrypted_data=order["encrypted_data"])["data"]
    res = verify(world, {"verify_token": prep["verify_token"], "poi_id": world.poi_b,
                         "encrypted_codes": [prep["certificates"][0]["encrypted_code"]]})
    assert res["data"]["verify_results"][0]["result"] == 1301


def test_merchant_code_orders_are_not_goodlife_certificates(world, receiver):
    """Third-party codes are reported with push_delivery (trade v2); goodlife prepare and verify
    know only Douyin's certificates."""
    order = world.buy(world.online_product(delivery_type=0))
    assert all(i["code"] is None for i in order["items"])
    res = verify(world, {"verify_token": "vt-1", "poi_id": world.poi_a, "codes": ["MC012345678"], "order_id": order["order_id"]})
    assert res["data"]["verify_results"][0]["result"] == 1204
    no_token = verify(world, {"poi_id": world.poi_a, "codes": ["MC012345678"], "order_id": order["order_id"]})
    assert no_token["data"]["error_code"] == 10000  # verify_token is required (SK, fixture certificate_verify)
    assert prepare(world, code="MC112345678")["data"]["description"] == "无券信息"