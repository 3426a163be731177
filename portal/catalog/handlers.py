"""Deliveries of catalogue changes to Douyin (outbox) and Douyin's review results (webhook)."""

from __future__ import annotations

from portal import clock, outbox
from portal.catalog import service
from portal.catalog.models import Product, ReviewStatus
from portal.douyin import replies, webhooks
from portal.douyin.shapes import read
from portal.extensions import db
from portal.onboarding.connection import delivery_client



@outbox.handler(service.SAVE_KIND)
def deliver_save(message) -> dict:
    """goods/product/save with the content as it was submitted (upsert on out_id: safe to repeat),
    its attrs fitted to Douyin's template for the product's type and category. Douyin answers with
    the product_id only: the sku_id is learned by the next sync."""
    product = db.session.get(Product, message.payload["product_id"])
    if product is None:
        return {"skipped": "product deleted"}
    body = dict(message.payload["product"])
    if product.douyin_product_id and not body.get("product_id"):
        body["product_id"] = product.douyin_product_id
    client = delivery_client(message.organization_id)
    template = client.goods_template(product_type=body["product_type"], category_id=body["category_id"])
    body, sku = service.fit_to_template(body, message.payload["sku"], template)
    data = client.goods_save(body, sku)
    if product.douyin_product_id != data["product_id"]:
        product.douyin_product_id = data["product_id"]
    return {"product_id": data["product_id"]}


@outbox.handler(service.OPERATE_KIND)
def deliver_operate(message) -> dict:
    """goods/product/operate. Taking offline always goes through; putting online only while the
    product is still meant to be online here (a later pause or 下架 wins over an older 上架)."""
    product = db.session.get(Product, message.payload["product_id"])
    if product is None:
        return {"skipped": "product deleted"}
    online = bool(message.payload["online"])
    if online and (not product.local_online or product.paused_at is not None or product.delisted_at is not None):
        return {"skipped": "no longer meant to be online"}
    if online and product.review_status != ReviewStatus.APPROVED:
        return {"skipped": "not approved"}
    client = delivery_client(message.organization_id)
    if product.douyin_product_id:
        client.goods_operate(online=online, product_id=product.douyin_product_id)
    else:
        client.goods_operate(online=online, out_id=product.out_id)
    product.douyin_online = online
    product.updated_at = clock.now()
    return {"online": online}


@webhooks.handler("life_product_audit")
def on_product_audit(event) -> None:
    service.apply_audit_webhook(event.organization_id, read(replies.WEBHOOK_LIFE_PRODUCT_AUDIT, event.payload or {}))
