"""Wiring of the redemption domain: deliveries to Douyin of local redemptions, undos and pauses."""

from sqlalchemy import select

from portal import outbox
from portal.douyin import DouyinError
from portal.extensions import db
from portal.onboarding.connection import delivery_client
from portal.orders.service import PUSH_DELIVERY
from portal.redemption import rules, service

ALREADY_VERIFIED = (1208, 2)



@outbox.handler(service.VERIFY_LOCAL)
def verify_local(message) -> dict:
    """Tell Douyin a sub-order's merchant code was used (third-party codes: codes[] + order_id).

    Waits (retryable) until the codes were pushed; "already verified" on a retry is success."""
    payload = message.payload
    push = db.session.scalar(
        select(outbox.OutboxMessage).where(
            outbox.OutboxMessage.kind == PUSH_DELIVERY, outbox.OutboxMessage.dedupe_key == f"push:{payload['order_id']}"
        )
    )
    if push is not None and push.status == outbox.OutboxStatus.PENDING:
        raise DouyinError(None, "券码尚未推送到抖音，稍后再报核销", retryable=True)
    if not payload.get("poi_id"):
        raise DouyinError(None, "门店未绑定抖音门店，无法向抖音报核销", retryable=False)
    reply = delivery_client(message.organization_id).certificate_verify(
        # Douyin's verify_token only de-duplicates; third-party codes need no prepare, so the
        # message id serves as that key.
        verify_token=f"portal-{message.id}",
        poi_id=payload["poi_id"],
        codes=[payload["code"]],
        order_id=payload["order_id"],
    )
    result = (reply.get("verify_results") or [{}])[0]
    code = result.get("result")
    if code == 0 or code in ALREADY_VERIFIED:
        return {"verify_id": result.get("verify_id", ""), "certificate_id": result.get("certificate_id", ""), "result": code}
    raise DouyinError(code, str(result.get("msg") or "verify refused"), retryable=False)


@outbox.handler(service.CANCEL_LOCAL)
def cancel_local(message) -> dict:
    payload = message.payload
    if not payload.get("verify_id"):
        return {"skipped": "no verify_id"}
    delivery_client(message.organization_id).certificate_cancel(
        certificate_id=payload["certificate_id"], verify_id=payload["verify_id"], cancel_token=f"portal-cancel-{message.id}"
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
