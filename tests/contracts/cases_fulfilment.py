"""Group B: goodlife certificates, the settlement ledger, goodlife webhooks (Douyin's 来客 channel)."""

from __future__ import annotations

import json

import responses

from portal.douyin import replies
from portal.douyin.signing import webhook_signature

from .harness import Case

PREPARE = "/goodlife/v1/fulfilment/certificate/prepare/"
VERIFY = "/goodlife/v1/fulfilment/certificate/verify/"

# Reference values (tests/contracts/fixtures/*.json) the sandbox cases replace with seeded ones.
REF_ACCOUNT = "7136075595087087628"
REF_POI = "6000000000000000000"
REF_ORDER = "1000000000000000000"
REF_TOKEN = "211ecb01-9f97-46e1-98db-b2cbecfbfd7e"
REF_ENCRYPTED = "CgwIARDhJxjLLyABKAESLgosRSH/OAfU5+MZ9y0u3l/999bpcS5P1zOqn2mxgQXAx3jGpwb+jnqZPTlDldcaAA=="


def _certificate_order(world) -> dict:
    """A paid order of one Douyin certificate, bought on Douyin's own channel (来客) for the
    world's first store."""
    product_id = world.online_product(delivery_type=1)
    reply = world.client.post("/sandbox/control/laike_orders", json={"product_id": product_id, "poi_id": world.poi_a})
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def _prepared(world) -> tuple[dict, dict]:
    order = _certificate_order(world)
    data = world.get(PREPARE, encrypted_data=order["encrypted_data"]).get_json()["data"]
    return order, data


def _verified(world) -> tuple[dict, dict]:
    order, prep = _prepared(world)
    result = world.post(VERIFY, {"verify_token": prep["verify_token"], "poi_id": world.poi_a,
                                 "encrypted_codes": [prep["certificates"][0]["encrypted_code"]]})
    return order, result.get_json()["data"]["verify_results"][0]


def _seed_prepare(world, fixture):
    order = _certificate_order(world)
    query = fixture["request"]["query"]
    return {query["encrypted_data"]: order["encrypted_data"], query["code"]: order["items"][0]["code"],
            REF_ACCOUNT: world.account_id, REF_POI: world.poi_a}


def _seed_verify(world, fixture):
    order, prep = _prepared(world)
    item = order["items"][0]
    return {REF_TOKEN: prep["verify_token"], REF_ENCRYPTED: item["encrypted_code"],
            fixture["request"]["body"]["codes"][0]: item["code"], REF_ORDER: order["order_id"], REF_POI: world.poi_a}


def _seed_cancel(world, fixture):
    _, result = _verified(world)
    body = fixture["request"]["body"]
    return {body["verify_id"]: result["verify_id"], body["certificate_id"]: result["certificate_id"],
            REF_ACCOUNT: world.account_id}


def _seed_get(world, fixture):
    order, _ = _verified(world)
    item, query = order["items"][0], fixture["request"]["query"]
    return {query["encrypted_code"]: item["encrypted_code"], query["code"]: item["code"],
            query["order_id"]: order["order_id"], REF_ACCOUNT: world.account_id}


def _seed_ledger(world, fixture):
    from sandbox.services import shanghai_date

    _verified(world)
    world.control(advance_seconds=3601)  # Douyin books a verify in its ledger 1 h later
    now_ms = world.client.get("/sandbox/control").get_json()["now_ms"]
    query = fixture["request"]["query"]
    return {query["account_id"]: world.account_id, query["bill_date"]: shanghai_date(now_ms - 1000)}


# --- webhooks ---------------------------------------------------------------------------------


def _sent_webhook(world, event: str, trigger) -> dict:
    """Run `trigger` with a receiver in place and return the last `event` webhook the sandbox
    sent, its `content` decoded when it is a JSON string (as harness.request_sample does)."""
    from tests.sandbox.conftest import Receiver

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        receiver = Receiver(mock)
        trigger()
        sent = receiver.webhooks(event)
    assert sent, f"the sandbox sent no {event}"
    body = dict(sent[-1]["json"])
    if isinstance(body.get("content"), str):
        body["content"] = json.loads(body["content"])
    return body


def _emit_verify(world):
    return _sent_webhook(world, "verify_webhook", lambda: world.client.post(f"/sandbox/control/apps/{world.appid}/verify_webhook"))


def _emit_product_audit(world):
    return _sent_webhook(world, "life_product_audit", lambda: world.online_product())


def _emit_order_notify(world):
    return _sent_webhook(world, "life_trade_order_notify", lambda: _certificate_order(world))


def _emit_certificate_notify(world):
    return _sent_webhook(world, "life_trade_certificate_notify", lambda: _verified(world))


def _deliver(request, fixture):
    """Post the reference webhook body, signed with the merchant's secret (hex in upper case:
    Douyin's signature compares case-insensitively), to the connected merchant's webhook URL."""
    connected = request.getfixturevalue("connected")
    raw = json.dumps(fixture["request"]["body"], ensure_ascii=False).encode()
    headers = {"X-Douyin-Signature": webhook_signature(connected.app_secret, raw).upper(),
               "Content-Type": "application/json"}
    return connected.client.post(connected.webhook_url, data=raw, headers=headers)


CASES = [
    Case(
        fixture="certificate_prepare",
        call=lambda client: client.certificate_prepare(code="104930181552"),
        reply=replies.CERTIFICATE_PREPARE,
        sandbox=_seed_prepare,
    ),
    Case(
        fixture="certificate_verify",
        call=lambda client: client.certificate_verify(verify_token=REF_TOKEN, poi_id=REF_POI, encrypted_codes=[REF_ENCRYPTED]),
        reply=replies.CERTIFICATE_VERIFY,
        sandbox=_seed_verify,
    ),
    Case(
        fixture="certificate_cancel",
        call=lambda client: client.certificate_cancel(certificate_id="7091180835810052103", verify_id="7091478021421631519", cancel_token="portal-undo-1"),
        reply=replies.CERTIFICATE_CANCEL,
        sandbox=_seed_cancel,
    ),
    Case(
        fixture="certificate_get",
        call=lambda client: client.certificate_get(encrypted_code="CgwIARDhJxjLLyABKAESLgoscGiCSmZoMBlvG3WxOIxOGTfZHKvwwQD+DInGZEAi/SJsemJO/r+88+w3Th4aAA=="),
        reply=replies.CERTIFICATE_GET,
        sandbox=_seed_get,
    ),
    Case(
        fixture="settle_ledger_query",
        call=lambda client: client.ledger_query(bill_date="2022-08-21"),
        reply=replies.SETTLE_LEDGER_QUERY,
        sandbox=_seed_ledger,
    ),
    Case(fixture="webhook_verify", emit=_emit_verify, accept=_deliver),
    Case(fixture="webhook_life_product_audit", emit=_emit_product_audit, accept=_deliver, reads=replies.WEBHOOK_LIFE_PRODUCT_AUDIT),
    Case(fixture="webhook_life_trade_order_notify", emit=_emit_order_notify, accept=_deliver, reads=replies.WEBHOOK_LIFE_TRADE_ORDER),
    Case(fixture="webhook_life_trade_certificate_notify", emit=_emit_certificate_notify, accept=_deliver, reads=replies.WEBHOOK_LIFE_TRADE_CERTIFICATE),
]
