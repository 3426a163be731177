"""A clerk at the counter on a 390×844 phone redeems a voucher bought in the Douyin sandbox; a
second phone is told who redeemed it; Douyin (the sandbox) learns of the redemption."""


import requests
from sqlalchemy import select

from portal.extensions import db
from portal.orders.models import Order
from tests.e2e.conftest import online_product, sign_in, wait_until
from tests.e2e.test_merchant_day import shot




def test_a_clerk_redeems_a_sandbox_voucher_on_a_phone_in_two_taps(live_portal, live_sandbox, demo_connected, browser, phone):
    control = live_sandbox.control
    product_id = online_product(live_portal, live_sandbox, demo_connected, out_id="e2e-counter-1", name="双人火锅套餐")
    bought = control.post("/orders", {"product_id": product_id, "poi_id": demo_connected["poi_ids"][0], "channel": "short_video",
                                      "tracking_code": "shortvideo_1122_douyin", "phone": "13800138000", "pay": True})

    def issued_code():
        """Mini-program codes are the merchant's own (三方码): the portal issues them at payment."""
        with live_portal.app.app_context():
            order = db.session.scalar(select(Order).where(Order.douyin_order_id == bought["order_id"]))
            return order.vouchers[0].code if order is not None and order.vouchers else None

    code = wait_until(issued_code)
    assert code, "the payment callback made the portal's pre-created order with its voucher"

    page = phone
    # The phone's vibrations, as the page asks for them (a desktop Chromium has no motor).
    page.add_init_script("window.__buzz = []; navigator.vibrate = function (p) { window.__buzz.push(p); return true; };")
    sign_in(page, live_portal.url, "clerk@demo.test")
    page.wait_for_url("**/counter/")
    assert page.viewport_size == {"width": 390, "height": 844}
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    page.fill("#code", typo)
    page.click("#redemption-lookup-submit")
    page.wait_for_selector("#redemption-rejected")
    assert "校验位" in page.inner_text("#redemption-detail") and page.inner_text("#redemption-rejected-code") == typo
    page.wait_for_function("document.body.dataset.counterSignal === 'refused'")
    assert page.evaluate("window.__buzz") == [[350]]  # one long buzz: refused
    page.wait_for_function("document.activeElement.id === 'code'")
    assert page.input_value("#code") == typo  # kept, to mend the digit
    page.fill("#code", code)
    page.click("#redemption-lookup-submit")  # tap 1
    page.wait_for_selector("#redemption-preview")
    assert "双人火锅套餐" in page.inner_text("#redemption-product")
    assert page.inner_text("#redemption-buyer") == "138****8000"
    box = page.locator("#redemption-confirm").bounding_box()
    assert box["width"] >= 300 and box["height"] >= 48  # a big target on a phone
    page.click("#redemption-confirm")  # tap 2
    page.wait_for_selector("#redemption-success")
    assert "还剩 60 分钟" in page.inner_text("#redemption-undo")
    page.wait_for_function("document.body.dataset.counterSignal === 'success'")
    assert page.evaluate("window.__buzz")[-1] == [70, 60, 70]  # a short double buzz and the chime: confirmed
    assert page.evaluate("document.body.dataset.counterSound") == "played"
    assert page.inner_text("#redemption-success-code") == code
    assert page.locator("#redemption-store").count() == 0  # the header names the clerk's store, once
    shot(page, "counter-success-390")

    second = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN").new_page()
    try:
        second.set_default_timeout(15000)
        sign_in(second, live_portal.url, "manager@demo.test")
        second.wait_for_url(lambda url: "/login" not in url)
        second.goto(f"{live_portal.url}/counter/")
        second.fill("#code", code)
        second.click("#redemption-lookup-submit")
        second.wait_for_selector("#redemption-rejected")
        assert "已于" in second.inner_text("#redemption-detail") and "张三" in second.inner_text("#redemption-detail")
    finally:
        second.context.close()

    def verified_in_sandbox():
        view = control.get(f"/orders/{bought['order_id']}")
        return any(item.get("status") in (2, "verified", "VERIFIED") for item in view.get("items") or [])

    assert wait_until(verified_in_sandbox, timeout=60), requests.get(f"{live_sandbox.url}/sandbox/control/orders/{bought['order_id']}", timeout=5).text


def test_the_counter_installs_as_a_web_app(live_portal, browser):
    """Chromium finds nothing that stops a clerk from adding the counter to the home screen."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, live_portal.url, "clerk@demo.test")
        page.wait_for_url("**/counter/")
        manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href, {credentials: 'omit'}).then(r => r.json())")
        assert manifest["start_url"] == "/counter/" and manifest["display"] == "standalone"
        for icon in manifest["icons"]:
            assert page.request.get(f"{live_portal.url}{icon['src']}").ok
        cdp = context.new_cdp_session(page)
        assert wait_until(lambda: cdp.send("Page.getAppManifest").get("url"))
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        # A Playwright context is always incognito, where Chromium never installs; nothing else may stop it.
        assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
    finally:
        context.close()


def test_the_owner_previews_thresholds_then_saves_them(live_portal, desktop):
    """Preview loads the page again with the tables worked out for the typed thresholds; save swaps
    the form in place and refuses a bad value next to its field."""
    page = desktop
    sign_in(page, live_portal.url, "owner@demo.test")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_portal.url}/counter/rules")
    page.fill("#max_failed_per_product_day", "2")
    page.fill("#max_redemptions_per_phone_24h", "1")
    page.click("#redemption-rules-preview")
    page.wait_for_url("**/counter/rules?*max_failed_per_product_day=2*")
    assert "csrf" not in page.url
    assert page.locator("#redemption-rules-form").count() == 1 and page.locator("#page-title").count() == 1
    assert "预览" in page.inner_text("#redemption-would-have-caught h2")
    assert "超过 2 张" in page.inner_text("#redemption-would-have-caught")
    assert page.input_value("#max_failed_per_product_day") == "2"

    page.fill("#max_failed_per_product_day", "0")
    page.click("#redemption-rules-save")
    page.wait_for_selector("#max_failed_per_product_day-error")
    assert page.locator("#page-title").count() == 1 and page.url.endswith("?max_failed_per_product_day=2&max_redemptions_per_phone_24h=1")
    page.goto(f"{live_portal.url}/counter/rules")
    assert page.input_value("#max_failed_per_product_day") == "5"  # the refused value changed nothing
    for value in ("4", "5"):  # saved, then back to the default for the other tests
        page.fill("#max_failed_per_product_day", value)
        with page.expect_navigation():  # saved: htmx follows HX-Redirect to the page
            page.click("#redemption-rules-save")
        assert page.input_value("#max_failed_per_product_day") == value
