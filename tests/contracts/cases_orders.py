"""Contract cases of orders as the platform makes them: tt.requestOrder's arguments (checked in
test_request_order.py: the call is the mini-program's, not an HTTP call the client makes), the
`payment` trade callback and order_query."""

from __future__ import annotations

import json

from portal.douyin import replies

from .harness import Case


def _paid_order(world, *, price=100, quantity=1, out_order_no=None):
    return world.buy(world.online_product(price=price, delivery_type=0), quantity=quantity, out_order_no=out_order_no)


def prep_order_query(world, fixture):
    order = _paid_order(world)
    return {"ac97KUfZJk": order["order_id"], "5x70VYh3of": order["out_order_no"]}


def emit_payment(world) -> dict:
    _paid_order(world, out_order_no="1210246155355688960")
    body = dict(world.callbacks("payment")[-1]["body"])
    body["msg"] = json.loads(body["msg"])
    return body


def accept_payment(request, fixture):
    """The reference payment message for a pre-order the portal placed (out_order_no and amount
    taken over from the sample)."""
    from portal.extensions import db

    connected = request.getfixturevalue("connected")
    shop = request.getfixturevalue("shop")
    msg = json.loads(fixture["request"]["body"]["msg"])
    pre = shop.pre_order(connected.org, shop.product(connected.org, price_fen=msg["total_amount"]))
    pre.out_order_no = msg["out_order_no"]
    db.session.flush()
    return connected.trade_callback("payment", msg)


CASES = [
    Case("order_query", call=lambda c: c.order_query(order_id="motb52726742593307630520952"),
         reply=replies.ORDER_QUERY, sandbox=prep_order_query),
    Case("trade_payment", emit=emit_payment, accept=accept_payment, reads=replies.PAYMENT_MSG),
    Case("request_order"),
]
