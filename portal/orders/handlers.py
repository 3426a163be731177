"""Wiring of the orders domain: the `payment` callback in, order_query out to Douyin."""

from portal import clock, outbox
from portal.douyin import DouyinError, webhooks
from portal.orders import laike, service


@webhooks.handler("payment")
def on_payment(event) -> None:
    service.handle_payment_event(event)


@webhooks.handler("life_trade_order_notify")
def on_laike_order(event) -> None:
    laike.handle_order_event(event)


@webhooks.handler("life_trade_certificate_notify")
def on_laike_certificate(event) -> None:
    laike.handle_certificate_event(event)


@outbox.handler(service.ORDER_QUERY)
def query_order(message) -> dict:
    """Learn a paid order's item orders from Douyin (and complete an order the portal never
    placed). An outbox delivery, so a slow or failing Douyin only delays it; idempotent."""
    from portal.onboarding.connection import delivery_client

    payload = message.payload
    data = delivery_client(message.organization_id).order_query(order_id=payload["order_id"])
    if str(data["pay_status"]).upper() != "SUCCESS":
        # The payment callback said SUCCESS: order_query has not caught up yet, so ask again later.
        raise DouyinError(None, f"order_query says {data['pay_status']} for a paid order", retryable=True)
    order = service.apply_order_query(message.organization_id, payload, data, now=clock.now())
    return {"order_id": order.id if order else None, "item_order_ids": [str(e["item_order_id"]) for e in data.get("item_order_list") or []]}
