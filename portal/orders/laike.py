"""Orders sold through Douyin's own merchant channel (抖音来客), told to us by goodlife webhooks.

Such an order is paid, fulfilled with Douyin's certificates and settled by Douyin's goodlife
ledger: the portal neither placed it nor settles it. `life_trade_order_notify` (action
pay_success) names only the order and its amounts, so the order is kept with one item and no
voucher; a voucher appears when one of its certificates is shown at the counter (prepare) or
verified on Douyin's side (`life_trade_certificate_notify`, action verify). The orders are
kept apart from mini-program orders by `Order.trade_family`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal import audit
from portal.douyin import replies
from portal.douyin.shapes import read
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders.models import Order, OrderItem, OrderStatus, TradeFamily, Voucher, VoucherKind, VoucherStatus
from portal.orders.service import DEFAULT_VALID_DAYS, OrderError

log = logging.getLogger(__name__)

TRADE_FAMILY_LABELS = {TradeFamily.MINI_APP: _l("小程序"), TradeFamily.LAIKE: _l("抖音来客")}
PAY_SUCCESS = "pay_success"
VERIFY = "verify"


def _from_seconds(value: int | None, default: datetime) -> datetime:
    if not value:
        return default
    if value > 10**11:  # milliseconds
        value //= 1000
    return datetime.fromtimestamp(value, tz=UTC)


def record_laike_order(organization_id: int, content: dict, *, now: datetime) -> Order | None:
    """Keep a 来客 order from a `life_trade_order_notify` content (see replies.WEBHOOK_LIFE_TRADE_ORDER).

    Only action pay_success makes an order. Idempotent on Douyin's order id: a replay, or an
    order the mini-program's payment callback already made, returns the existing order unchanged.
    Raises DouyinContractError when the content does not have the reference shape.
    """
    message = read(replies.WEBHOOK_LIFE_TRADE_ORDER, content)
    if message["action"] != PAY_SUCCESS:
        return None
    facts = message["order"]
    existing = db.session.scalar(select(Order).where(Order.douyin_order_id == facts["order_id"]))
    if existing is not None:
        if existing.organization_id != organization_id:
            raise OrderError(f"Douyin order {facts['order_id']} belongs to another organization")
        return existing
    paid = facts["pay_amount"]
    total = max(facts["original_amount"], paid)
    paid_at = _from_seconds(facts.get("pay_time") or message.get("msg_time"), now)
    order = Order(
        organization_id=organization_id,
        douyin_order_id=facts["order_id"],
        out_order_no=facts["order_id"],
        trade_family=TradeFamily.LAIKE,
        status=OrderStatus.PAID,
        total_fen=total,
        discount_fen=total - paid,
        paid_fen=paid,
        paid_at=paid_at,
        created_at=now,
    )
    db.session.add(order)
    db.session.flush()
    db.session.add(OrderItem(order_id=order.id, title=str(_l("抖音来客团购")), quantity=1, unit_price_fen=total))
    db.session.flush()
    audit.record("orders.laike_order.created", organization_id=organization_id, obj=order, douyin_order_id=order.douyin_order_id, paid_fen=paid)
    return order


def _new_voucher(order: Order, *, valid_until: datetime | None) -> Voucher:
    item = order.items[0]
    count = db.session.scalar(select(func.count(Voucher.id)).where(Voucher.order_id == order.id)) or 0
    voucher = Voucher(
        organization_id=order.organization_id,
        order_id=order.id,
        order_item_id=item.id,
        kind=VoucherKind.DOUYIN,
        code=f"DY{order.douyin_order_id}-{count + 1}"[:64],
        status=VoucherStatus.UNUSED,
        valid_from=order.paid_at,
        valid_until=valid_until or order.paid_at + timedelta(days=DEFAULT_VALID_DAYS),
    )
    db.session.add(voucher)
    return voucher


def voucher_for_laike_certificate(organization_id: int, douyin_order_id: str, certificate, *, now: datetime) -> Voucher | None:
    """A new unused voucher for a certificate of a 来客 order shown at the counter (the prepare
    reply's certificate, replies.CERTIFICATE_PREPARE); None for any other order."""
    order = db.session.scalar(
        select(Order).where(Order.organization_id == organization_id, Order.douyin_order_id == douyin_order_id, Order.trade_family == TradeFamily.LAIKE)
    )
    if order is None or not order.items:
        return None
    voucher = _new_voucher(order, valid_until=_from_seconds(certificate.get("expire_time"), now) if certificate.get("expire_time") else None)
    sku = certificate.get("sku") or {}
    if sku.get("title") and order.items[0].title == str(_l("抖音来客团购")):
        order.items[0].title = sku["title"][:100]
    db.session.flush()
    return voucher


def record_certificate_verified(organization_id: int, content: dict, *, now: datetime) -> Voucher | None:
    """Mark used the voucher of a certificate verified on Douyin's side (`life_trade_certificate_notify`).

    Only action verify counts. The voucher holding that certificate id is marked redeemed; if
    none does, the order's first unused Douyin voucher takes it, or (a 来客 order) a new voucher
    is made for it. Idempotent: a certificate already marked changes nothing. Raises OrderError
    for an order the portal does not have yet (the event fails and can be replayed).
    """
    message = read(replies.WEBHOOK_LIFE_TRADE_CERTIFICATE, content)
    if message["action"] != VERIFY:
        return None
    facts = message["certificate"]
    order = db.session.scalar(select(Order).where(Order.organization_id == organization_id, Order.douyin_order_id == facts["order_id"]))
    if order is None:
        raise OrderError(f"certificate {facts['certificate_id']} of unknown Douyin order {facts['order_id']}")
    vouchers = db.session.scalars(select(Voucher).where(Voucher.order_id == order.id, Voucher.kind == VoucherKind.DOUYIN).order_by(Voucher.id)).all()
    voucher = next((v for v in vouchers if v.douyin_certificate_id == facts["certificate_id"]), None)
    if voucher is None:
        voucher = next((v for v in vouchers if v.status == VoucherStatus.UNUSED and not v.douyin_certificate_id), None)
    if voucher is None and order.trade_family == TradeFamily.LAIKE and order.items:
        voucher = _new_voucher(order, valid_until=None)
    if voucher is None:
        log.warning("certificate %s of order %s matches no voucher", facts["certificate_id"], order.douyin_order_id)
        return None
    if voucher.status == VoucherStatus.REDEEMED and voucher.douyin_certificate_id == facts["certificate_id"]:
        return voucher
    voucher.douyin_certificate_id = facts["certificate_id"][:64]
    voucher.status = VoucherStatus.REDEEMED
    voucher.redeemed_at = _from_seconds(message.get("msg_time"), now)
    db.session.flush()
    audit.record("orders.voucher.verified", organization_id=organization_id, obj=voucher, certificate_id=voucher.douyin_certificate_id)
    return voucher


def handle_order_event(event) -> Order | None:
    """The `life_trade_order_notify` webhook handler (idempotent)."""
    from portal import clock

    return record_laike_order(event.organization_id, event.payload or {}, now=clock.now())


def handle_certificate_event(event) -> Voucher | None:
    """The `life_trade_certificate_notify` webhook handler (idempotent)."""
    from portal import clock

    return record_certificate_verified(event.organization_id, event.payload or {}, now=clock.now())
