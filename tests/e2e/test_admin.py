"""The operator switches a feature off for a merchant in a real browser; the merchant's page changes."""

from tests.e2e.conftest import sign_in


def test_operator_toggles_content_attribution_and_owner_page_changes(live_portal, desktop, browser):
    owner_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    owner = owner_context.new_page()
    owner.set_default_timeout(15000)
    try:
        sign_in(owner, live_portal.url, "owner@demo.test")
        owner.wait_for_url("**/dashboard")
        owner.goto(f"{live_portal.url}/settings/content/")
        owner.locator("#settings-content-form").wait_for()
        assert owner.locator("#settings-feature-off").count() == 0

        sign_in(desktop, live_portal.url, "admin@demo.test")
        desktop.wait_for_url("**/admin/")
        desktop.fill("#q", "示例餐饮")
        desktop.locator("#admin-merchant-rows a", has_text="示例餐饮").click()
        switch = desktop.locator("#feature-content_attribution")
        assert switch.is_checked()
        switch.click()  # htmx posts at once and swaps the switches
        desktop.locator("#admin-feature-content_attribution .text-muted", has_text="运营设置").wait_for()
        assert not desktop.locator("#feature-content_attribution").is_checked()

        owner.reload()
        owner.locator("#settings-feature-off").wait_for()
        assert owner.locator("#settings-content-form").count() == 0

        desktop.locator("#feature-content_attribution").click()
        desktop.locator("#feature-content_attribution:checked").wait_for()
        owner.reload()
        owner.locator("#settings-content-form").wait_for()
    finally:
        owner_context.close()
