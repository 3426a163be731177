"""Keeps the overview's daily figures in step with the domain events (see portal/signals.py).

Every update re-derives the order's facts from its current state, so a repeated or
out-of-order event changes nothing it should not. Payment, completion and (un)redemption are
applied by a job queued after the causing transaction commits: reporting must not slow the
counter down or hold its locks. So are settlement batches, which may hold many thousands of
orders. Refunds carry amounts the order tables do not, so they are applied in their own
transaction.
"""

from portal import signals
from portal.insights import aggregation


@signals.order_paid.connect
def on_order_paid(order, **_):
    aggregation.sync_later(order.id)


@signals.order_completed.connect
def on_order_completed(order, **_):
    aggregation.sync_later(order.id)


@signals.order_refunded.connect
def on_order_refunded(order, refund=None, **_):
    aggregation.sync_order(order, refund=refund)


@signals.orders_settled.connect
def on_orders_settled(organization_id, batch: str, **_):
    aggregation.settlements_later(organization_id, batch)


@signals.voucher_redeemed.connect
def on_voucher_redeemed(voucher, **_):
    aggregation.sync_later(voucher.order_id)


@signals.voucher_redemption_undone.connect
def on_voucher_redemption_undone(voucher, **_):
    aggregation.sync_later(voucher.order_id)
