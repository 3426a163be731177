"""Goods library, stores and the Laike account: how the portal makes each call, and how the
sandbox is prepared so the reference request means something there."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.accounts.models import Store
from portal.catalog import service as catalog
from portal.catalog.models import Product, ProductKind
from portal.douyin import replies

from .harness import Case

ACCOUNT = "7113893944009705516"  # the account of the goods samples


def _reference_product() -> Product:
    """A transient 次卡 holding the values of the save sample: the portal's own payload builder
    (catalog.douyin_payload) makes the request, so the contract holds what the portal sends."""
    product = Product(
        kind=ProductKind.COUNT_CARD, name="migrate_openapi_0711_03", out_id="migrate_openapi_0711_03",
        douyin_product_id="7119054118261377068", douyin_sku_id="7119054118261377068",
        category_id="1001001", category_name="美食·地方菜·北京菜", original_price_fen=1399, price_fen=996,
        stock=500, uses=5, valid_days=30, description="其他说明信息-美食团购", usage_rules="内容美食1.1",
        images=["https://aweme-upload-image/7038505021658382380.png"],
        sold_start_at=datetime.fromtimestamp(1646724999, UTC), sold_end_at=datetime.fromtimestamp(1745607528, UTC),
    )
    product.stores = [Store(name="西店", douyin_poi_id="123123123123")]
    return product


def _save(client):
    return client.goods_save(*catalog.douyin_payload(_reference_product()))


def _account(world, fixture):
    return {ACCOUNT: world.account_id}


def _save_sandbox(world, fixture):
    pid = world.save_product(name="已有商品", out_id="migrate_openapi_0711_03")
    return {ACCOUNT: world.account_id, "123123123123": world.poi_a, "7119054118261377068": pid}


def _operate_sandbox(world, fixture):
    pid = world.online_product(out_id="hch-life-0314-ms02")
    return {"123123123": world.account_id, "7119054118261606444": pid}


def _draft_sandbox(world, fixture):
    pid = world.save_product()
    return {ACCOUNT: world.account_id, "7119054118261377068": pid}


def _online_sandbox(world, fixture):
    world.online_product()
    return {ACCOUNT: world.account_id}


CASES = [
    Case(
        fixture="goods_category_get",
        call=lambda client: client.goods_category(1001000),
        reply=replies.GOODS_CATEGORY,
        # The sandbox's tree: 1000000 美食 has leaf children.
        sandbox=lambda world, fixture: {ACCOUNT: world.account_id, 1001000: 1000000},
    ),
    Case(
        fixture="goods_template_get",
        call=lambda client: client.goods_template(product_type=1, category_id=1001001),
        reply=replies.GOODS_TEMPLATE,
        sandbox=lambda world, fixture: None,
    ),
    Case(fixture="goods_product_save", call=_save, reply=replies.GOODS_SAVE, sandbox=_save_sandbox),
    Case(
        fixture="goods_product_operate",
        call=lambda client: client.goods_operate(online=False, product_id="7119054118261606444"),
        reply=replies.GOODS_OPERATE,
        sandbox=_operate_sandbox,
    ),
    Case(
        fixture="goods_product_draft_query",
        call=lambda client: client.draft_query(status=10, count=5),
        reply=replies.GOODS_DRAFT_QUERY,
        sandbox=_draft_sandbox,
    ),
    Case(
        fixture="goods_product_draft_get",
        call=lambda client: client.draft_get(["7119054118261377068"]),
        reply=replies.GOODS_DRAFT_GET,
        sandbox=_draft_sandbox,
    ),
    Case(
        fixture="goods_product_online_query",
        call=lambda client: client.online_query(count=5),
        reply=replies.GOODS_ONLINE_QUERY,
        sandbox=_online_sandbox,
    ),
    Case(
        fixture="shop_poi_query",
        call=lambda client: list(client.iter_pois()),
        reply=replies.SHOP_POI_QUERY,
        sandbox=_account,
    ),
]
