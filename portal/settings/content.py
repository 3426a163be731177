"""Content and attribution: short videos and live streams with their mounted products and tracking codes.

A content is tagged with one store's POI; every mounted product must be bound to that same POI
(Product.stores ↔ Store.douyin_poi_id), otherwise Douyin would send the buyer to another store.
Each content gets a tracking code `<shortvideo|live>_<MMDD>_douyin` (a suffix keeps it unique)
that orders carry in `Order.tracking_code`.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import func, select

from portal import audit, clock
from portal.accounts.models import Organization, Store
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.settings.errors import SettingsError
from portal.settings.models import Content, ContentKind

PREFIX = {ContentKind.SHORT_VIDEO: "shortvideo", ContentKind.LIVE: "live"}
CHANNEL = {ContentKind.SHORT_VIDEO: "short_video", ContentKind.LIVE: "live"}


def mount_problem(product, store: Store) -> str | None:
    """Why `product` cannot be mounted on content tagged with `store`'s POI, or None when it can."""
    if not store.douyin_poi_id:
        return str(_l("门店「%(store)s」尚未绑定抖音门店（POI），请先在抖音推广向导中绑定", store=store.name))
    pois = {s.douyin_poi_id for s in product.stores if s.douyin_poi_id}
    if store.douyin_poi_id not in pois:
        where = "、".join(s.name for s in product.stores) or str(_l("未选择门店"))
        return str(
            _l(
                "商品「%(product)s」未绑定门店「%(store)s」的 POI（%(poi)s），当前适用门店：%(where)s。请在商品库中为该商品添加此门店，或改选内容的门店。",
                product=product.name,
                store=store.name,
                poi=store.douyin_poi_id,
                where=where,
            )
        )
    return None


def tracking_code(kind: str, published_on: date) -> str:
    """`shortvideo_0309_douyin`; a second content of the same kind and day gets `_2`, and so on."""
    base = f"{PREFIX[ContentKind(kind)]}_{published_on:%m%d}_douyin"
    taken = set(db.session.scalars(select(Content.tracking_code).where(Content.tracking_code.like(base + "%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def register_content(org: Organization, *, kind: str, title: str, douyin_item_id: str, published_on: date, store: Store, products: list, actor) -> Content:
    """Register a short video or live stream with its mounted products; every product must be bound
    to the content's POI (SettingsError on `products` saying why not). Audited."""
    if kind not in {k.value for k in ContentKind}:
        raise SettingsError(_l("请选择内容类型"), field="kind")
    title, douyin_item_id = (title or "").strip(), (douyin_item_id or "").strip()
    if not title:
        raise SettingsError(_l("请输入标题"), field="title")
    if not douyin_item_id:
        raise SettingsError(_l("请输入抖音作品 ID"), field="douyin_item_id")
    if db.session.scalar(select(Content.id).where(Content.organization_id == org.id, Content.douyin_item_id == douyin_item_id)):
        raise SettingsError(_l("该抖音作品已登记"), field="douyin_item_id")
    if not products:
        raise SettingsError(_l("请至少挂载一个商品"), field="product_ids")
    problems = [p for p in (mount_problem(product, store) for product in products) if p]
    if problems:
        raise SettingsError("；".join(problems), field="product_ids")
    content = Content(
        organization_id=org.id,
        store_id=store.id,
        kind=kind,
        title=title,
        douyin_item_id=douyin_item_id,
        published_on=published_on,
        tracking_code=tracking_code(kind, published_on),
        created_at=clock.now(),
    )
    content.products = list(products)
    db.session.add(content)
    db.session.flush()
    audit.record("settings.content.registered", actor=actor, obj=content, tracking_code=content.tracking_code, product_ids=[p.id for p in products])
    return content


def tracking_link(content: Content) -> str:
    """The link to share: the first mounted product's page on Douyin (the sandbox's consumer page) with the code."""
    product = next((p for p in content.products if p.douyin_product_id), None)
    query = {"tracking_code": content.tracking_code, "channel": CHANNEL[ContentKind(content.kind)]}
    if content.store and content.store.douyin_poi_id:
        query["poi_id"] = content.store.douyin_poi_id
    base = current_app.config["DOUYIN_API_BASE"].rstrip("/")
    path = f"/consumer/product/{product.douyin_product_id}" if product else "/consumer/"
    return f"{base}{path}?{urlencode(query)}"


def performance(org_id: int, codes: list[str]) -> dict[str, dict[str, int]]:
    """Per tracking code: orders, paid fen and redeemed vouchers of orders that carry it."""
    from portal.orders.models import Order, Voucher, VoucherStatus

    result = {code: {"orders": 0, "paid_fen": 0, "redeemed": 0} for code in codes}
    if not codes:
        return result
    for code, count, paid in db.session.execute(
        select(Order.tracking_code, func.count(Order.id), func.coalesce(func.sum(Order.paid_fen), 0))
        .where(Order.organization_id == org_id, Order.tracking_code.in_(codes))
        .group_by(Order.tracking_code)
    ):
        result[code].update(orders=count, paid_fen=int(paid))
    for code, redeemed in db.session.execute(
        select(Order.tracking_code, func.count(Voucher.id))
        .join(Voucher, Voucher.order_id == Order.id)
        .where(Order.organization_id == org_id, Order.tracking_code.in_(codes), Voucher.status == VoucherStatus.REDEEMED)
        .group_by(Order.tracking_code)
    ):
        result[code]["redeemed"] = redeemed
    return result
