"""Wiring of the orders domain: the `payment` callback in, the voucher codes out to Douyin."""

from portal import outbox
from portal.douyin import webhooks
from portal.orders import service


@webhooks.handler("payment")
def on_payment(event) -> None:
    service.handle_payment_event(event)


@outbox.handler(service.PUSH_DELIVERY)
def push_delivery(message) -> dict:
    """Show our codes in the customer's Douyin order (idempotent: it states the whole list)."""
    from portal.onboarding.connection import client_for

    payload = message.payload
    return client_for(message.organization_id).push_delivery(
        order_id=payload["order_id"], out_order_no=payload["out_order_no"], codes=payload["codes"]
    )
