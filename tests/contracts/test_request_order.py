"""tt.requestOrder's arguments as the portal's mini-program endpoint issues them, held to the
request_order fixture (the harness's generic tests need an HTTP call the client makes; this one
is made by the mini-program front end, so it is checked here)."""

from __future__ import annotations

import json

from portal.douyin.signing import parse_byte_authorization, verify_byte_authorization
from tests.fixtures.douyin import app_keys

from .harness import conforms, load

REQUIRED_DATA = ("skuList[].skuId", "skuList[].price", "skuList[].quantity", "skuList[].title", "skuList[].imageList",
                 "skuList[].type", "skuList[].tagGroupId", "outOrderNo", "totalAmount", "orderEntrySchema.path")


def _place(client, token, **body):
    payload = {"open_id": "open-1", "phone": "13800001234", "quantity": 1, "tracking_code": "shortvideo_1122_douyin"}
    payload.update(body)
    return client.post(f"/mp/{token}/orders", json=payload)


def test_the_portal_answers_request_order_arguments_in_the_reference_shape_signed_as_the_reference_signs(connected, shop, org, client):
    from .harness import has_path

    product = shop.product(org, price_fen=9900)
    fixture = load("request_order")
    reply = _place(client, connected.app.callback_token, sku_id=product.out_id, quantity=2)
    assert reply.status_code == 201, reply.get_json()
    arguments = reply.get_json()
    assert conforms({k: arguments[k] for k in ("data", "byteAuthorization")}, fixture["request"]["body"]) == []
    data = json.loads(arguments["data"])
    reference = json.loads(fixture["request"]["body"]["data"])
    assert conforms(data, reference) == []
    assert [p for p in REQUIRED_DATA if not has_path(data, p)] == []
    assert (data["skuList"][0]["skuId"], data["skuList"][0]["quantity"], data["totalAmount"]) == (product.out_id, 2, 19800)
    assert data["outOrderNo"] == arguments["out_order_no"]
    header = arguments["byteAuthorization"]
    assert '"' not in header and parse_byte_authorization(header)["appid"] == connected.app.app_id
    assert verify_byte_authorization(header=header, method="POST", uri="/requestOrder", body=arguments["data"].encode(),
                                     public_key_pem=app_keys()[1])
    assert not verify_byte_authorization(header=header, method="POST", uri="/requestOrder",
                                         body=arguments["data"].replace("19800", "1").encode(), public_key_pem=app_keys()[1])


def test_the_endpoint_checks_its_input_and_the_token(connected, shop, org, client):
    product = shop.product(org)
    token = connected.app.callback_token
    assert _place(client, "no-such-token", sku_id=product.out_id).status_code == 404
    assert _place(client, token, sku_id=product.out_id, extra="x").get_json()["errors"] == {"extra": "unknown field"}
    assert "quantity" in _place(client, token, sku_id=product.out_id, quantity="2").get_json()["errors"]
    assert "sku_id" in _place(client, token, sku_id="nope").get_json()["errors"]
    assert "open_id" in _place(client, token, sku_id=product.out_id, open_id="").get_json()["errors"]


def test_the_endpoint_is_rate_limited_per_buyer(connected, shop, org, client):
    from portal.orders import service

    product = shop.product(org)
    token = connected.app.callback_token
    codes = [_place(client, token, sku_id=product.out_id).status_code for _ in range(service.RATE_PER_BUYER + 1)]
    assert codes[:-1] == [201] * service.RATE_PER_BUYER and codes[-1] == 429
    assert _place(client, token, sku_id=product.out_id, open_id="open-2").status_code == 201


def test_only_the_buyer_reads_the_order_and_its_codes(connected, shop, org, client, clock):
    from portal.orders import service

    product = shop.product(org)
    token = connected.app.callback_token
    out_order_no = _place(client, token, sku_id=product.out_id).get_json()["out_order_no"]
    assert client.get(f"/mp/{token}/orders/{out_order_no}", query_string={"open_id": "someone"}).status_code == 404
    pending = client.get(f"/mp/{token}/orders/{out_order_no}", query_string={"open_id": "open-1"}).get_json()
    assert pending["status"] == "pending" and pending["vouchers"] == []
    pre = service.find_pre_order(org.id, out_order_no)
    service.confirm_payment(org.id, shop.msg(pre), now=clock.now())
    paid = client.get(f"/mp/{token}/orders/{out_order_no}", query_string={"open_id": "open-1"}).get_json()
    assert paid["status"] == "paid" and [v["code"] for v in paid["vouchers"]] == [v.code for v in pre.order.vouchers]
