"""One order number everywhere, and every mention a link to the order's page.

The number a merchant and a buyer share is Douyin's order id: the buyer reads it in the Douyin
app, the merchant in Douyin 来客 and in Douyin's bills, and 来客 orders have no other. The
portal's own `out_order_no` (the mini-program's merchant order number) appears only on the order
page, as a detail. Pages that list orders, money, refunds, withdrawals, reconciliation and the
journal all print `order_link`, so the same order reads the same everywhere.
"""

from __future__ import annotations

from flask import url_for
from markupsafe import Markup, escape


def order_number(order) -> str:
    """The number the merchant and the buyer know the order by."""
    return order.douyin_order_id


def order_link(order_id: int | None, number: str) -> Markup:
    """`number` linked to the order's page (plain text when the portal has no such order)."""
    if not order_id:
        return Markup('<span class="order-ref">{}</span>').format(number or "—")
    href = url_for("orders.show", order_id=order_id)
    return Markup(f'<a class="order-ref" href="{escape(href)}" data-order-id="{int(order_id)}">{escape(number)}</a>')
