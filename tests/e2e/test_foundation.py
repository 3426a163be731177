"""A person signs in with a real browser: the owner on a desktop, the clerk on a phone."""

from tests.e2e.conftest import sign_in


def test_owner_signs_in_and_sees_the_chinese_dashboard(live_portal, desktop):
    sign_in(desktop, live_portal.url, "owner@demo.test")
    desktop.wait_for_url("**/dashboard")
    nav = desktop.locator("#main-nav")
    for label in ("抖音推广", "商品库", "订单与核销", "担保账户", "数据概览", "设置"):
        assert nav.get_by_text(label, exact=True).is_visible()
    assert desktop.locator("#current-organization").inner_text() == "示例餐饮"
    assert desktop.locator("#home-figure-paid-fen .label").inner_text() == "今日实收"


def test_wrong_password_shows_the_error_next_to_the_field(live_portal, desktop):
    sign_in(desktop, live_portal.url, "manager@demo.test", "not-the-password")
    error = desktop.locator("#field-password .form-error")
    error.wait_for()
    assert "邮箱或密码不正确" in error.inner_text()
    assert desktop.url.endswith("/login")


def test_clerk_on_a_phone_lands_on_the_counter_layout(live_portal, phone):
    sign_in(phone, live_portal.url, "clerk@demo.test")
    phone.wait_for_url("**/counter/")
    assert phone.locator("body.counter-layout").count() == 1
    assert phone.locator("#main-nav").count() == 0
    header = phone.locator(".counter-header")
    assert header.bounding_box()["width"] <= 390
    # Nothing on the counter is wider than the phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_owner_switches_to_english_and_back(live_portal, desktop):
    sign_in(desktop, live_portal.url, "other@demo.test")
    desktop.wait_for_url("**/dashboard")
    desktop.select_option("select[name=locale]", "en")
    desktop.wait_for_load_state()
    desktop.locator("#main-nav").get_by_text("Product library").wait_for()
    desktop.select_option("select[name=locale]", "zh_Hans")
    desktop.locator("#main-nav").get_by_text("商品库").wait_for()
