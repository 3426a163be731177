"""快递商品 in real browsers against the running sandbox: published as goods (the customer's Douyin
order waits for shipping, not for a code or a booking), shipped with carrier and tracking number,
delivered, and completed."""

import re

import pytest
from sqlalchemy import select

from portal.catalog.models import Product
from portal.extensions import db
from portal.orders.models import Order
from tests.e2e.conftest import connect_merchant, sign_in, wait_until

pytestmark = pytest.mark.e2e

PRODUCT = "手工牛轧糖礼盒"
MERCHANT = "快递好物铺"
STORE = "快递好物铺·总店"
PASSWORD = "courier-pass-1234"


@pytest.fixture(scope="module")
def merchant(live_portal, live_sandbox):
    from portal.accounts import service
    from portal.accounts.models import Edition, Role

    with live_portal.app.app_context():
        org = service.create_organization(MERCHANT, edition=Edition.ADVANCED, multi_store=False)
        service.create_store(org, STORE, address="上海市黄浦区南京东路1号")
        service.add_membership(service.create_user("courier.owner@demo.test", PASSWORD, name="快递店主"), org, Role.OWNER, None)
        db.session.commit()
    return connect_merchant(live_portal, live_sandbox, MERCHANT)


def test_a_courier_order_is_shipped_delivered_and_completed(live_portal, live_sandbox, merchant, browser, desktop):
    base, owner = live_portal.url, desktop
    sign_in(owner, base, "courier.owner@demo.test", PASSWORD)
    owner.wait_for_url(re.compile(r"/dashboard$"))
    owner.goto(f"{base}/catalog/new")
    owner.select_option("#kind", "goods")
    owner.fill("#name", PRODUCT)
    owner.select_option("#category_id", "1001000")
    owner.fill("#original_price", "88")
    owner.fill("#price", "68")
    owner.fill("#stock", "20")
    owner.click("#catalog-save")
    owner.wait_for_url(re.compile(r"/catalog/\d+$"))
    product_url = owner.url
    owner.click("#catalog-submit")
    owner.wait_for_url(product_url)

    def douyin_product_id():
        with live_portal.app.app_context():
            return db.session.scalar(select(Product.douyin_product_id).where(
                Product.name == PRODUCT, Product.organization_id == merchant["organization_id"]))

    douyin_id = wait_until(douyin_product_id)
    live_sandbox.control.post(f"/products/{douyin_id}/review", {"approve": True})
    owner.goto(f"{base}/catalog/?q={PRODUCT}")
    owner.click("#catalog-refresh")
    owner.wait_for_selector("#catalog-sync-status[data-status=succeeded]", timeout=30000)
    owner.locator("#catalog-products tbody tr", has_text=PRODUCT).locator("[data-buyable=yes]").wait_for(timeout=15000)

    # The customer buys it: the Douyin order waits for shipping, with no code and no booking form.
    customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN").new_page()
    customer.set_default_timeout(15000)
    customer.goto(f"{live_sandbox.url}/consumer/")
    customer.get_by_text(STORE).first.click()
    customer.locator("#consumer-products a", has_text=PRODUCT).click()
    customer.fill("input[name=phone]", "13700137000")
    customer.click("button[name=action][value=pay]")
    customer.wait_for_url(re.compile(r"/consumer/order/"))
    assert customer.inner_text("#consumer-shipping-status") == "待发货"
    body = customer.inner_text("body")
    assert "商家尚未发放券码" not in body and "预约到店" not in body

    def portal_order():
        with live_portal.app.app_context():
            return db.session.scalar(select(Order.id).where(Order.organization_id == merchant["organization_id"]))

    order_id = wait_until(portal_order)
    assert order_id, "the payment reached the portal"

    # Shipped: a number that cannot be the carrier's is refused next to the field, then the right one.
    owner.goto(f"{base}/orders/{order_id}")
    owner.select_option("#status", "shipped")
    owner.select_option("#carrier", "shunfeng")
    owner.fill("#tracking_number", "YT1234567890123")
    owner.click("#orders-shipping-save")
    owner.wait_for_selector("#tracking_number-error")
    assert "SF 加 12–13 位数字" in owner.inner_text("#tracking_number-error")
    owner.fill("#tracking_number", "SF 1234 5678 90123")
    owner.click("#orders-shipping-save")
    owner.wait_for_selector("#orders-tracking-number")
    assert owner.inner_text("#orders-carrier") == "顺丰速运"
    assert owner.inner_text("#orders-tracking-number") == "SF1234567890123"

    def customer_sees(state):
        def check():
            customer.reload()
            return customer.inner_text("#consumer-shipping-status") == state
        return check

    assert wait_until(customer_sees("已发货"), timeout=30, interval=0.5), "Douyin was told of the shipment"

    # Delivered: the order completes (its settlement clock starts) and Douyin is told.
    owner.select_option("#status", "delivered")
    owner.click("#orders-shipping-save")
    owner.wait_for_selector("#orders-shipping-form", state="detached")
    owner.goto(f"{base}/orders/{order_id}")
    assert "已完成" in owner.inner_text("body")
    assert wait_until(customer_sees("已签收"), timeout=30, interval=0.5), "Douyin was told of the delivery"
    with live_portal.app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "completed" and order.delivered_at is not None and order.shipping_status == "delivered"
    customer.context.close()
