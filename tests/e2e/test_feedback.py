"""Every message on the way reads plainly, on a desktop and on a phone: a save says what it
changed, a Douyin refusal says what happened and what to do (its code apart, for support), and the
activity log reads as sentences. Screenshots go to $E2E_SCREENSHOTS when it is set."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.test_merchant_day import no_sideways_scroll, shot


@pytest.fixture(scope="module")
def noodle_shop(live_portal):
    """A shop of its own: a redemption by its clerk and a withdrawal Douyin refused."""
    from portal import clock
    from portal.accounts import service as accounts
    from portal.accounts.models import Edition, Role
    from portal.douyin import DouyinError
    from portal.extensions import db
    from portal.ledger import service as ledger
    from portal.ledger.models import Withdrawal
    from portal.redemption import service as redemption
    from tests.fixtures.orders import OrderFactory as Shop

    with live_portal.app.app_context():
        org = accounts.create_organization("老街面馆", edition=Edition.ADVANCED)
        store = accounts.create_store(org, "老街面馆·解放路店", address="解放路 12 号")
        owner = accounts.create_user("owner@mianguan.test", "demo-pass-1234", name="李老板")
        accounts.add_membership(owner, org, Role.OWNER)
        clerk = accounts.create_user("clerk@mianguan.test", "demo-pass-1234", name="小刘")
        accounts.add_membership(clerk, org, Role.CLERK, store)
        shop = Shop()
        product = shop.product(org, name="牛肉面双人餐", stores=[store])
        voucher = shop.paid(org, product, phone="13900000711").vouchers[0]
        redemption.redeem(store, voucher.code, nonce="mg-1", actor=clerk, now=clock.now())
        refused = ledger.withdrawal_refused_reason(DouyinError(2100011, "可提现余额不足", "20261207LOG0911"))
        withdrawal = Withdrawal(organization_id=org.id, out_withdraw_no=f"W-mg-{org.id}", amount_fen=9742, status="failed",
                                failure_reason=refused, requested_at=clock.now(), finished_at=clock.now())
        db.session.add(withdrawal)
        db.session.commit()
        ids = {"owner": "owner@mianguan.test", "withdrawal_id": withdrawal.id}
    return ids


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_saved_settings_say_from_which_orders_the_new_n_applies(live_portal, noodle_shop, viewport, request):
    page = request.getfixturevalue(viewport)
    sign_in(page, live_portal.url, noodle_shop["owner"])
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_portal.url}/ledger/settings")
    page.fill("#settlement_days", "5" if viewport == "desktop" else "4")
    with page.expect_navigation():
        page.click("#ledger-settings-submit")
    said = page.locator(".alert-success").inner_text()
    assert "结算与退款设置已保存。" in said and "之后全部核销完成的订单" in said and "仍按原定日期结算" in said
    if viewport == "phone":
        assert no_sideways_scroll(page)
    shot(page, f"settings-saved-{viewport}")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_refused_withdrawal_reads_plainly_with_its_code_apart(live_portal, noodle_shop, viewport, request):
    page = request.getfixturevalue(viewport)
    sign_in(page, live_portal.url, noodle_shop["owner"])
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_portal.url}/ledger/withdrawals/{noodle_shop['withdrawal_id']}")
    box = page.locator("#ledger-withdrawal-failure")
    details = box.locator(".problem-details").inner_text()
    assert "错误码 2100011" in details and "log_id 20261207LOG0911" in details
    said = box.inner_text().replace(details, "")
    assert "款项已退回可提现余额" in said and "[2100011]" not in said and "log_id=" not in said
    if viewport == "phone":
        assert no_sideways_scroll(page)
    shot(page, f"withdrawal-refused-{viewport}")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_activity_log_reads_as_sentences_and_filters(live_portal, noodle_shop, viewport, request):
    page = request.getfixturevalue(viewport)
    sign_in(page, live_portal.url, noodle_shop["owner"])
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_portal.url}/settings/audit")
    page.select_option("#group", "redemption")
    with page.expect_navigation():
        page.click("#settings-activity-apply")
    line = page.locator("#settings-activity [data-code='redemption.voucher.redeemed']").first.inner_text()
    # The factory numbers its products across the run, so the name ends in whatever number it got.
    assert line.startswith("小刘 于 ") and re.search(r"核销了 牛肉面双人餐\d+（券码 …\d{4}）", line), line
    assert "group=redemption" in page.locator("#settings-activity-export").get_attribute("href")
    if viewport == "phone":
        assert no_sideways_scroll(page)
    shot(page, f"activity-log-{viewport}")
