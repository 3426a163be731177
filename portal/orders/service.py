"""Orders from Douyin's payment callback, their vouchers, completion and courier shipping."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, select

from portal import audit, outbox, signals
from portal.accounts.models import Store
from portal.catalog.models import Product, ProductKind
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders import codes
from portal.orders.models import (
    Channel,
    Fulfilment,
    Order,
    OrderItem,
    OrderSource,
    OrderStatus,
    ShippingStatus,
    Voucher,
    VoucherKind,
    VoucherStatus,
)

log = logging.getLogger(__name__)

PUSH_DELIVERY = "orders.push_delivery"
DEFAULT_VALID_DAYS = 90
FINAL_VOUCHER_STATES = (VoucherStatus.REDEEMED, VoucherStatus.REFUNDED)

SOURCE_LABELS = {OrderSource.AD: _l("广告流量"), OrderSource.NORMAL: _l("自然流量"), OrderSource.ALLIANCE: _l("精选联盟")}
CHANNEL_LABELS = {Channel.SHORT_VIDEO: _l("短视频"), Channel.LIVE: _l("直播"), Channel.SEARCH: _l("搜索"), Channel.OTHER: _l("其他")}
STATUS_LABELS = {
    OrderStatus.PAID: _l("已支付"),
    OrderStatus.COMPLETED: _l("已完成"),
    OrderStatus.REFUNDED: _l("已退款"),
    OrderStatus.CANCELLED: _l("已取消"),
}
VOUCHER_LABELS = {
    VoucherStatus.UNUSED: _l("未使用"),
    VoucherStatus.REDEEMED: _l("已核销"),
    VoucherStatus.REFUNDED: _l("已退款"),
    VoucherStatus.EXPIRED: _l("已过期"),
}
FULFILMENT_LABELS = {Fulfilment.IN_STORE: _l("到店核销"), Fulfilment.COURIER: _l("快递配送")}
SHIPPING_LABELS = {ShippingStatus.PENDING: _l("待发货"), ShippingStatus.SHIPPED: _l("已发货"), ShippingStatus.DELIVERED: _l("已签收")}


class OrderError(DomainError):
    """A rule was broken; the message is safe to show."""


def mask_phone(phone: str | None) -> str:
    """138****5678: enough for the clerk to ask "ending 5678?", not enough to call."""
    phone = (phone or "").strip()
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "****" if phone else ""


# --- orders from Douyin -------------------------------------------------------------------------


def _paid_at(msg: dict, now: datetime) -> datetime:
    stamp = msg.get("event_time") or msg.get("pay_time")
    try:
        value = int(stamp)
    except (TypeError, ValueError):
        return now
    if value > 10**11:
        value //= 1000
    return datetime.fromtimestamp(value, tz=UTC)


def _enum(enum, value, default):
    try:
        return enum(str(value))
    except ValueError:
        return default


def _int(value, default=0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def create_order_from_payment(organization_id: int, msg: dict, *, now: datetime) -> Order | None:
    """Create the order, its items and its vouchers from a `payment` callback msg.

    Idempotent on Douyin's order_id: a second call returns the existing order and changes
    nothing. A CANCEL (abandoned payment) creates nothing. In-store orders get one voucher per
    unit and use (a 次卡 of N uses bought twice = 2N vouchers); local codes (delivery_type 0) are
    pushed to Douyin through the outbox. Sends `order_paid`.
    """
    if str(msg.get("status", "")).upper() != "SUCCESS":
        return None
    douyin_order_id = str(msg.get("order_id") or "")
    if not douyin_order_id:
        raise OrderError("payment callback without order_id")
    existing = db.session.scalar(select(Order).where(Order.douyin_order_id == douyin_order_id))
    if existing is not None:
        return existing

    poi_id = str(msg.get("poi_id") or "")
    store = None
    if poi_id:
        store = db.session.scalar(select(Store).where(Store.organization_id == organization_id, Store.douyin_poi_id == poi_id))
    paid_at = _paid_at(msg, now)
    total = _int(msg.get("total_amount"))
    discount = min(_int(msg.get("discount_amount")), total)
    buyer = msg.get("buyer") or {}
    entries = msg.get("item_order_list") or []
    out_ids = {str(e.get("out_product_id") or "") for e in entries} - {""}
    products = {}
    if out_ids:
        products = {
            p.out_id: p
            for p in db.session.scalars(select(Product).where(Product.organization_id == organization_id, Product.out_id.in_(out_ids)))
        }
    matched = [products.get(str(e.get("out_product_id") or "")) for e in entries]
    courier = bool(matched) and all(p is not None and p.kind == ProductKind.GOODS for p in matched)

    order = Order(
        organization_id=organization_id,
        store_id=store.id if store else None,
        douyin_order_id=douyin_order_id,
        out_order_no=str(msg.get("out_order_no") or douyin_order_id),
        status=OrderStatus.PAID,
        fulfilment=Fulfilment.COURIER if courier else Fulfilment.IN_STORE,
        total_fen=total,
        discount_fen=discount,
        paid_fen=total - discount,
        paid_at=paid_at,
        buyer_phone=str(buyer.get("phone") or "")[:32],
        buyer_open_id=str(buyer.get("open_id") or "")[:64],
        source=_enum(OrderSource, msg.get("order_source"), OrderSource.NORMAL),
        channel=_enum(Channel, msg.get("channel"), Channel.OTHER),
        tracking_code=str(msg.get("tracking_code") or "")[:64],
        douyin_poi_id=poi_id[:32],
        shipping_status=ShippingStatus.PENDING if courier else "",
        created_at=now,
    )
    db.session.add(order)
    db.session.flush()

    kind = VoucherKind.DOUYIN if _int(msg.get("delivery_type")) == 1 else VoucherKind.LOCAL
    pushed = []
    for entry, product in zip(entries, matched):
        item = OrderItem(
            order_id=order.id,
            product_id=product.id if product else None,
            title=str(entry.get("title") or (product.name if product else ""))[:100],
            quantity=max(_int(entry.get("quantity"), 1), 1),
            unit_price_fen=_int(entry.get("price")),
            douyin_item_order_id=str(entry.get("item_order_id") or "")[:64],
        )
        db.session.add(item)
        db.session.flush()
        if courier:
            continue
        uses = max(product.uses, 1) if product and product.kind == ProductKind.COUNT_CARD else 1
        valid_days = product.valid_days if product and product.valid_days else DEFAULT_VALID_DAYS
        for unit in range(item.quantity):
            for use in range(uses):
                if kind == VoucherKind.LOCAL:
                    code = _unique_code()
                else:
                    # The certificate's own code is Douyin's; ours only names the sub-order and use.
                    code = f"DY{item.douyin_item_order_id or item.id}-{unit * uses + use + 1}"[:64]
                voucher = Voucher(
                    organization_id=organization_id,
                    order_id=order.id,
                    order_item_id=item.id,
                    kind=kind,
                    code=code,
                    status=VoucherStatus.UNUSED,
                    valid_from=paid_at,
                    valid_until=paid_at + timedelta(days=valid_days),
                )
                db.session.add(voucher)
                if kind == VoucherKind.LOCAL and item.douyin_item_order_id:
                    pushed.append({"code": code, "item_order_id": item.douyin_item_order_id})
    db.session.flush()
    if pushed:
        outbox.add(
            organization_id,
            PUSH_DELIVERY,
            {"order_id": douyin_order_id, "out_order_no": order.out_order_no, "codes": pushed},
            dedupe_key=f"push:{douyin_order_id}",
        )
    audit.record(
        "orders.order.created",
        obj=order,
        douyin_order_id=douyin_order_id,
        paid_fen=order.paid_fen,
        vouchers=len(pushed) if kind == VoucherKind.LOCAL else None,
        unmatched_products=sorted(str(e.get("out_product_id")) for e, p in zip(entries, matched) if p is None),
    )
    signals.order_paid.send(order)
    return order


def _unique_code() -> str:
    for _ in range(5):
        code = codes.new_code()
        if db.session.scalar(select(Voucher.id).where(Voucher.code == code)) is None:
            return code
    raise RuntimeError("could not draw an unused voucher code")  # 10^15 codes: never in practice


def handle_payment_event(event) -> Order | None:
    """The `payment` callback handler (idempotent: replays find the order by Douyin's id)."""
    from portal import clock

    return create_order_from_payment(event.organization_id, event.payload or {}, now=clock.now())


# --- where a voucher can be used ----------------------------------------------------------------


def store_ids_for(voucher: Voucher) -> list[int] | None:
    """The stores where a voucher may be redeemed; None means any store of the merchant."""
    product = voucher.item.product if voucher.item else None
    if product is not None and product.stores:
        return [s.id for s in product.stores]
    if voucher.order.store_id:
        return [voucher.order.store_id]
    return None


def valid_at(voucher: Voucher, store_id: int) -> bool:
    ids = store_ids_for(voucher)
    return ids is None or store_id in ids


# --- completion and shipping --------------------------------------------------------------------


def complete_if_done(order: Order, *, now: datetime, statuses: list[str] | None = None) -> bool:
    """Mark an in-store order completed once every voucher is redeemed or refunded; sends
    `order_completed` once. Returns True when it completed the order now. Idempotent.

    `statuses` are the order's voucher statuses when the caller has just read them."""
    if order.status != OrderStatus.PAID or order.fulfilment != Fulfilment.IN_STORE:
        return False
    if statuses is None:
        statuses = db.session.scalars(select(Voucher.status).where(Voucher.order_id == order.id)).all()
    if not statuses or any(s not in FINAL_VOUCHER_STATES for s in statuses):
        return False
    if all(s == VoucherStatus.REFUNDED for s in statuses):
        return False  # a whole refund is the ledger's order_refunded, not a completion
    order.status = OrderStatus.COMPLETED
    order.completed_at = now
    db.session.flush()
    signals.order_completed.send(order)
    return True


def reopen_if_undone(order: Order) -> None:
    """An undone redemption puts a completed in-store order back to paid (Douyin's order goes back to 待使用)."""
    if order.status == OrderStatus.COMPLETED and order.fulfilment == Fulfilment.IN_STORE:
        order.status = OrderStatus.PAID
        order.completed_at = None


_NEXT_SHIPPING = {ShippingStatus.PENDING: ShippingStatus.SHIPPED, ShippingStatus.SHIPPED: ShippingStatus.DELIVERED}


def update_shipping(order: Order, status: str, *, actor, now: datetime) -> Order:
    """Move a courier order along pending → shipped → delivered; delivered completes it
    (`order_completed`). Raises OrderError for a non-courier order or a step backwards."""
    if order.fulfilment != Fulfilment.COURIER:
        raise OrderError(_l("只有快递配送的订单有发货状态"), field="status")
    if order.status != OrderStatus.PAID:
        raise OrderError(_l("该订单已结束，不能再修改发货状态"), field="status")
    current = ShippingStatus(order.shipping_status or ShippingStatus.PENDING)
    if _NEXT_SHIPPING.get(current) != status:
        raise OrderError(_l("发货状态只能按 待发货 → 已发货 → 已签收 依次更新"), field="status")
    order.shipping_status = status
    audit.record("orders.shipping.updated", actor=actor, obj=order, status=status)
    if status == ShippingStatus.DELIVERED:
        order.status = OrderStatus.COMPLETED
        order.completed_at = now
        db.session.flush()
        signals.order_completed.send(order)
    return order


# --- lists --------------------------------------------------------------------------------------


def filter_orders(stmt: Select, *, status: str = "", fulfilment: str = "", source: str = "", channel: str = "", q: str = "", store_id: int | None = None) -> Select:
    """Apply the order list's filters to a tenancy-scoped select of Order."""
    if status:
        stmt = stmt.where(Order.status == status)
    if fulfilment:
        stmt = stmt.where(Order.fulfilment == fulfilment)
    if source:
        stmt = stmt.where(Order.source == source)
    if channel:
        stmt = stmt.where(Order.channel == channel)
    if store_id:
        stmt = stmt.where(Order.store_id == store_id)
    q = (q or "").strip()
    if q:
        code_match = select(Voucher.order_id).where(Voucher.code == codes.normalize(q))
        stmt = stmt.where(
            (Order.douyin_order_id == q) | (Order.out_order_no == q) | (Order.id.in_(code_match)) | (Order.buyer_phone.like(f"%{q[-4:]}") if q.isdigit() and len(q) == 4 else False)
        )
    return stmt.order_by(Order.paid_at.desc(), Order.id.desc())


def voucher_counts(order_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    if not order_ids:
        return counts
    rows = db.session.execute(
        select(Voucher.order_id, Voucher.status, func.count()).where(Voucher.order_id.in_(order_ids)).group_by(Voucher.order_id, Voucher.status)
    )
    for order_id, status, n in rows:
        counts.setdefault(order_id, {})[status] = n
    return counts


def next_shipping(order: Order) -> str:
    current = ShippingStatus(order.shipping_status) if order.shipping_status else ShippingStatus.PENDING
    return (_NEXT_SHIPPING.get(current) or current).value


def store_names(voucher: Voucher) -> str:
    ids = store_ids_for(voucher)
    if ids is None:
        return str(_l("全部门店"))
    return "、".join(db.session.scalars(select(Store.name).where(Store.id.in_(ids)).order_by(Store.id)))


def order_history(order: Order) -> list:
    """Every counter attempt on this order's vouchers, newest first (the redemption log)."""
    from portal.redemption.models import RedemptionAttempt

    voucher_ids = [v.id for v in order.vouchers]
    if not voucher_ids:
        return []
    return list(
        db.session.scalars(
            select(RedemptionAttempt).where(RedemptionAttempt.voucher_id.in_(voucher_ids)).order_by(RedemptionAttempt.at.desc(), RedemptionAttempt.id.desc())
        )
    )


def refunds_of(order: Order) -> list:
    """The ledger's refund requests of this order (read-only; refunds are the ledger's domain)."""
    try:
        from portal.ledger.models import RefundRequest
    except ImportError:
        return []
    return list(db.session.scalars(select(RefundRequest).where(RefundRequest.order_id == order.id).order_by(RefundRequest.created_at.desc())))
