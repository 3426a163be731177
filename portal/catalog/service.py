"""Catalogue rules: products, review status, online/offline here and on Douyin, pausing, conflicts.

Services flush and never commit. Anything Douyin must learn about goes through the outbox in the
caller's transaction (kinds `catalog.product.save` and `catalog.product.operate`, delivered by
portal.catalog.handlers), so a Douyin outage delays it and loses nothing.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import Select, bindparam, exists, func, literal_column, or_, select

from portal import audit, clock, notifications, outbox, security, signals
from portal.accounts.models import Store
from portal.catalog import images
from portal.catalog.models import Product, ProductConflict, ProductKind, ReviewStatus, product_stores
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l

SAVE_KIND = "catalog.product.save"
OPERATE_KIND = "catalog.product.operate"
# goods/product/save's biz_line: the value of every public sample of the call.
BIZ_LINE = 1
# sku attr code_source_type: 2 = 三方码, the portal issues the voucher codes itself.
CODE_SOURCE_THIRD_PARTY = "2"

# Douyin product_type of goods sent by courier (快递商品): goods, not a voucher, so Douyin issues
# no code and offers no booking. Unconfirmed: the public references name 1, 3, 4, 5, 7, 8, 11, 12
# and 15 (all vouchers, tickets or stays) and no goods value; the sandbox takes this one.
COURIER_PRODUCT_TYPE = 2
# Douyin product_type per kind. Douyin refuses card items, so a 次卡 is a 团购套餐 whose sku
# `commodity` is one item counted in 次.
PRODUCT_TYPES = {
    ProductKind.GROUPON: 1,
    ProductKind.VOUCHER: 11,
    ProductKind.COUNT_CARD: 1,
    ProductKind.GOODS: COURIER_PRODUCT_TYPE,
}
KIND_LABELS = {
    ProductKind.GROUPON: _l("团购套餐"),
    ProductKind.VOUCHER: _l("代金券"),
    ProductKind.COUNT_CARD: _l("次卡"),
    ProductKind.GOODS: _l("快递商品"),
}
REVIEW_LABELS = {
    ReviewStatus.DRAFT: _l("草稿"),
    ReviewStatus.REVIEWING: _l("审核中"),
    ReviewStatus.APPROVED: _l("已通过"),
    ReviewStatus.REJECTED: _l("审核未通过"),
}
# Where a product stands on its way to being sold, as the merchant reads it: the review status,
# and for an approved product whether it is on sale on Douyin yet (review_stage).
APPROVED_OFFLINE = "approved_offline"
STAGE_LABELS = {
    ReviewStatus.DRAFT: _l("草稿"),
    ReviewStatus.REVIEWING: _l("审核中"),
    ReviewStatus.REJECTED: _l("审核未通过"),
    APPROVED_OFFLINE: _l("已通过·待上架"),
    ReviewStatus.APPROVED: _l("已通过·已上架"),
}
# Douyin draft_status -> our review status (doc §3).
REVIEW_BY_DRAFT_STATUS = {
    10: ReviewStatus.REVIEWING,
    20: ReviewStatus.REVIEWING,
    1: ReviewStatus.APPROVED,
    11: ReviewStatus.APPROVED,
    22: ReviewStatus.APPROVED,
    12: ReviewStatus.REJECTED,
    21: ReviewStatus.REJECTED,
}
CONTENT_FIELDS = ("name", "original_price_fen", "price_fen", "stock", "category_id", "poi_ids", "sold_start", "sold_end")
FIELD_LABELS = {
    "name": _l("名称"),
    "original_price_fen": _l("原价"),
    "price_fen": _l("售价"),
    "stock": _l("库存"),
    "category_id": _l("类目"),
    "poi_ids": _l("适用门店"),
    "sold_start": _l("开售时间"),
    "sold_end": _l("停售时间"),
    "review_status": _l("审核状态"),
    "review_reason": _l("驳回原因"),
    "douyin_online": _l("抖音上下架"),
}


class CatalogError(DomainError):
    """A catalogue rule was broken; the message is safe to show. `field` names the form field, if any."""


class NotConnectedError(CatalogError):
    """Douyin promotion is not connected yet: the page offers the way to connect it."""


@dataclass
class ProductData:
    """What the merchant edits. Money is already fen (parsed by money.parse_yuan in the form)."""

    kind: str
    name: str
    original_price_fen: int
    price_fen: int
    description: str = ""
    images: list[str] = field(default_factory=list)
    category_id: str | None = None
    category_name: str | None = None
    stock: int = 0
    uses: int = 1
    sold_start_at: datetime | None = None
    sold_end_at: datetime | None = None
    valid_days: int = 90
    usage_rules: str = ""
    store_ids: list[int] = field(default_factory=list)
    local_online: bool = True


# --- reading -------------------------------------------------------------------------------


def valid_at(store_ids):
    """The product is valid at one of `store_ids` (values or bound parameters), checked per product."""
    return exists().where(product_stores.c.product_id == Product.id, product_stores.c.store_id.in_(store_ids))


def visible(stmt: Select, store_ids: frozenset[int] | None) -> Select:
    """Limit a product select to those valid at one of `store_ids` (None: every product)."""
    return stmt if store_ids is None else stmt.where(valid_at(store_ids))


def open_conflict_exists():
    return exists().where(ProductConflict.product_id == Product.id, ProductConflict.resolved_at.is_(None))


@dataclass(frozen=True)
class Filters:
    q: str = ""
    kind: str = ""
    store_id: int | None = None
    review: str = ""
    online: str = ""  # buyable | not_buyable | local_online | douyin_online | offline | paused
    conflict: bool = False
    delisted: bool = False

    def shape(self) -> Filters:
        """Which filters are set, without their values: all the list's SQL depends on."""
        return replace(self, q="q" if self.q.strip() else "", kind="k" if self.kind else "", store_id=1 if self.store_id else None,
                       review="r" if self.review else "")


# What a row of the list shows, selected as plain rows: a page of 50 then costs no ORM objects,
# and portal.catalog.rows reads the same attribute names from a row as from a Product.
LIST_COLUMNS = (
    Product.id, Product.name, Product.kind, Product.uses, Product.price_fen, Product.original_price_fen,
    Product.review_status, Product.review_reason, Product.local_online, Product.douyin_online,
    Product.paused_at, Product.delisted_at,
)


COUNT_CAP = 1000


@dataclass
class Page:
    products: list  # rows of LIST_COLUMNS, `buyable` and `conflicted` (an open conflict)
    total: int  # counted no further than COUNT_CAP + 1
    next_before: int | None
    prev_after: int | None

    @property
    def total_label(self) -> str:
        return f"{COUNT_CAP}+" if self.total > COUNT_CAP else str(self.total)


def _filtered(scoped: bool, filters: Filters, *, counting: bool) -> Select:
    """The products of organization `:org` (valid at one of `:stores` when `scoped`) that pass
    `filters`. Every value is a bound parameter (see `list_products`), so the statement depends
    only on which filters are set.

    "Valid at these stores" is written two ways. To count, as an id list from the store index:
    that reads the stores' entries instead of probing every product of the organization. To
    page, as a per-product check: walking the products newest first stops after one page,
    where starting from the id list would fetch and sort all of the stores' products."""

    def at_stores(store_ids):
        if counting:
            return Product.id.in_(select(product_stores.c.product_id).where(product_stores.c.store_id.in_(store_ids)))
        return valid_at(store_ids)

    stmt = select(Product).where(Product.organization_id == bindparam("org"))
    if scoped:
        stmt = stmt.where(at_stores(bindparam("stores", expanding=True)))
    if filters.q:
        stmt = stmt.where(or_(Product.name.like(bindparam("needle")), Product.douyin_product_id == bindparam("q")))
    if filters.kind:
        stmt = stmt.where(Product.kind == bindparam("kind"))
    if filters.store_id:
        stmt = stmt.where(at_stores([bindparam("store")]))
    if filters.review:
        stmt = stmt.where(Product.review_status == bindparam("review"))
    match filters.online:
        case "buyable":
            stmt = stmt.where(Product.buyable)
        case "not_buyable":
            stmt = stmt.where(~Product.buyable)
        case "local_online":
            stmt = stmt.where(Product.local_online.is_(True))
        case "douyin_online":
            stmt = stmt.where(Product.douyin_online.is_(True))
        case "offline":
            stmt = stmt.where(Product.local_online.is_(False), Product.douyin_online.is_(False))
        case "paused":
            stmt = stmt.where(Product.paused_at.is_not(None))
    if filters.conflict:
        stmt = stmt.where(open_conflict_exists())
    if not filters.delisted:
        stmt = stmt.where(Product.delisted_at.is_(None))
    return stmt


# How many of the organization's products, from the page's keyset bound on, a name search on
# PostgreSQL walks in id order before it reads its matches through the trigram index instead.
WALK_WINDOW = 2000


@dataclass(frozen=True)
class _Pages:
    newest: Select  # the first page, newest first
    newest_before: Select  # the page below id `:before`, newest first
    oldest_after: Select  # the page above id `:after`, oldest first


@dataclass(frozen=True)
class _Listing:
    count: Select
    walked: _Pages  # in id order, stopping once a page is found
    any_below: Select  # one id below `:below`, if any
    # PostgreSQL's name search (see `list_products`); None elsewhere.
    windowed: _Pages | None = None  # in id order over at most WALK_WINDOW products
    indexed: _Pages | None = None  # every match through the trigram index, then sorted


def _window_edge(*, newer: bool, bounded: bool):
    """The id WALK_WINDOW products of the organization away from where a page starts (past
    `:after` when `newer`, else below `:before` when `bounded`, else at the newest), or the last
    id when fewer remain: an index-only walk."""
    walked = Product.__table__.alias("walked")
    ids = select(walked.c.id).where(walked.c.organization_id == bindparam("org"))
    if newer:
        ids = ids.where(walked.c.id > bindparam("after"))
    elif bounded:
        ids = ids.where(walked.c.id < bindparam("before"))
    edge = ids.order_by(walked.c.id.asc() if newer else walked.c.id.desc()).offset(bindparam("window")).limit(1)
    last = select((func.max if newer else func.min)(walked.c.id)).where(walked.c.organization_id == bindparam("org"))
    return func.coalesce(edge.scalar_subquery(), last.scalar_subquery())


def _pages(columns: Select, limit: int, *, window: bool = False, indexed: bool = False) -> _Pages:
    """The three pages of `columns`. `window`: bounded to WALK_WINDOW products from where the
    page starts. `indexed`: ordered by `id + 0`, which no index provides, so PostgreSQL fetches
    all the matches the cheapest way (the trigram index) and sorts them, instead of walking the
    primary key past every product that does not match."""
    key = Product.id + literal_column("0") if indexed else Product.id

    def page(start, *, newer: bool) -> Select:
        stmt = columns if start is None else columns.where(start)
        if window:
            edge = _window_edge(newer=newer, bounded=start is not None)
            stmt = stmt.where(Product.id <= edge if newer else Product.id >= edge)
        return stmt.order_by(key.asc() if newer else key.desc()).limit(limit + 1)

    return _Pages(
        newest=page(None, newer=False),
        newest_before=page(Product.id < bindparam("before"), newer=False),
        oldest_after=page(Product.id > bindparam("after"), newer=True),
    )


@functools.cache
def _listing(scoped: bool, filters: Filters, limit: int, trigram: bool = False) -> _Listing:
    """The list's statements for one combination of set filters, built once: SQLAlchemy then
    skips rebuilding and re-keying them on every request. `trigram`: PostgreSQL, whose name
    search can read the trigram index."""
    stmt = _filtered(scoped, filters, counting=False)
    ids = stmt.with_only_columns(Product.id)
    columns = stmt.with_only_columns(*LIST_COLUMNS, Product.buyable.label("buyable"), open_conflict_exists().label("conflicted"))
    searching = trigram and bool(filters.q)
    return _Listing(
        # A page view never counts a whole library: the count stops past COUNT_CAP.
        count=select(func.count()).select_from(
            _filtered(scoped, filters, counting=True).with_only_columns(Product.id).limit(bindparam("cap")).subquery()),
        walked=_pages(columns, limit),
        any_below=ids.where(Product.id < bindparam("below")).limit(1),
        windowed=_pages(columns, limit, window=True) if searching else None,
        indexed=_pages(columns, limit, indexed=True) if searching else None,
    )


def _page_rows(run, pages: _Pages, params: dict, before: int | None, after: int | None) -> list:
    if after is not None:
        return run(pages.oldest_after, {**params, "after": after}).all()
    if before is None:
        return run(pages.newest, params).all()
    return run(pages.newest_before, {**params, "before": before}).all()


def list_products(organization_id: int, store_ids: frozenset[int] | None, filters: Filters, *,
                  before: int | None = None, after: int | None = None, limit: int = 50) -> Page:
    """One page of the organization's products (those valid at one of `store_ids`, None: all)
    passing `filters`, newest first, by keyset on id (fast at any depth), with the total up to
    COUNT_CAP + 1. Their stores' names come from `store_names`, one query for the page.

    A page is found by walking the products in id order, which stops as soon as the page is full:
    fast when matches are common among the products walked. A name search on PostgreSQL counts
    first, through the trigram index: up to COUNT_CAP matches are read through that index and
    sorted; more are walked for, but over no more than WALK_WINDOW products (matches clustered
    further back, say a batch created together long ago, are then read through the index)."""
    q = filters.q.strip()
    params = {"org": organization_id, "needle": f"%{q}%", "q": q, "kind": filters.kind, "store": filters.store_id, "review": filters.review,
              "cap": COUNT_CAP + 1, "window": WALK_WINDOW}
    if store_ids is not None:
        params["stores"] = sorted(store_ids)
    # Plain column selects: the connection runs them without the ORM's per-statement work.
    connection = db.session.connection()
    run = connection.execute
    statements = _listing(store_ids is not None, filters.shape(), limit, connection.dialect.name == "postgresql")
    total, pages = None, statements.walked
    if statements.indexed is not None:
        total = run(statements.count, params).scalar()
        pages = statements.indexed if total <= COUNT_CAP else statements.windowed
    rows = _page_rows(run, pages, params, before, after)
    if pages is statements.windowed and len(rows) <= limit:
        rows = _page_rows(run, statements.indexed, params, before, after)
    if after is not None:
        has_newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        has_older = bool(rows) and run(statements.any_below, {**params, "below": rows[-1].id}).first() is not None
    else:
        has_older = len(rows) > limit
        rows = rows[:limit]
        has_newer = before is not None and bool(rows)
        if before is None and not has_older:
            total = len(rows)  # the whole list is on this page: no need to count
    if total is None:
        total = run(statements.count, params).scalar()
    return Page(
        products=rows,
        total=total or 0,
        next_before=rows[-1].id if rows and has_older else None,
        prev_after=rows[0].id if rows and has_newer else None,
    )


_STORE_NAMES = (
    select(product_stores.c.product_id, Store.name)
    .join(Store, Store.id == product_stores.c.store_id)
    .where(product_stores.c.product_id.in_(bindparam("ids", expanding=True)))
    .order_by(product_stores.c.product_id, Store.id)
)


def store_names(product_ids: list[int]) -> dict[int, list[str]]:
    """Per product, the names of the stores where it is valid (in store order)."""
    names: dict[int, list[str]] = {}
    if product_ids:
        for product_id, name in db.session.connection().execute(_STORE_NAMES, {"ids": product_ids}):
            names.setdefault(product_id, []).append(name)
    return names


def shared_beyond(product_ids: list[int], store_ids) -> set[int]:
    """The products also valid at a store outside `store_ids`: a store-scoped reader may see them
    but not change them (None: every store is the reader's, nothing is shared beyond)."""
    if store_ids is None or not product_ids:
        return set()
    return set(db.session.scalars(
        select(product_stores.c.product_id).distinct()
        .where(product_stores.c.product_id.in_(product_ids), product_stores.c.store_id.not_in(list(store_ids)))
    ))


def conflicted_ids(product_ids: list[int]) -> set[int]:
    if not product_ids:
        return set()
    return set(
        db.session.scalars(
            select(ProductConflict.product_id).where(ProductConflict.product_id.in_(product_ids), ProductConflict.resolved_at.is_(None))
        )
    )


def find_open_conflict(product: Product) -> ProductConflict | None:
    return db.session.scalar(
        select(ProductConflict).where(ProductConflict.product_id == product.id, ProductConflict.resolved_at.is_(None))
    )


def deliveries(organization_id: int, product_id: int, *, limit: int = 10) -> list:
    """A product's catalogue messages to Douyin, newest first, delivered or not."""
    message = outbox.OutboxMessage
    return list(db.session.scalars(
        select(message)
        .where(message.organization_id == organization_id, message.kind.in_((SAVE_KIND, OPERATE_KIND)),
               message.payload["product_id"].as_integer() == product_id)
        .order_by(message.id.desc())
        .limit(limit)
    ))


# Undelivered messages are few, whatever the history: the status index finds them.
_UNDELIVERED = select(outbox.OutboxMessage.payload, outbox.OutboxMessage.status).where(
    outbox.OutboxMessage.status.in_((outbox.OutboxStatus.PENDING, outbox.OutboxStatus.FAILED)),
    outbox.OutboxMessage.organization_id == bindparam("org"),
    outbox.OutboxMessage.kind.in_((SAVE_KIND, OPERATE_KIND)),
)


def undelivered(organization_id: int, product_ids: list[int]) -> dict[int, list[str]]:
    """Per product of `product_ids`, the statuses (pending, failed) of its catalogue messages
    still on their way to Douyin."""
    wanted = set(product_ids)
    found: dict[int, list[str]] = {}
    for payload, status in db.session.connection().execute(_UNDELIVERED, {"org": organization_id}):
        if payload.get("product_id") in wanted:
            found.setdefault(payload["product_id"], []).append(status)
    return found


_UNSENT_SAVES = select(outbox.OutboxMessage.payload).where(
    outbox.OutboxMessage.status.in_((outbox.OutboxStatus.PENDING, outbox.OutboxStatus.FAILED)),
    outbox.OutboxMessage.organization_id == bindparam("org"),
    outbox.OutboxMessage.kind == SAVE_KIND,
)


def unsent_saves(organization_id: int, product_ids: list[int]) -> set[int]:
    """Those of `product_ids` with a submission still on its way to Douyin: what Douyin reports
    about their drafts predates it."""
    wanted = set(product_ids)
    rows = db.session.connection().execute(_UNSENT_SAVES, {"org": organization_id})
    return {payload["product_id"] for (payload,) in rows if payload.get("product_id") in wanted}


def review_stage(product) -> str:
    """A key of STAGE_LABELS: the review status, except that an approved product not (yet) on
    sale on Douyin is APPROVED_OFFLINE (已通过·待上架)."""
    if product.review_status == ReviewStatus.APPROVED and not product.douyin_online:
        return APPROVED_OFFLINE
    return product.review_status


def not_buyable_reasons(product: Product) -> list[str]:
    """Why customers cannot buy it now, in words (empty when buyable)."""
    reasons = []
    if product.delisted_at is not None:
        reasons.append(str(_l("已删除")))
    if product.paused_at is not None:
        reasons.append(str(_l("已被规则暂停")))
    if product.review_status != ReviewStatus.APPROVED:
        reasons.append(str(_l("审核未通过")))
    if not product.local_online:
        reasons.append(str(_l("本店已下架")))
    if not product.douyin_online:
        reasons.append(str(_l("抖音未上架")))
    return reasons


# --- the content compared with Douyin ------------------------------------------------------


def _stamp(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def content_of(product: Product) -> dict:
    """The Douyin-visible content of a local product, normalised for comparison."""
    return {
        "name": product.name,
        "original_price_fen": product.original_price_fen,
        "price_fen": product.price_fen,
        "stock": product.stock,
        "category_id": product.category_id or None,
        "poi_ids": sorted(s.douyin_poi_id for s in product.stores if s.douyin_poi_id),
        "sold_start": _stamp(product.sold_start_at),
        "sold_end": _stamp(product.sold_end_at),
    }


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def content_from_douyin(entry: dict) -> dict:
    """The same normalised content from one Douyin product entry ({product, sku, …}) as
    portal.douyin.replies declares it (poi ids come as numbers or strings)."""
    product = entry.get("product") or {}
    sku = entry.get("sku") or {}
    stock = (sku.get("stock") or {}).get("stock_qty")
    actual = _int(sku.get("actual_amount"), 0)
    return {
        "name": str(product.get("product_name") or ""),
        "original_price_fen": _int(sku.get("origin_amount"), actual),
        "price_fen": actual,
        "stock": _int(stock, 0),
        "category_id": str(product["category_id"]) if product.get("category_id") not in (None, "", 0) else None,
        "poi_ids": sorted(str(p["poi_id"]) for p in product.get("pois") or [] if p.get("poi_id") not in (None, "")),
        "sold_start": _int(product.get("sold_start_time")) or None,
        "sold_end": _int(product.get("sold_end_time")) or None,
    }


def apply_content(product: Product, content: dict, stores_by_poi: dict[str, Store], *, now: datetime) -> dict:
    """Make the local product say what `content` says; returns {field: [before, after]}."""
    before = content_of(product)
    changes = {k: [before[k], content[k]] for k in CONTENT_FIELDS if before[k] != content[k]}
    product.name = content["name"][:100]
    product.original_price_fen = content["original_price_fen"]
    product.price_fen = content["price_fen"]
    product.stock = content["stock"]
    if product.category_id != content["category_id"]:
        product.category_id = content["category_id"]
        product.category_name = None
    product.sold_start_at = datetime.fromtimestamp(content["sold_start"], UTC) if content["sold_start"] else None
    product.sold_end_at = datetime.fromtimestamp(content["sold_end"], UTC) if content["sold_end"] else None
    if "poi_ids" in changes:
        keep = [s for s in product.stores if not s.douyin_poi_id]
        product.stores = keep + [stores_by_poi[p] for p in content["poi_ids"] if p in stores_by_poi]
    product.updated_at = now
    return changes


def _attr(value) -> str:
    """An attr_key_value_map value: Douyin takes structured values as JSON-encoded strings."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def douyin_payload(product: Product) -> tuple[dict, dict]:
    """The goods/product/save body (product, sku) for the product as it is now, in Douyin's shape:
    category_id a number, biz_line set, attr values strings under the keys of Douyin's product
    template (image_list, description_rich_text, Notification, use_date; sku code_source_type and,
    for a 次卡, commodity). `fit_to_template` later drops the keys a category does not take."""
    courier = product.kind == ProductKind.GOODS
    # Courier goods carry no code, so neither a validity nor a code source.
    attrs = {} if courier else {"use_date": _attr({"use_date_type": 2, "day_duration": product.valid_days})}
    if product.images:
        base = security.public_base_url() if any(url.startswith(images.URL_PREFIX) for url in product.images) else ""
        attrs["image_list"] = _attr([{"url": images.douyin_url(url, base)} for url in product.images])
    if product.description:
        attrs["description_rich_text"] = _attr([{"note_type": 1, "content": product.description}])
    if product.usage_rules:
        attrs["Notification"] = _attr([{"title": "使用规则", "content": product.usage_rules}])
    body = {
        "out_id": product.out_id,
        "product_name": product.name,
        "product_type": PRODUCT_TYPES[ProductKind(product.kind)],
        "biz_line": BIZ_LINE,
        "category_id": int(product.category_id) if product.category_id else None,
        "category_full_name": product.category_name,
        "sold_start_time": _stamp(product.sold_start_at),
        "sold_end_time": _stamp(product.sold_end_at),
        "pois": [{"poi_id": s.douyin_poi_id} for s in product.stores if s.douyin_poi_id],
        "attr_key_value_map": attrs,
    }
    if product.douyin_product_id:
        body["product_id"] = product.douyin_product_id
    sku_attrs = {} if courier else {"code_source_type": CODE_SOURCE_THIRD_PARTY}
    if product.kind == ProductKind.COUNT_CARD:
        sku_attrs["commodity"] = _attr([{
            "group_name": product.name, "total_count": 1, "option_count": 1,
            "item_list": [{"name": product.name, "price": product.original_price_fen, "count": product.uses, "unit": "次"}],
        }])
    sku = {
        "out_sku_id": product.out_id,
        "sku_name": product.name,
        "origin_amount": product.original_price_fen,
        "actual_amount": product.price_fen,
        "stock": {"limit_type": 1, "stock_qty": product.stock},
        "status": 1,
        "attr_key_value_map": sku_attrs,
    }
    if product.douyin_sku_id:
        sku["sku_id"] = product.douyin_sku_id
    return {k: v for k, v in body.items() if v is not None}, sku


def fit_to_template(body: dict, sku: dict, template) -> tuple[dict, dict]:
    """The save body with only the attr keys Douyin's template (goods/template/get for the
    product's type and category) lists: a key the category does not take is dropped, not sent."""
    product_keys = {a["key"] for a in template.get("product_attrs") or []}
    sku_keys = {a["key"] for a in template.get("sku_attrs") or []}
    body = dict(body, attr_key_value_map={k: v for k, v in (body.get("attr_key_value_map") or {}).items() if k in product_keys})
    sku = dict(sku, attr_key_value_map={k: v for k, v in (sku.get("attr_key_value_map") or {}).items() if k in sku_keys})
    return body, sku


# --- editing -------------------------------------------------------------------------------


def _check(data: ProductData, stores: list[Store]) -> None:
    if data.kind not in ProductKind.__members__.values():
        raise CatalogError(_l("请选择商品类型"), field="kind")
    if not data.name.strip():
        raise CatalogError(_l("请输入商品名称"), field="name")
    if data.price_fen > data.original_price_fen:
        raise CatalogError(_l("售价不能高于原价"), field="price")
    if data.stock < 0:
        raise CatalogError(_l("库存不能为负数"), field="stock")
    if data.kind == ProductKind.COUNT_CARD and not 2 <= data.uses <= 100:
        raise CatalogError(_l("次卡的次数应在 2 到 100 之间"), field="uses")
    if data.sold_start_at and data.sold_end_at and data.sold_end_at <= data.sold_start_at:
        raise CatalogError(_l("停售时间必须晚于开售时间"), field="sold_end_at")
    if not stores:
        raise CatalogError(_l("请至少选择一个适用门店"), field="store_ids")


def _stores(organization_id: int, store_ids: list[int]) -> list[Store]:
    if not store_ids:
        return []
    found = list(
        db.session.scalars(select(Store).where(Store.organization_id == organization_id, Store.id.in_(store_ids)).order_by(Store.id))
    )
    if len(found) != len(set(store_ids)):
        raise CatalogError(_l("门店不存在"), field="store_ids")
    return found


def _fill(product: Product, data: ProductData, stores: list[Store]) -> None:
    product.kind = data.kind
    product.name = data.name.strip()
    product.description = data.description
    product.images = [u for u in data.images if u]
    product.category_id = data.category_id or None
    product.category_name = data.category_name or None
    product.original_price_fen = data.original_price_fen
    product.price_fen = data.price_fen
    product.stock = data.stock
    product.uses = data.uses if data.kind == ProductKind.COUNT_CARD else 1
    product.sold_start_at = data.sold_start_at
    product.sold_end_at = data.sold_end_at
    product.valid_days = data.valid_days
    product.usage_rules = data.usage_rules
    product.stores = stores


def new_out_id() -> str:
    return "p" + secrets.token_hex(12)


def create_product(organization_id: int, data: ProductData, *, actor, now: datetime | None = None) -> Product:
    """A new draft product (not yet on Douyin). Raises CatalogError on a broken rule."""
    now = now or clock.now()
    stores = _stores(organization_id, data.store_ids)
    _check(data, stores)
    product = Product(
        organization_id=organization_id,
        out_id=new_out_id(),
        review_status=ReviewStatus.DRAFT,
        review_reason="",
        local_online=data.local_online,
        douyin_online=False,
        paused_reason="",
        created_at=now,
        updated_at=now,
        edited_at=now,
    )
    _fill(product, data, stores)
    db.session.add(product)
    db.session.flush()
    audit.record("catalog.product.created", actor=actor, obj=product, name=product.name, price_fen=product.price_fen)
    return product


def update_product(product: Product, data: ProductData, *, actor, now: datetime | None = None) -> Product:
    """Change the local product. Douyin learns about it when the merchant submits it for review."""
    now = now or clock.now()
    if product.delisted_at is not None:
        raise CatalogError(_l("商品已删除，不能编辑"))
    stores = _stores(product.organization_id, data.store_ids)
    _check(data, stores)
    before = content_of(product)
    _fill(product, data, stores)
    product.local_online = data.local_online if product.paused_at is None else product.local_online
    product.updated_at = now
    product.edited_at = now
    db.session.flush()
    after = content_of(product)
    audit.record(
        "catalog.product.updated", actor=actor, obj=product, changes={k: [before[k], after[k]] for k in CONTENT_FIELDS if before[k] != after[k]}
    )
    return product


def copy_product(product: Product, *, actor, now: datetime | None = None) -> Product:
    """A new draft with the same content, offline, not on Douyin."""
    now = now or clock.now()
    copy = Product(
        organization_id=product.organization_id,
        out_id=new_out_id(),
        review_status=ReviewStatus.DRAFT,
        review_reason="",
        local_online=False,
        douyin_online=False,
        paused_reason="",
        created_at=now,
        updated_at=now,
        edited_at=now,
    )
    data = ProductData(
        kind=product.kind,
        name=str(_l("%(name)s（副本）", name=product.name))[:100],
        original_price_fen=product.original_price_fen,
        price_fen=product.price_fen,
        description=product.description,
        images=list(product.images or []),
        category_id=product.category_id,
        category_name=product.category_name,
        stock=product.stock,
        uses=product.uses,
        sold_start_at=product.sold_start_at,
        sold_end_at=product.sold_end_at,
        valid_days=product.valid_days,
        usage_rules=product.usage_rules,
    )
    _fill(copy, data, list(product.stores))
    db.session.add(copy)
    db.session.flush()
    audit.record("catalog.product.copied", actor=actor, obj=copy, source_id=product.id)
    return copy


def _operate(product: Product, online: bool, *, now: datetime, why: str) -> None:
    outbox.add(
        product.organization_id,
        OPERATE_KIND,
        {"product_id": product.id, "online": online, "why": why},
        dedupe_key=f"product:{product.id}:operate:{int(online)}:{time.time_ns()}",
    )


def delist_product(product: Product, *, actor, now: datetime | None = None) -> Product:
    """Remove the product from sale here and on Douyin (kept for orders and history). Idempotent."""
    now = now or clock.now()
    if product.delisted_at is not None:
        return product
    product.delisted_at = now
    product.local_online = False
    product.updated_at = now
    if product.douyin_product_id:
        _operate(product, False, now=now, why="delist")
    audit.record("catalog.product.delisted", actor=actor, obj=product)
    return product


def submit_product(product: Product, *, actor, now: datetime | None = None) -> Product:
    """Send the product to Douyin for review (审核中). The save travels through the outbox.

    Raises CatalogError while a review is pending, for a deleted product, or when something
    Douyin requires is missing (the connection, category, a store bound to a Douyin POI).
    """
    from portal.onboarding.connection import NotConnected, credentials_for

    now = now or clock.now()
    if product.delisted_at is not None:
        raise CatalogError(_l("商品已删除，不能提交审核"))
    if product.review_status == ReviewStatus.REVIEWING:
        raise CatalogError(_l("商品正在审核中，请等待审核结果"))
    try:
        credentials_for(product.organization_id)
    except NotConnected as error:
        raise NotConnectedError(_l("尚未连接抖音推广，暂时无法提交审核。请先完成抖音推广开通。")) from error
    if not product.category_id:
        raise CatalogError(_l("提交审核前请选择抖音类目"), field="category_id")
    if not str(product.category_id).isdigit():
        raise CatalogError(_l("抖音类目已失效，请重新选择"), field="category_id")
    if not any(s.douyin_poi_id for s in product.stores):
        raise CatalogError(_l("适用门店尚未绑定抖音门店（POI），请先在抖音推广中完成门店授权"), field="store_ids")
    if find_open_conflict(product) is not None:
        raise CatalogError(_l("该商品与抖音上的版本有冲突，请先选择保留哪个版本"))
    body, sku = douyin_payload(product)
    product.review_status = ReviewStatus.REVIEWING
    product.review_reason = ""
    product.submitted_at = now
    product.submitted_version = content_of(product)
    product.updated_at = now
    outbox.add(
        product.organization_id,
        SAVE_KIND,
        {"product_id": product.id, "product": body, "sku": sku},
        dedupe_key=f"product:{product.id}:save:{time.time_ns()}",
    )
    audit.record("catalog.product.submitted", actor=actor, obj=product)
    return product


def set_online(product: Product, online: bool, *, actor, now: datetime | None = None) -> Product:
    """Put the product online or offline here and, once Douyin has approved it, on Douyin too."""
    now = now or clock.now()
    if product.delisted_at is not None:
        raise CatalogError(_l("商品已删除"))
    if online and product.paused_at is not None:
        raise CatalogError(_l("商品已被异常规则暂停，请先恢复售卖"))
    product.local_online = online
    product.updated_at = now
    if (product.douyin_product_id and product.review_status == ReviewStatus.APPROVED) or (not online and product.douyin_online):
        _operate(product, online, now=now, why="merchant")
    audit.record("catalog.product.online_changed", actor=actor, obj=product, online=online)
    return product


def pause_product(product: Product, reason: str, actor=None, now: datetime | None = None) -> Product:
    """Stop selling a product (an anomaly rule fired): paused here, taken offline on Douyin through
    the outbox, `signals.product_paused` sent. Idempotent: pausing a paused product changes nothing."""
    now = now or clock.now()
    if product.paused_at is not None:
        return product
    product.paused_at = now
    product.paused_reason = reason or ""
    product.updated_at = now
    if product.douyin_product_id or product.douyin_online:
        _operate(product, False, now=now, why="paused")
    audit.record("catalog.product.paused", actor=actor, obj=product, reason=reason)
    signals.product_paused.send(product, reason=reason)
    return product


def resume_product(product: Product, actor, now: datetime | None = None) -> Product:
    """Lift a pause. If the product is online here and approved, it goes back online on Douyin."""
    now = now or clock.now()
    if product.paused_at is None:
        return product
    product.paused_at = None
    product.paused_reason = ""
    product.updated_at = now
    if product.local_online and product.review_status == ReviewStatus.APPROVED and product.delisted_at is None:
        _operate(product, True, now=now, why="resumed")
    audit.record("catalog.product.resumed", actor=actor, obj=product)
    return product


# --- review results (webhook and sync) -------------------------------------------------------


def record_review(product: Product, status: ReviewStatus, reason: str, *, now: datetime, source: str) -> bool:
    """Set the review outcome Douyin reported. Returns True if it changed anything.

    Whichever of webhook and sync arrives first applies it (and notifies the merchant); the
    other finds the product already in that state and changes nothing.
    """
    reason = reason or ""
    if product.review_status == status and (status != ReviewStatus.REJECTED or product.review_reason == reason):
        return False
    was_reviewing = product.review_status == ReviewStatus.REVIEWING
    product.review_status = status
    product.review_reason = reason if status == ReviewStatus.REJECTED else ""
    product.reviewed_at = now if status != ReviewStatus.REVIEWING else product.reviewed_at
    product.updated_at = now
    audit.record(f"catalog.product.review_{status.value}", obj=product, source=source, reason=reason)
    if was_reviewing and status in (ReviewStatus.APPROVED, ReviewStatus.REJECTED):
        from flask import url_for

        try:
            link = url_for("catalog.show", product_id=product.id)
        except RuntimeError:
            link = f"/catalog/{product.id}"
        if status == ReviewStatus.APPROVED:
            title = _l("商品审核通过：%(name)s", name=product.name)
            body = _l("抖音已审核通过，上架后顾客即可购买。")
        else:
            title = _l("商品审核驳回：%(name)s", name=product.name)
            body = _l("驳回原因：%(reason)s。请修改后重新提交。", reason=reason or "—")
        notifications.notify(product.organization_id, "product_review", title, body, link=link)
    return True


def apply_audit_webhook(organization_id: int, payload: dict, *, now: datetime | None = None) -> bool:
    """Handle a `life_product_audit` webhook ({product_id, status PASS|REJECT, reason}, found by product_id: the reference content has no out_id).

    Only a product still under review moves: a result that sync already applied, or one for a
    submission that was superseded, changes nothing. Idempotent.
    """
    now = now or clock.now()
    douyin_id = payload["product_id"]
    product = db.session.scalar(select(Product).where(Product.organization_id == organization_id, Product.douyin_product_id == douyin_id))
    if product is None or product.review_status != ReviewStatus.REVIEWING:
        return False
    status = ReviewStatus.APPROVED if str(payload.get("status")).upper() == "PASS" else ReviewStatus.REJECTED
    return record_review(product, status, str(payload.get("reason") or ""), now=now, source="webhook")


# --- conflicts ---------------------------------------------------------------------------------


def resolve_conflict(conflict: ProductConflict, choice: str, *, actor, now: datetime | None = None) -> Product:
    """Settle a conflict: "douyin" takes Douyin's version locally; "local" keeps ours and sends it
    to Douyin for review. Raises CatalogError for an unknown choice or an already settled conflict."""
    now = now or clock.now()
    if conflict.resolved_at is not None:
        raise CatalogError(_l("该冲突已处理"))
    if choice not in ("local", "douyin"):
        raise CatalogError(_l("请选择保留哪个版本"), field="choice")
    product = conflict.product
    stores_by_poi = {
        s.douyin_poi_id: s
        for s in db.session.scalars(select(Store).where(Store.organization_id == product.organization_id, Store.douyin_poi_id.is_not(None)))
    }
    conflict.resolved_at = now
    conflict.resolution = choice
    conflict.resolved_by_id = getattr(actor, "id", None)
    product.douyin_version = dict(conflict.douyin_version)
    if choice == "douyin":
        apply_content(product, conflict.douyin_version, stores_by_poi, now=now)
    db.session.flush()
    audit.record("catalog.conflict.resolved", actor=actor, obj=product, choice=choice)
    if choice == "local" and product.review_status != ReviewStatus.REVIEWING:
        submit_product(product, actor=actor, now=now)
    return product


# --- Douyin categories -----------------------------------------------------------------------

_category_cache: dict[int, tuple[float, list[tuple[str, str]]]] = {}
CATEGORY_TTL_SECONDS = 600
CATEGORY_DEPTH = 3


def list_categories(organization_id: int) -> list[tuple[str, str]]:
    """Douyin's leaf categories as (category_id, "美食 / 火锅"), cached 10 minutes per merchant.

    Raises CatalogError with a message to show when Douyin cannot be reached or is not connected.
    """
    from portal.douyin import DouyinError
    from portal.onboarding.connection import NotConnected, client_for

    cached = _category_cache.get(organization_id)
    if cached and time.monotonic() - cached[0] < CATEGORY_TTL_SECONDS:
        return cached[1]
    try:
        client = client_for(organization_id, max_retries=1)
        leaves: list[tuple[str, str]] = []

        def walk(parent_id, names: list[str], depth: int) -> None:
            # Douyin's tree is three levels deep (美食·地方菜·北京菜); only leaves take products.
            for category in client.goods_category(parent_id).get("category_infos") or []:
                path = [*names, category["name"]]
                if category["is_leaf"]:
                    leaves.append((str(category["category_id"]), " / ".join(path)))
                elif depth < CATEGORY_DEPTH:
                    walk(category["category_id"], path, depth + 1)

        walk(None, [], 1)
    except NotConnected as error:
        raise CatalogError(_l("尚未连接抖音（%(reason)s），暂时无法加载抖音类目", reason=str(error)), field="category_id") from error
    except DouyinError as error:
        raise CatalogError(_l("抖音暂时无法访问，类目加载失败，请稍后重试"), field="category_id") from error
    _category_cache[organization_id] = (time.monotonic(), leaves)
    return leaves
