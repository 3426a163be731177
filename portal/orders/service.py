"""Orders: placed by the mini-program before payment, made real by Douyin's payment callback and
completed from order_query; their vouchers, completion and courier shipping."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, literal, or_, select, tuple_
from sqlalchemy.orm import selectinload

from portal import audit, outbox, signals
from portal.accounts.models import Store
from portal.catalog.models import Product, ProductKind
from portal.douyin import replies, signing
from portal.douyin.shapes import read
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders import codes, shipping
from portal.orders.models import (
    Channel,
    Fulfilment,
    Order,
    OrderItem,
    OrderSource,
    OrderStatus,
    PreOrder,
    PreOrderStatus,
    ShippingStatus,
    TradeFamily,
    Voucher,
    VoucherKind,
    VoucherStatus,
)

log = logging.getLogger(__name__)

ORDER_QUERY = "orders.order_query"
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


# --- orders placed in the mini-program ---------------------------------------------------------

# tt.requestOrder (likuisuper/pay-gateway douyinGeneralTrade.go RequestOrderData): payExpireSeconds
# defaults to 300 and may not exceed 48 hours; the pre-order lives as long as the payment may.
PAY_EXPIRE_SECONDS = 1800
MAX_QUANTITY = 10
# The endpoint is public (the mini-program has no session): a buyer and an address may place
# this many pre-orders per window, enough for a hesitant customer, not for a script.
RATE_WINDOW = timedelta(minutes=10)
RATE_PER_BUYER = 10
RATE_PER_ADDRESS = 60
ORDER_ENTRY_PATH = "pages/order/detail"
_TRACKING_CHANNELS = {"shortvideo": Channel.SHORT_VIDEO, "live": Channel.LIVE}


class PreOrderThrottled(OrderError):
    """Too many pre-orders from one buyer or address (HTTP 429)."""


def channel_of(tracking_code: str, given: str = "") -> Channel:
    """The channel a tracking code names (`shortvideo_1122_douyin` → short video); a code we did
    not issue leaves the channel the mini-program reported, else OTHER."""
    prefix = (tracking_code or "").split("_", 1)[0]
    if prefix in _TRACKING_CHANNELS:
        return _TRACKING_CHANNELS[prefix]
    return _enum(Channel, given, Channel.OTHER)


def _new_out_order_no(now: datetime) -> str:
    for _ in range(5):
        candidate = f"MP{now:%y%m%d%H%M%S}{secrets.token_hex(5).upper()}"
        taken = db.session.scalar(select(PreOrder.id).where(PreOrder.out_order_no == candidate))
        if taken is None and db.session.scalar(select(Order.id).where(Order.out_order_no == candidate)) is None:
            return candidate
    raise RuntimeError("could not draw an unused out_order_no")  # 16^10 per second: never in practice


def _throttle(organization_id: int, open_id: str, client_ip: str, now: datetime) -> None:
    since = now - RATE_WINDOW
    count = lambda *where: db.session.scalar(select(func.count(PreOrder.id)).where(PreOrder.created_at >= since, *where))  # noqa: E731
    if count(PreOrder.organization_id == organization_id, PreOrder.buyer_open_id == open_id) >= RATE_PER_BUYER:
        raise PreOrderThrottled(_l("下单过于频繁，请稍后再试"))
    if client_ip and count(PreOrder.client_ip == client_ip) >= RATE_PER_ADDRESS:
        raise PreOrderThrottled(_l("下单过于频繁，请稍后再试"))


def place_order(
    organization_id: int,
    *,
    sku_id: str,
    poi_id: str,
    quantity: int,
    open_id: str,
    phone: str,
    channel: str = "",
    tracking_code: str = "",
    order_source: str = "",
    client_ip: str = "",
    voucher_kind: str = VoucherKind.LOCAL,
    now: datetime,
) -> PreOrder:
    """The mini-program places an order before payment: the product (our `out_id`, which is the
    `skuId` Douyin echoes in order_query), the store (its POI), quantity, buyer and attribution.

    Raises OrderError (with `field`) for a product that is not buyable, a store that does not
    sell it or a bad quantity, PreOrderThrottled past the rate limit. Not idempotent: each call
    is a new out_order_no (the front end asks again only when the buyer taps again).
    """
    product = db.session.scalar(select(Product).where(Product.organization_id == organization_id, Product.out_id == sku_id))
    if product is None or not product.buyable:
        raise OrderError(_l("商品不存在或已下架"), field="sku_id")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise OrderError(_l("每单可购买 1～%(n)s 份", n=MAX_QUANTITY), field="quantity")
    store = None
    if poi_id:
        store = db.session.scalar(select(Store).where(Store.organization_id == organization_id, Store.douyin_poi_id == poi_id))
        if store is None or (product.stores and store not in product.stores):
            raise OrderError(_l("该门店不售卖此商品"), field="poi_id")
    _throttle(organization_id, open_id, client_ip, now)
    tracking_code = (tracking_code or "")[:64]
    pre = PreOrder(
        organization_id=organization_id,
        out_order_no=_new_out_order_no(now),
        status=PreOrderStatus.PENDING,
        product_id=product.id,
        store_id=store.id if store else None,
        douyin_poi_id=(poi_id or "")[:32],
        title=product.name[:100],
        quantity=quantity,
        unit_price_fen=product.price_fen,
        total_fen=product.price_fen * quantity,
        voucher_kind=voucher_kind,
        buyer_phone=(phone or "")[:32],
        buyer_open_id=(open_id or "")[:64],
        source=_enum(OrderSource, order_source, OrderSource.NORMAL),
        channel=channel_of(tracking_code, channel),
        tracking_code=tracking_code,
        client_ip=(client_ip or "")[:45],
        created_at=now,
        expires_at=now + timedelta(seconds=PAY_EXPIRE_SECONDS),
    )
    db.session.add(pre)
    db.session.flush()
    audit.record("orders.pre_order.placed", obj=pre, out_order_no=pre.out_order_no, total_fen=pre.total_fen)
    return pre


def request_order_data(pre: PreOrder, *, sku_type: int, tag_group_id: str, image_url: str) -> str:
    """The `data` argument of tt.requestOrder, as the exact JSON string that is signed.

    Shape: likuisuper/pay-gateway RequestOrderData (skuList of one sku {skuId, price, quantity,
    title, imageList (one image), type, tagGroupId}, outOrderNo, totalAmount, payExpireSeconds,
    orderEntrySchema{path, params as a JSON string}); `type` and `tagGroupId` are the trade
    rule the merchant's goods belong to (tag_query)."""
    product = pre.product
    image = (product.images or [image_url])[0] if product is not None else image_url
    data = {
        "skuList": [{
            "skuId": product.out_id,
            "price": pre.unit_price_fen,
            "quantity": pre.quantity,
            "title": pre.title,
            "imageList": [image],
            "type": sku_type,
            "tagGroupId": tag_group_id,
        }],
        "outOrderNo": pre.out_order_no,
        "totalAmount": pre.total_fen,
        "payExpireSeconds": PAY_EXPIRE_SECONDS,
        "orderEntrySchema": {"path": ORDER_ENTRY_PATH, "params": json.dumps({"out_order_no": pre.out_order_no}, separators=(",", ":"))},
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def request_order_arguments(pre: PreOrder, credentials, *, sku_type: int, tag_group_id: str, image_url: str, now: datetime) -> dict:
    """{data, byteAuthorization} for tt.requestOrder, signed with the app private key.
    Raises OrderError when the trade system's key pair is not set up."""
    if not credentials.private_key_pem:
        raise OrderError(_l("商家尚未配置交易密钥，暂不能下单"))
    data = request_order_data(pre, sku_type=sku_type, tag_group_id=tag_group_id, image_url=image_url)
    authorization = signing.request_order_authorization(
        data=data, app_id=credentials.app_id, key_version=credentials.key_version,
        private_key_pem=credentials.private_key_pem, timestamp=int(now.timestamp()), nonce=secrets.token_hex(16),
    )
    return {"data": data, "byteAuthorization": authorization}


def find_pre_order(organization_id: int, out_order_no: str) -> PreOrder | None:
    return db.session.scalar(select(PreOrder).where(PreOrder.organization_id == organization_id, PreOrder.out_order_no == out_order_no))


# --- payment ------------------------------------------------------------------------------------


def _paid_at(event_time, now: datetime) -> datetime:
    try:
        value = int(event_time)
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


def confirm_payment(organization_id: int, msg, *, now: datetime) -> Order | None:
    """The `payment` callback: Douyin says an out_order_no was paid (or abandoned).

    The message carries payment facts only (likuisuper/pay-gateway GeneralTradeMsg). A SUCCESS
    for a pre-order of this organization whose amount matches turns it into the Order, its
    items (one per unit, as Douyin's item orders) and vouchers, and sends `order_paid`; the item
    order ids are learnt from order_query through the outbox. A SUCCESS for an out_order_no the
    portal never placed queues the same query, which completes the order (`complete_from_query`).
    A CANCEL closes the pre-order. Raises OrderError when the amount differs from the pre-order
    or the Douyin order belongs to another organization. Idempotent on Douyin's order_id.
    """
    douyin_order_id = str(msg["order_id"])
    out_order_no = str(msg["out_order_no"])
    pre = find_pre_order(organization_id, out_order_no)
    if str(msg["status"]).upper() != "SUCCESS":
        if pre is not None and pre.status == PreOrderStatus.PENDING:
            pre.status = PreOrderStatus.CANCELLED
        return None
    existing = db.session.scalar(select(Order).where(Order.douyin_order_id == douyin_order_id))
    if existing is not None:
        if existing.organization_id != organization_id:
            raise OrderError("payment callback for another organization's order")
        return existing
    total = int(msg["total_amount"])
    discount = min(int(msg.get("discount_amount") or 0), total)
    paid_at = _paid_at(msg["event_time"], now)
    query = {"order_id": douyin_order_id, "out_order_no": out_order_no, "paid_at": paid_at.isoformat()}
    if pre is None:
        outbox.add(organization_id, ORDER_QUERY, dict(query, unknown=True), dedupe_key=f"query:{douyin_order_id}")
        audit.record("orders.payment.unplaced", organization_id=organization_id, douyin_order_id=douyin_order_id, out_order_no=out_order_no)
        return None
    if total != pre.total_fen:
        raise OrderError(f"payment of {total} fen for pre-order {out_order_no} of {pre.total_fen} fen")
    product = pre.product
    order = _new_order(
        organization_id, douyin_order_id=douyin_order_id, out_order_no=out_order_no, total=total, discount=discount,
        paid_at=paid_at, now=now, courier=product is not None and product.kind == ProductKind.GOODS,
        store_id=pre.store_id, douyin_poi_id=pre.douyin_poi_id, buyer_phone=pre.buyer_phone, buyer_open_id=pre.buyer_open_id,
        source=pre.source, channel=pre.channel, tracking_code=pre.tracking_code,
    )
    for _ in range(pre.quantity):
        _add_item(order, product, title=pre.title, price=pre.unit_price_fen, kind=pre.voucher_kind, item_order_id="")
    pre.status = PreOrderStatus.PAID
    pre.order_id = order.id
    db.session.flush()
    outbox.add(organization_id, ORDER_QUERY, query, dedupe_key=f"query:{douyin_order_id}")
    audit.record("orders.order.created", obj=order, douyin_order_id=douyin_order_id, paid_fen=order.paid_fen, vouchers=len(order.vouchers))
    signals.order_paid.send(order)
    return order


def _new_order(organization_id: int, *, douyin_order_id: str, out_order_no: str, total: int, discount: int, paid_at: datetime, now: datetime,
               courier: bool, **placed) -> Order:
    order = Order(
        organization_id=organization_id,
        douyin_order_id=douyin_order_id,
        out_order_no=out_order_no,
        status=OrderStatus.PAID,
        fulfilment=Fulfilment.COURIER if courier else Fulfilment.IN_STORE,
        total_fen=total,
        discount_fen=discount,
        paid_fen=total - discount,
        paid_at=paid_at,
        shipping_status=ShippingStatus.PENDING if courier else "",
        created_at=now,
        **placed,
    )
    db.session.add(order)
    db.session.flush()
    return order


def _add_item(order: Order, product: Product | None, *, title: str, price: int, kind: str, item_order_id: str) -> OrderItem:
    """One unit bought (one Douyin item order) and its vouchers: one per use (a 次卡 of N uses is
    N vouchers, which the customer sees as one code, the first use's: `customer_vouchers`, and the
    counter redeems N times: redemption.find_voucher); courier orders have none."""
    item = OrderItem(order_id=order.id, product_id=product.id if product else None, title=title[:100], quantity=1,
                     unit_price_fen=price, douyin_item_order_id=item_order_id[:64])
    db.session.add(item)
    db.session.flush()
    if order.fulfilment == Fulfilment.COURIER:
        return item
    uses = max(product.uses, 1) if product and product.kind == ProductKind.COUNT_CARD else 1
    valid_days = product.valid_days if product and product.valid_days else DEFAULT_VALID_DAYS
    for use in range(uses):
        if kind == VoucherKind.LOCAL:
            code = _unique_code()
        else:
            # The certificate's own code is Douyin's; ours only names the item and the use.
            code = f"DY{item_order_id or item.id}-{use + 1}"[:64]
        db.session.add(Voucher(
            organization_id=order.organization_id, order_id=order.id, order_item_id=item.id, kind=kind, code=code,
            status=VoucherStatus.UNUSED, valid_from=order.paid_at, valid_until=order.paid_at + timedelta(days=valid_days),
        ))
    db.session.flush()
    return item


def apply_order_query(organization_id: int, query: dict, data, *, now: datetime) -> Order | None:
    """What order_query says about a paid order (`data` read with replies.ORDER_QUERY).

    For an order the portal placed, each unit's item gets its Douyin item_order_id (matched by
    sku_id, in order). For a payment the portal never placed (`query["unknown"]`), the order is
    completed from the query: items by sku_id from the product library (unknown skus keep their
    amount, without product), no store, buyer or attribution, flagged `completed_from_query`,
    and `order_paid` is sent. Nothing happens unless Douyin says the order is paid. Idempotent.
    """
    if str(data["pay_status"]).upper() != "SUCCESS":
        return None
    entries = list(data.get("item_order_list") or [])
    order = db.session.scalar(select(Order).where(Order.organization_id == organization_id, Order.douyin_order_id == str(data["order_id"])))
    if order is None and query.get("unknown"):
        return _complete_from_query(organization_id, query, data, entries, now=now)
    if order is None:
        return None
    known = {item.douyin_item_order_id for item in order.items} - {""}
    waiting: dict[str, list[OrderItem]] = {}
    for item in order.items:
        if not item.douyin_item_order_id:
            waiting.setdefault(item.product.out_id if item.product else "", []).append(item)
    for entry in entries:
        item_order_id = str(entry["item_order_id"])
        queue_ = waiting.get(str(entry["sku_id"])) or []
        if item_order_id in known or not queue_:
            continue
        queue_.pop(0).douyin_item_order_id = item_order_id[:64]
    db.session.flush()
    return order


def _complete_from_query(organization_id: int, query: dict, data, entries: list, *, now: datetime) -> Order:
    skus = {str(e["sku_id"]) for e in entries}
    products = {
        p.out_id: p
        for p in db.session.scalars(select(Product).where(Product.organization_id == organization_id, Product.out_id.in_(skus)))
    } if skus else {}
    matched = [products.get(str(e["sku_id"])) for e in entries]
    total = int(data["total_amount"])
    order = _new_order(
        organization_id, douyin_order_id=str(data["order_id"]), out_order_no=str(data["out_order_no"]), total=total,
        discount=min(int(data.get("discount_amount") or 0), total),
        paid_at=_paid_at(data.get("pay_time"), datetime.fromisoformat(query["paid_at"]) if query.get("paid_at") else now), now=now,
        courier=bool(matched) and all(p is not None and p.kind == ProductKind.GOODS for p in matched),
        completed_from_query=True,
    )
    for entry, product in zip(entries, matched):
        _add_item(order, product, title=product.name if product else str(entry["sku_id"]), price=int(entry["item_order_amount"]),
                  kind=VoucherKind.LOCAL, item_order_id=str(entry["item_order_id"]))
    audit.record("orders.order.completed_from_query", obj=order, douyin_order_id=order.douyin_order_id,
                 unmatched_skus=sorted(str(e["sku_id"]) for e, p in zip(entries, matched) if p is None))
    signals.order_paid.send(order)
    return order


def _unique_code() -> str:
    for _ in range(5):
        code = codes.new_code()
        if db.session.scalar(select(Voucher.id).where(Voucher.code == code)) is None:
            return code
    raise RuntimeError("could not draw an unused voucher code")  # 10^15 codes: never in practice


def handle_payment_event(event) -> Order | None:
    """The `payment` callback handler: the stored msg read with its reference shape."""
    from portal import clock

    return confirm_payment(event.organization_id, read(replies.PAYMENT_MSG, event.payload or {}), now=clock.now())


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


def cards(order: Order) -> list[list[Voucher]]:
    """The order's vouchers per item order, in id order: one use each, N for a 次卡."""
    by_item: dict[int, list[Voucher]] = {}
    for voucher in sorted(order.vouchers, key=lambda v: v.id):
        by_item.setdefault(voucher.order_item_id, []).append(voucher)
    return list(by_item.values())


def customer_vouchers(order: Order) -> list[dict]:
    """The codes as the customer sees them: one per item order. A 次卡's uses are one code (its
    first use's), `uses_left` of `uses_total`; its status is unused while a use is left, else
    that of its last use."""
    shown = []
    for uses in cards(order):
        left = sum(1 for v in uses if v.status == VoucherStatus.UNUSED)
        shown.append({
            "code": uses[0].code,
            "status": VoucherStatus.UNUSED if left else uses[-1].status,
            "item_order_id": uses[0].item.douyin_item_order_id,
            "valid_until": uses[0].valid_until.isoformat(),
            "uses_total": len(uses),
            "uses_left": left,
        })
    return shown


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


def update_shipping(order: Order, status: str, *, actor, now: datetime, carrier: str = "", tracking_number: str = "") -> Order:
    """Move a courier order along pending → shipped → delivered and tell Douyin (fulfill_push_status
    through the outbox: "fulfilling", then "fulfilled"). Shipping records the carrier and its
    tracking number; delivered completes the order (`order_completed`, which starts the settlement
    clock). Raises OrderError (with the field) for a non-courier order, a step backwards, an unknown
    carrier or a tracking number that cannot be the carrier's; nothing changes then."""
    if order.fulfilment != Fulfilment.COURIER:
        raise OrderError(_l("只有快递配送的订单有发货状态"), field="status")
    if order.status != OrderStatus.PAID:
        raise OrderError(_l("该订单已结束，不能再修改发货状态"), field="status")
    current = ShippingStatus(order.shipping_status or ShippingStatus.PENDING)
    if _NEXT_SHIPPING.get(current) != status:
        raise OrderError(_l("发货状态只能按 待发货 → 已发货 → 已签收 依次更新"), field="status")
    if status == ShippingStatus.SHIPPED:
        try:
            carrier, number = shipping.check_tracking(carrier, tracking_number)
        except shipping.TrackingError as error:
            raise OrderError(error.message, field=error.field) from None
        order.carrier_code, order.tracking_number, order.shipped_at = carrier, number, now
    order.shipping_status = status
    audit.record("orders.shipping.updated", actor=actor, obj=order, status=status,
                 carrier=order.carrier_code, tracking_number=order.tracking_number)
    to_status = shipping.TO_SHIPPED if status == ShippingStatus.SHIPPED else shipping.TO_DELIVERED
    if order.trade_family == TradeFamily.MINI_APP:
        outbox.add(order.organization_id, shipping.FULFIL, {"order_id": order.douyin_order_id, "to_status": to_status},
                   dedupe_key=f"{order.douyin_order_id}:{to_status}")
    if status == ShippingStatus.DELIVERED:
        order.delivered_at = now
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
        # Each alternative is one index lookup; PostgreSQL ORs their bitmaps. The voucher code is
        # unique, so its order is a scalar subquery (an IN under OR would scan the orders).
        matches = [Order.douyin_order_id == q, Order.out_order_no == q]
        if code := codes.normalize(q):
            matches.append(Order.id == select(Voucher.order_id).where(Voucher.code == code).scalar_subquery())
        if q.isascii() and q.isdigit() and len(q) == 4:
            matches.append(Order.buyer_phone_tail == q)
        stmt = stmt.where(or_(*matches))
    return stmt.order_by(Order.paid_at.desc(), Order.id.desc())


COUNT_CAP = 1000


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    count: int  # the orders passing the filters, counted no further than COUNT_CAP + 1
    next_before: int | None  # the order the next (older) page starts below
    prev_after: int | None  # the order the previous (newer) page starts above

    @property
    def count_label(self) -> str:
        return f"{COUNT_CAP}+" if self.count > COUNT_CAP else str(self.count)


def page_orders(stmt: Select, *, before: int | None = None, after: int | None = None, limit: int = 50) -> OrderPage:
    """One page of `stmt` (a `filter_orders` select, newest first): the first page, the page of
    orders older than order `before` or newer than order `after`, by keyset on (paid_at, id), so
    any page costs what the first does. The count stops past COUNT_CAP: a page view never counts a
    merchant's whole history. A cursor order that `stmt` does not select gives an empty page."""
    position = tuple_(Order.paid_at, Order.id)

    def cursor(order_id: int):
        paid_at = stmt.order_by(None).with_only_columns(Order.paid_at).where(Order.id == order_id).scalar_subquery()
        return tuple_(paid_at, literal(order_id))

    load = selectinload(Order.items)
    if after is not None:
        newer = stmt.where(position > cursor(after)).order_by(None).order_by(Order.paid_at.asc(), Order.id.asc())
        rows = list(db.session.scalars(newer.options(load).limit(limit + 1)))
        has_newer, rows = len(rows) > limit, list(reversed(rows[:limit]))
        has_older = bool(rows)  # the cursor order itself is older
    else:
        page = stmt if before is None else stmt.where(position < cursor(before))
        rows = list(db.session.scalars(page.options(load).limit(limit + 1)))
        has_older, rows = len(rows) > limit, rows[:limit]
        has_newer = before is not None and bool(rows)
    if before is None and after is None and not has_older:
        count = len(rows)  # the whole list is on this page
    else:
        capped = stmt.order_by(None).with_only_columns(Order.id).limit(COUNT_CAP + 1).subquery()
        count = db.session.scalar(select(func.count()).select_from(capped)) or 0
    return OrderPage(
        orders=rows,
        count=count,
        next_before=rows[-1].id if rows and has_older else None,
        prev_after=rows[0].id if rows and has_newer else None,
    )


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
