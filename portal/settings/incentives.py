"""Follow-up redemption incentives (限时核销激励): after the call-back, the merchant pushes a
time-limited offer (「3 天内到店核销送饮品」) to the buyer through a Douyin subscription message
(notify_user, through the outbox, as the after-payment message). Each order gets at most one,
with its deadline. It is taken up when a voucher of the order is redeemed by the deadline; that
is derived from the vouchers (an undone redemption un-takes it), so the counter's confirm does no
extra work for it. The counter shows the gift beside the voucher (`portal.settings.counter_card`);
the overview counts incentives sent and taken up (`counts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased, selectinload

from portal import audit, clock, outbox
from portal.accounts.models import Organization, Store
from portal.catalog.models import Product
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders.models import Fulfilment, Order, OrderStatus, Voucher, VoucherStatus
from portal.settings import features
from portal.settings.errors import SettingsError
from portal.settings.models import CallbackTask, IncentiveOffer, OrderIncentive
from portal.settings.service import render_fields, template_fields

MESSAGE_KIND = "settings.incentive_message"
PLACEHOLDERS = {
    "incentive": _l("激励内容"),
    "gift": _l("赠品"),
    "deadline": _l("截止时间"),
    "voucher_code": _l("核销码"),
    "store_name": _l("门店名称"),
    "order_no": _l("订单号"),
}
DEFAULT_BODY = "活动内容={incentive}\n截止时间={deadline}\n核销码={voucher_code}"
_TEMPLATE_ID = re.compile(r"^MSG[0-9A-Za-z_-]{1,125}$")


class IncentiveError(SettingsError):
    """An incentive that cannot be saved or pushed; the message is safe to show."""


def _fields(body: str) -> list[tuple[str, str]]:
    """The subscription template's field map, one `字段名=内容` line each, with this module's
    placeholders. Raises IncentiveError (field "body")."""
    return template_fields(body, placeholders=PLACEHOLDERS, error=IncentiveError)


def list_offers(org_id: int, *, active_only: bool = False) -> list[IncentiveOffer]:
    stmt = select(IncentiveOffer).where(IncentiveOffer.organization_id == org_id)
    if active_only:
        stmt = stmt.where(IncentiveOffer.active.is_(True))
    return db.session.scalars(stmt.order_by(IncentiveOffer.active.desc(), IncentiveOffer.id.desc())).all()


def add_offer(org: Organization, *, text: str, gift: str, valid_days: int | None, product_ids, template_id: str, body: str,
              actor) -> IncentiveOffer:
    """Create an incentive the merchant can push: the message text (at most 60 characters), the
    gift the counter hands over (at most 20), 1–30 days to redeem, at least one of the merchant's
    products, and the subscription template (MSG… id and field map) that carries it. Raises
    IncentiveError naming the field; nothing is saved then. Audited."""
    text, gift, template_id = (text or "").strip(), (gift or "").strip(), (template_id or "").strip()
    if not text:
        raise IncentiveError(_l("请填写激励内容，例如“3 天内到店核销送饮品”"), field="text")
    if len(text) > 60:
        raise IncentiveError(_l("激励内容不能超过 60 个字"), field="text")
    if not gift:
        raise IncentiveError(_l("请填写核销时赠送的东西，例如“饮品”"), field="gift")
    if len(gift) > 20:
        raise IncentiveError(_l("赠品不能超过 20 个字"), field="gift")
    if valid_days is None or not 1 <= valid_days <= 30:
        raise IncentiveError(_l("有效天数应在 1 到 30 之间"), field="valid_days")
    try:
        wanted = {int(p) for p in product_ids or ()}
    except (TypeError, ValueError):
        wanted = set()
    products = db.session.scalars(select(Product).where(Product.organization_id == org.id, Product.id.in_(wanted))).all() if wanted else []
    if not products or len(products) != len(wanted):
        raise IncentiveError(_l("请至少选择一个适用商品"), field="product_ids")
    if not _TEMPLATE_ID.match(template_id):
        raise IncentiveError(_l("模板 ID 以 MSG 开头，见抖音开发者后台“订阅消息”"), field="template_id")
    fields = _fields(body)
    offer = IncentiveOffer(organization_id=org.id, text=text, gift=gift, valid_days=valid_days, template_id=template_id,
                           body="\n".join(f"{name}={value}" for name, value in fields), active=True, created_at=clock.now())
    offer.products = list(products)
    db.session.add(offer)
    db.session.flush()
    audit.record("settings.incentive_offer.added", actor=actor, obj=offer, organization_id=org.id, text=text, gift=gift,
                 valid_days=valid_days, products=sorted(p.id for p in products))
    return offer


def set_offer_active(offer: IncentiveOffer, active: bool, *, actor) -> None:
    """Switch an offer on or off; incentives already pushed keep their deadline. Audited when it changes."""
    if offer.active != active:
        offer.active = active
        audit.record("settings.incentive_offer.switched", actor=actor, obj=offer, organization_id=offer.organization_id, active=active)
    db.session.flush()


def _product_ids(order: Order) -> set[int]:
    return {item.product_id for item in order.items if item.product_id is not None}


def offers_for(order: Order, offers: list[IncentiveOffer]) -> list[IncentiveOffer]:
    """The active offers among `offers` that cover a product of the order."""
    products = _product_ids(order)
    return [o for o in offers if o.active and products & {p.id for p in o.products}]


def _unused_voucher(order_id):
    return exists().where(Voucher.order_id == order_id, Voucher.status == VoucherStatus.UNUSED)


def pushable_orders(org_id: int, store_ids, *, limit: int = 100) -> list[Order]:
    """Orders whose buyer was called back (回访任务 marked 已联系) and may get an incentive: paid,
    in store, with an unused voucher, a Douyin buyer to message, and none pushed yet. Latest
    call-back first."""
    stmt = (
        select(Order)
        .join(CallbackTask, CallbackTask.order_id == Order.id)
        .where(Order.organization_id == org_id, CallbackTask.contacted_at.is_not(None), Order.status == OrderStatus.PAID,
               Order.fulfilment == Fulfilment.IN_STORE, Order.buyer_open_id != "", _unused_voucher(Order.id),
               ~exists().where(OrderIncentive.order_id == Order.id))
        .options(selectinload(Order.items))
        .order_by(CallbackTask.contacted_at.desc(), Order.id.desc())
        .limit(limit)
    )
    if store_ids is not None:
        stmt = stmt.where(Order.store_id.in_(store_ids))
    return db.session.scalars(stmt).all()


def _values(order: Order, offer: IncentiveOffer, deadline: datetime) -> dict[str, str]:
    store = db.session.get(Store, order.store_id) if order.store_id else None
    codes = [v.code for v in order.vouchers if v.status == VoucherStatus.UNUSED]
    return {
        "incentive": offer.text,
        "gift": offer.gift,
        "deadline": deadline.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        "voucher_code": "、".join(codes) or "—",
        "store_name": store.name if store else "",
        "order_no": order.douyin_order_id,
    }


def push(order: Order, offer: IncentiveOffer, *, actor, now: datetime) -> OrderIncentive:
    """Push `offer` to the order's buyer: records it with its deadline (now + the offer's days)
    and queues the subscription message (notify_user, through the outbox: retried while Douyin
    is down). Raises IncentiveError when the follow-up messages feature is off, the offer is off,
    of another merchant or not for the order's products, the order has no unused voucher or no
    Douyin buyer, or already got an incentive (one per order: pushing twice changes nothing). Audited."""
    if offer.organization_id != order.organization_id:
        raise IncentiveError(_l("没有这个激励"), field="offer_id")
    if not features.enabled(order.organization_id, "followup_messages"):
        raise IncentiveError(_l("当前版本未开通订阅消息，不能推送激励"), field="offer_id")
    if not offer.active:
        raise IncentiveError(_l("该激励已停用"), field="offer_id")
    if offer not in offers_for(order, [offer]):
        raise IncentiveError(_l("该激励不适用于这个订单的商品"), field="offer_id")
    if db.session.scalar(select(OrderIncentive.id).where(OrderIncentive.order_id == order.id)) is not None:
        raise IncentiveError(_l("这个订单已经推送过核销激励"), field="offer_id")
    if order.status != OrderStatus.PAID or not db.session.scalar(select(_unused_voucher(order.id))):
        raise IncentiveError(_l("这个订单没有未使用的券，不需要推送"), field="offer_id")
    if not order.buyer_open_id:
        raise IncentiveError(_l("这个订单没有抖音买家标识，无法发送订阅消息"), field="offer_id")
    deadline = now + timedelta(days=offer.valid_days)
    incentive = OrderIncentive(organization_id=order.organization_id, store_id=order.store_id, order_id=order.id, offer_id=offer.id,
                               text=offer.text, gift=offer.gift, sent_at=now, deadline_at=deadline,
                               sent_by_id=getattr(actor, "id", None))
    db.session.add(incentive)
    db.session.flush()
    values = _values(order, offer, deadline)
    data = render_fields(offer.body, values, placeholders=PLACEHOLDERS, error=IncentiveError)
    outbox.add(order.organization_id, MESSAGE_KIND, {"msg_id": offer.template_id, "open_id": order.buyer_open_id, "data": data, "page": ""},
               dedupe_key=f"incentive:{order.id}")
    audit.record("settings.incentive.pushed", actor=actor, obj=incentive, organization_id=order.organization_id, order_id=order.id,
                 offer_id=offer.id, deadline=deadline.isoformat())
    db.session.flush()
    return incentive


def first_redeemed_at(order_id):
    """The first redemption of the order's vouchers that still stands, as a correlated scalar (on
    its own alias of the vouchers, so it also correlates from a query over vouchers)."""
    other = aliased(Voucher)
    return (select(func.min(other.redeemed_at))
            .where(other.order_id == order_id, other.status == VoucherStatus.REDEEMED)
            .scalar_subquery())


@dataclass
class SentRow:
    incentive: OrderIncentive
    order_no: str
    redeemed_at: datetime | None

    def state(self, now: datetime) -> str:
        """"taken" (redeemed by the deadline), "open" (not yet, still time) or "expired"."""
        if self.redeemed_at is not None and self.redeemed_at <= self.incentive.deadline_at:
            return "taken"
        return "open" if now <= self.incentive.deadline_at and self.redeemed_at is None else "expired"


def list_sent(org_id: int, store_ids, *, limit: int = 100) -> list[SentRow]:
    """The latest incentives pushed, with each order's first standing redemption (one query)."""
    stmt = (
        select(OrderIncentive, Order.douyin_order_id, first_redeemed_at(OrderIncentive.order_id))
        .join(Order, Order.id == OrderIncentive.order_id)
        .where(OrderIncentive.organization_id == org_id)
        .order_by(OrderIncentive.sent_at.desc(), OrderIncentive.id.desc())
        .limit(limit)
    )
    if store_ids is not None:
        stmt = stmt.where(OrderIncentive.store_id.in_(store_ids))
    return [SentRow(incentive, order_no, redeemed) for incentive, order_no, redeemed in db.session.execute(stmt)]


@dataclass(frozen=True)
class Counts:
    sent: int = 0
    taken: int = 0

    @property
    def rate(self) -> int | None:
        """Taken up per sent, in whole percent (None when nothing was sent)."""
        return None if not self.sent else round(self.taken * 100 / self.sent)


def counts(org_id: int, store_ids, day_from: date, day_to: date) -> Counts:
    """For the overview: incentives sent in the period (by the day they were pushed) and taken up
    in it (by the day of the redemption that took them up, made by the deadline); Beijing days."""
    from portal.insights.aggregation import day_bounds

    start, end = day_bounds(day_from, day_to)
    redeemed = first_redeemed_at(OrderIncentive.order_id)
    stmt = select(
        func.count().filter(and_(OrderIncentive.sent_at >= start, OrderIncentive.sent_at < end)),
        func.count().filter(and_(redeemed >= start, redeemed < end, redeemed <= OrderIncentive.deadline_at)),
    ).where(OrderIncentive.organization_id == org_id, OrderIncentive.sent_at < end)
    if store_ids is not None:
        stmt = stmt.where(OrderIncentive.store_id.in_(store_ids))
    sent, taken = db.session.execute(stmt).one()
    return Counts(sent or 0, taken or 0)

