"""Wiring of the redemption domain: deliveries to Douyin of local redemptions, undos and pauses."""

from portal import outbox
from portal.douyin import DouyinError
from portal.onboarding.connection import delivery_client
from portal.redemption import rules, service


@outbox.handler(service.VERIFY_LOCAL)
def verify_local(message) -> dict:
    """Report a mini-program sub-order whose third-party code (三方码) was redeemed at the counter
    as used (trade v2 push_delivery). Idempotent: Douyin answers an item already used with its
    verify record, so a retry after a lost reply reports nothing twice."""
    payload = message.payload
    poi_info = {k: v for k, v in (payload.get("poi_info") or {}).items() if v}
    reply = delivery_client(message.organization_id).push_delivery(
        out_order_no=payload["out_order_no"], item_order_ids=[payload["item_order_id"]], poi_info=poi_info or None
    )
    result = next((r for r in reply["verify_results"] if r["item_order_id"] == payload["item_order_id"]), None)
    if result is None:
        raise DouyinError(None, "push_delivery did not report the item order", retryable=False)
    return {"verify_id": result["verify_id"], "certificate_id": result["certificate_id"], "verify_time": result["verify_time"]}


@outbox.handler(service.CANCEL_LOCAL)
def cancel_local(message) -> dict:
    """Undo a reported redemption (trade v2 verify_cancel, the pair push_delivery answered)."""
    payload = message.payload
    if not payload.get("verify_id"):
        return {"skipped": "no verify_id"}
    delivery_client(message.organization_id).verify_cancel(
        order_id=payload["order_id"], certificate_id=payload["certificate_id"], verify_id=payload["verify_id"]
    )
    return {"cancelled": payload["verify_id"]}


def _operate(message, online: bool) -> dict:
    payload = message.payload
    ids = {"product_id": payload["product_id"]} if payload.get("product_id") else {"out_id": payload["out_id"]}
    return delivery_client(message.organization_id).goods_operate(online=online, **ids)


@outbox.handler(rules.PRODUCT_OFFLINE)
def product_offline(message) -> dict:
    return _operate(message, False)


@outbox.handler(rules.PRODUCT_ONLINE)
def product_online(message) -> dict:
    return _operate(message, True)
