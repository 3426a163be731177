"""A shop owner runs the day from a phone: the home page says what needs them, owner pages are
card lists at 390 px, and the navigation folds into a menu. Screenshots at both viewports go to
$E2E_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in, wait_until

PHONE_WIDTH = 390


def shot(page, name: str) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def busy_shop(live_portal):
    """A restaurant of its own (so other browser tests keep their demo data) mid-day: orders
    yesterday and today, a held redemption, a refund request with its deadline, a paused product
    and an unread notice."""
    from portal import clock
    from portal.accounts import service as accounts
    from portal.accounts.models import Edition, Role
    from portal.extensions import db
    from portal.insights import aggregation
    from portal.ledger.models import RefundRequest
    from portal.notifications import notify
    from portal.redemption import rules
    from portal.redemption import service as redemption
    from tests.fixtures.ledger import OrderFactory as LedgerOrders
    from tests.fixtures.orders import OrderFactory as Shop

    live_portal.app.config["HOME_REFRESH_SECONDS"] = 1
    with live_portal.app.app_context():
        org = accounts.create_organization("家常小馆", edition=Edition.ADVANCED, multi_store=True)
        first = accounts.create_store(org, "家常小馆·人民路店", address="人民路 8 号")
        accounts.create_store(org, "家常小馆·滨江店", address="滨江路 66 号")
        owner = accounts.create_user("owner@xiaoguan.test", "demo-pass-1234", name="王店主")
        accounts.add_membership(owner, org, Role.OWNER)
        clerk = accounts.create_user("clerk@xiaoguan.test", "demo-pass-1234", name="小张")
        accounts.add_membership(clerk, org, Role.CLERK, first)
        ledger_orders = LedgerOrders()
        clock.freeze(clock.now() - timedelta(days=1))
        try:
            for fen in (12800, 6600):
                aggregation.sync_order(ledger_orders.order(org, paid_fen=fen, store=first))
        finally:
            clock.reset()
        today = [ledger_orders.order(org, paid_fen=fen, store=first, vouchers=2) for fen in (9900, 19800, 4500)]
        for order in today:
            aggregation.sync_order(order)
        ledger_orders.redeem(today[0].vouchers[0])
        aggregation.sync_order(today[0])
        db.session.add(RefundRequest(organization_id=org.id, order_id=today[1].id, store_id=first.id, douyin_refund_id="rf-xg-1",
                                     douyin_order_id=today[1].douyin_order_id, out_refund_no="rfo-xg-1", amount_fen=19800,
                                     customer_reason="临时有事去不了", need_audit=True,
                                     audit_deadline_at=clock.now() + timedelta(hours=47, minutes=20), created_at=clock.now()))
        rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
        shop = Shop()
        product = shop.product(org, name="双人午市套餐", stores=[first])
        vouchers = [shop.paid(org, product, phone="13900000398").vouchers[0] for _ in range(2)]
        for voucher in vouchers:
            aggregation.sync_order(voucher.order)  # now, not in the queue: the first page must show it
        redemption.redeem(first, vouchers[0].code, nonce="xg-1", actor=clerk, now=clock.now())
        redemption.redeem(first, vouchers[1].code, nonce="xg-2", actor=clerk, now=clock.now())
        paused = shop.product(org, name="招牌烤鱼", stores=[first])
        paused.paused_at = clock.now()
        paused.paused_reason = "今日核销失败 6 次"
        notify(org.id, "system", "平台将于今晚 23:00 维护")
        db.session.commit()
        ids = {"organization_id": org.id, "owner": "owner@xiaoguan.test"}
    yield ids
    live_portal.app.config.pop("HOME_REFRESH_SECONDS", None)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_the_owner_sees_todays_money_and_what_needs_them(live_portal, busy_shop, desktop):
    sign_in(desktop, live_portal.url, busy_shop["owner"])
    desktop.wait_for_url("**/dashboard")
    assert desktop.locator("#home-figure-orders").get_attribute("data-value") == "5"  # three orders and the two for the counter
    assert desktop.locator("#home-figure-paid-fen .change").inner_text().startswith("较昨日 +")
    todo = desktop.locator("#home-todo")
    for kind in ("reviews", "refunds", "paused", "notices", "enable"):
        assert todo.locator(f"#home-todo-{kind}").is_visible(), kind
    assert "47 小时 20 分" in todo.locator("#home-todo-refunds").inner_text() or "47 小时 19 分" in todo.locator("#home-todo-refunds").inner_text()
    assert desktop.locator("#main-menu-toggle").is_hidden() and desktop.locator("#main-nav").is_visible()
    shot(desktop, "home-desktop")
    todo.locator("#home-todo-reviews a").click()
    desktop.wait_for_url("**/counter/reviews")


def test_the_home_page_updates_itself_when_a_notice_arrives(live_portal, busy_shop, desktop):
    from portal.extensions import db
    from portal.notifications import notify

    sign_in(desktop, live_portal.url, busy_shop["owner"])
    desktop.wait_for_url("**/dashboard")
    before = int(desktop.locator("#home-todo-notices").get_attribute("data-count"))
    with live_portal.app.app_context():
        notify(busy_shop["organization_id"], "system", "新的退款规则已生效")
        db.session.commit()
    wait_until(lambda: desktop.locator("#home-todo-notices").get_attribute("data-count") == str(before + 1), timeout=10)
    assert desktop.url.endswith("/dashboard")


def test_on_a_phone_the_home_page_fits_and_the_menu_folds(live_portal, busy_shop, phone):
    sign_in(phone, live_portal.url, busy_shop["owner"])
    phone.wait_for_url("**/dashboard")
    assert no_sideways_scroll(phone)
    assert phone.locator("#main-nav").is_hidden() and phone.locator("#current-user").is_hidden()
    assert phone.locator("#logout").is_visible()
    box = phone.locator("#home-todo-reviews").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH
    shot(phone, "home-phone")
    phone.click("#main-menu-toggle")
    phone.locator("#main-menu.collapse.show").wait_for()  # opened, not still sliding
    assert phone.locator("#menu-password").is_visible()  # what the narrow top bar leaves out
    shot(phone, "home-phone-menu")
    phone.locator("#main-nav").get_by_text("担保账户", exact=True).click()
    phone.wait_for_url("**/ledger/")
    assert phone.locator("#main-nav").is_hidden()


@pytest.mark.parametrize("path, table", [
    ("/orders/", "#orders-table"),
    ("/ledger/", "#ledger-orders-table"),
    ("/ledger/journal", "#ledger-journal-table"),
    ("/ledger/refunds", "#ledger-refunds-table"),
    ("/catalog/", "#catalog-products"),
])
def test_owner_pages_are_card_lists_on_a_phone(live_portal, busy_shop, phone, path, table):
    sign_in(phone, live_portal.url, busy_shop["owner"])
    phone.wait_for_url("**/dashboard")
    phone.goto(live_portal.url + path)
    rows = phone.locator(f"{table} > tbody > tr")
    rows.first.wait_for()
    assert phone.locator(f"{table} > thead").is_hidden()
    box = rows.first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, box
    label = rows.first.locator("td").nth(1).evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label not in ("", "none", "normal"), label  # each value says what it is
    assert no_sideways_scroll(phone)
    shot(phone, "phone" + path.replace("/", "-").rstrip("-"))


def test_the_owner_rejects_a_held_redemption_from_the_phone_with_a_reason(live_portal, busy_shop, phone):
    sign_in(phone, live_portal.url, busy_shop["owner"])
    phone.wait_for_url("**/dashboard")
    phone.click("#home-todo-reviews a")
    phone.wait_for_url("**/counter/reviews")
    card = phone.locator(".card[data-status=open]").first
    assert "24 小时内已核销 1 次" in card.inner_text()
    card.locator("summary").click()  # 驳回… opens the reason in place
    card.locator("textarea").fill("同一手机号短时间多次核销，已电话核实为转卖")
    shot(phone, "reviews-phone")
    assert no_sideways_scroll(phone)
    card.get_by_role("button", name="确认驳回").click()
    phone.locator(".card[data-status=rejected]").first.wait_for()
    assert "转卖" in phone.locator(".card[data-status=rejected]").first.inner_text()


def test_the_owner_agrees_to_a_refund_in_one_tap(live_portal, busy_shop, desktop):
    sign_in(desktop, live_portal.url, busy_shop["owner"])
    desktop.wait_for_url("**/dashboard")
    desktop.click("#home-todo-refunds a")
    desktop.wait_for_url("**/ledger/refunds")
    row = desktop.locator("#ledger-refunds-table tr[data-status=pending]").first
    assert "已核销 0/2 张券" in row.inner_text()
    shot(desktop, "refunds-desktop")
    row.get_by_role("button", name="同意退款").click()
    desktop.locator("#ledger-refunds-table tr[data-status=approved]").first.wait_for()
