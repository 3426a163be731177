"""Domain events sent inside the transaction that caused them, so receivers' writes (ledger
postings, notifications) commit or roll back with the change. Receivers must be idempotent.

| signal | sender | keyword arguments |
|---|---|---|
| order_paid | the Order (items and vouchers flushed) | — |
| order_refunded | the Order (whole order refunded, vouchers voided) | refund (the refund row or None) |
| order_completed | the Order (every voucher redeemed or refunded; courier delivered) | — |
| voucher_redeemed | the Voucher | actor (User or None) |
| voucher_redemption_undone | the Voucher | actor |
| product_paused | the Product | reason |
| orders_settled | the organization id (a settlement batch moved its orders' cash from in transit to available) | batch (the batch id; `ledger.service.batch_settlements` lists each order's net and fees), orders (how many) |
"""

from blinker import Namespace

_signals = Namespace()

order_paid = _signals.signal("order-paid")
order_refunded = _signals.signal("order-refunded")
order_completed = _signals.signal("order-completed")
voucher_redeemed = _signals.signal("voucher-redeemed")
voucher_redemption_undone = _signals.signal("voucher-redemption-undone")
product_paused = _signals.signal("product-paused")
orders_settled = _signals.signal("orders-settled")
