"""Wiring of the orders domain: the `payment` callback in, order_query out to Douyin."""

from portal import clock, outbox
from portal.douyin import DouyinError, webhooks
from portal.orders import laike, service, shipping


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


@outbox.handler(shipping.FULFIL)
def push_fulfil_status(message) -> dict:
    """Tell Douyin a courier order was shipped ("fulfilling") or delivered ("fulfilled"), for every
    item order of it (read from order_query, so an order whose item orders the portal has not
    learnt yet is still reported whole). Idempotent: pushing the state an order is in changes nothing."""
    from portal.onboarding.connection import delivery_client

    payload = message.payload
    client = delivery_client(message.organization_id)
    items = [str(e["item_order_id"]) for e in client.order_query(order_id=payload["order_id"]).get("item_order_list") or []]
    if not items:
        raise DouyinError(None, "order_query lists no item order to report", retryable=True)
    client.fulfill_push_status(order_id=payload["order_id"], item_order_ids=items, to_status=payload["to_status"])
    return {"to_status": payload["to_status"], "item_order_ids": items}
