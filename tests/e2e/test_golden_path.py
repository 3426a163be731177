"""The golden path of DESIGN.md, in real browsers against the running sandbox.

Step 1 (switching on 抖音推广 and walking the five wizard steps until the mini-program is approved)
is walked by tests/e2e/test_onboarding.py for a fresh merchant; here a merchant of its own starts
connected, so no other browser test's orders share its books, and the story continues from step 2:
a product for ¥99.00, a purchase from a short video, redemption at the counter, settlement three
days later, a withdrawal, and a refund.
"""

import re
from datetime import UTC, datetime

import pytest

from sqlalchemy import select

from portal import clock
from portal.catalog.models import Product
from portal.extensions import db
from portal.orders.models import Order
from tests.e2e.conftest import connect_merchant, sign_in, wait_until

PRODUCT = "黄金双人套餐"
TRACKING = "shortvideo_1122_douyin"
MERCHANT = "黄金路径餐饮"
STORE_A = "黄金路径餐饮·A店"
PASSWORD = "golden-pass-1234"


@pytest.fixture(scope="module")
def merchant(live_portal, live_sandbox):
    """A multi-store restaurant with an owner, and a clerk and a manager of store A."""
    from portal.accounts import service
    from portal.accounts.models import Edition, Role

    with live_portal.app.app_context():
        org = service.create_organization(MERCHANT, edition=Edition.ADVANCED, multi_store=True)
        store_a = service.create_store(org, STORE_A, address="北京市东城区王府井大街1号")
        service.create_store(org, "黄金路径餐饮·B店")
        for email, role, store in (("gold.owner@demo.test", Role.OWNER, None), ("gold.clerk@demo.test", Role.CLERK, store_a),
                                   ("gold.manager@demo.test", Role.STORE_MANAGER, store_a)):
            user = service.create_user(email, PASSWORD, name={"gold.clerk@demo.test": "张三"}.get(email, email.split("@")[0]))
            service.add_membership(user, org, role, store)
        db.session.commit()
    return connect_merchant(live_portal, live_sandbox, MERCHANT)




def fen_of(page, selector):
    return int(page.locator(selector).get_attribute("data-fen"))


def buy_in_sandbox(browser, sandbox_url, phone_number):
    """A customer on the sandbox's consumer page buys the product, arriving from a short video."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{sandbox_url}/consumer/")
    page.get_by_text(STORE_A).first.click()
    page.locator("#consumer-products a", has_text=PRODUCT).click()
    page.select_option("select[name=channel]", "short_video")
    page.fill("input[name=tracking_code]", TRACKING)
    page.fill("input[name=phone]", phone_number)
    page.click("button[name=action][value=pay]")
    page.wait_for_url(re.compile(r"/consumer/order/"))
    return page


def voucher_code_on(page):
    """The consumer's order page shows the code once the portal has issued it (the mini-program shows our own codes)."""

    def code():
        page.reload()
        codes = page.locator("#consumer-vouchers .code")
        return codes.first.inner_text().strip() if codes.count() else None

    return wait_until(code)


def test_golden_path(live_portal, live_sandbox, merchant, browser, desktop, phone):
    base = live_portal.url
    control = live_sandbox.control
    owner = desktop
    try:
        # 2. The owner adds a 团购套餐 for ¥99.00 valid at store A and submits it; Douyin approves;
        #    刷新列表 shows it approved and online on both sides.
        sign_in(owner, base, "gold.owner@demo.test", PASSWORD)
        owner.wait_for_url(re.compile(r"/dashboard$"))
        owner.goto(f"{base}/catalog/new")
        owner.select_option("#kind", "groupon")
        owner.fill("#name", PRODUCT)
        owner.select_option("#category_id", "1001000")
        owner.fill("#original_price", "128")
        owner.fill("#price", "99.00")
        owner.fill("#stock", "50")
        owner.uncheck("#store_ids-1")  # a new product starts at every store: store A only
        owner.click("#catalog-save")
        owner.wait_for_url(re.compile(r"/catalog/\d+$"))
        product_url = owner.url
        owner.click("#catalog-submit")
        owner.wait_for_url(product_url)

        def douyin_product_id():
            with live_portal.app.app_context():
                return db.session.scalar(
                    select(Product.douyin_product_id).where(Product.name == PRODUCT, Product.organization_id == merchant["organization_id"])
                )

        douyin_id = wait_until(douyin_product_id)
        assert douyin_id, "the submission reached Douyin through the outbox"
        control.post(f"/products/{douyin_id}/review", {"approve": True})
        owner.goto(f"{base}/catalog/?q={PRODUCT}")
        owner.click("#catalog-refresh")
        owner.wait_for_selector("#catalog-sync-status[data-status=succeeded]", timeout=30000)
        row = owner.locator("#catalog-products tbody tr", has_text=PRODUCT)
        row.locator("[data-buyable=yes]").wait_for(timeout=15000)

        # 3. A customer arriving from a short video buys it; the portal receives the signed payment
        #    callback once even though the sandbox sends it three times; the ledger shows ¥99.00 in transit.
        control.post("", {"duplicate": 3})
        customer = buy_in_sandbox(browser, live_sandbox.url, "13800138000")
        code = voucher_code_on(customer)
        assert code
        control.post("", {"duplicate": 1})
        with live_portal.app.app_context():
            orders = db.session.scalars(select(Order).where(Order.organization_id == merchant["organization_id"])).all()
            assert len(orders) == 1 and orders[0].channel == "short_video" and orders[0].tracking_code == TRACKING
            assert orders[0].paid_fen == 9900
            order_id = orders[0].id
        owner.goto(f"{base}/ledger/")
        assert fen_of(owner, "#ledger-balance-in-transit") == 9900

        # 4. The clerk of store A redeems the code on a phone; a second phone is told who did it and when.
        sign_in(phone, base, "gold.clerk@demo.test", PASSWORD)
        phone.wait_for_url("**/counter/")
        phone.fill("#code", code)
        phone.click("#redemption-lookup-submit")
        phone.wait_for_selector("#redemption-preview")
        phone.click("#redemption-confirm")
        phone.wait_for_selector("#redemption-success")
        second = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN").new_page()
        second.set_default_timeout(15000)
        sign_in(second, base, "gold.manager@demo.test", PASSWORD)
        second.wait_for_url(lambda url: "/login" not in url)
        second.goto(f"{base}/counter/")
        second.fill("#code", code)
        second.click("#redemption-lookup-submit")
        second.wait_for_selector("#redemption-rejected")
        detail = second.inner_text("#redemption-detail")
        assert "已于" in detail and "张三" in detail
        second.context.close()

        # 5. As the README says: "+3 天" on the sandbox console's clock. The portal follows that clock
        #    (the demo's one clock) and settles at once: available is ¥99.00 less the fees, each fee
        #    shown; the overview attributes the settled cash to the video. No job is run by hand.
        console = owner.context.new_page()
        console.goto(f"{live_sandbox.url}/console/faults")
        console.locator("#console-clock button", has_text="+3 天").click()
        console.close()
        assert abs((clock.now() - datetime.now(UTC)).total_seconds() - 3 * 86400) < 60

        def settled():
            owner.goto(f"{base}/ledger/")
            return fen_of(owner, "#ledger-balance-in-transit") == 0

        assert wait_until(settled, timeout=30, interval=0.5)
        owner.goto(f"{base}/ledger/orders")
        order_row = owner.locator(f"#ledger-order-{order_id}")
        tech_fee = int(order_row.locator(".ledger-tech-fee").get_attribute("data-fen"))
        channel_fee = int(order_row.locator(".ledger-channel-fee").get_attribute("data-fen"))
        assert channel_fee == 59  # 0.6 % of ¥99.00, half up at the fen
        assert tech_fee > 0
        owner.goto(f"{base}/ledger/")
        available = fen_of(owner, "#ledger-balance-available")
        # The estimate until Douyin's settlement is read; then what Douyin settled, the difference a 结算调整.
        if available != 9900 - tech_fee - channel_fee:
            owner.goto(f"{base}/ledger/journal")
            assert "结算调整" in owner.content()
            owner.goto(f"{base}/ledger/")
        assert fen_of(owner, "#ledger-balance-in-transit") == 0
        # The overview learns of the settlement from a job queued when it committed: reload until it shows.
        # (The overview counts the settlement at the estimate; Douyin's adjustment is a journal entry.)
        estimate = 9900 - tech_fee - channel_fee
        settled_text = f"¥{estimate // 100}.{estimate % 100:02d}"

        def overview_shows_settled_cash():
            owner.goto(f"{base}/insights/")
            code_row = owner.locator("#insights-codes tr", has_text=TRACKING)
            return code_row.count() == 1 and settled_text in code_row.inner_text()

        assert wait_until(overview_shows_settled_cash, timeout=20, interval=0.5)

        # 6. Douyin settles the order less its real fees; the difference from the estimate is a 结算调整
        #    and 可提现 is what Douyin holds. The owner withdraws all of it; the sandbox pays out.
        control.post("", {"withdraw_auto_pay": True, "withdraw_auto_pay_seconds": 0})
        # A withdrawal needs a payout account of the licence's subject (主体一致).
        owner.goto(f"{base}/onboarding/prepare")
        owner.fill("#subject", MERCHANT)
        owner.click("#onboarding-licence-subject-submit")
        owner.get_by_text("营业执照主体已保存").wait_for()
        owner.goto(f"{base}/ledger/payout-account")
        owner.fill("#holder_name", MERCHANT)
        owner.fill("#account_no", "finance@example.com")
        owner.click("#ledger-payout-submit")
        owner.locator("#ledger-payout-masked").wait_for()

        def douyin_holds():
            owner.goto(f"{base}/ledger/withdrawals")
            return int(owner.locator("#ledger-platform-balance").get_attribute("data-fen"))

        available = wait_until(douyin_holds, timeout=30, interval=0.5)
        assert available > 0
        assert owner.locator("#ledger-withdrawable").inner_text() == f"¥{available // 100}.{available % 100:02d}"
        owner.fill("#amount", f"{available // 100}.{available % 100:02d}")
        owner.click("#ledger-withdraw-submit")
        owner.wait_for_url(re.compile(r"/ledger/withdrawals/\d+$"))
        assert owner.locator(f"#ledger-withdrawal-item-{order_id}").count() == 1
        from portal import jobs
        from portal.jobs.ledger import run_withdrawal_checks

        jobs.bind_app(live_portal.app)

        def paid_out():
            run_withdrawal_checks()
            owner.reload()
            return owner.locator("#ledger-withdrawal-status").get_attribute("data-status") == "paid"

        assert wait_until(paid_out, timeout=60)
        owner.goto(f"{base}/ledger/")
        assert fen_of(owner, "#ledger-balance-withdrawn") == available
        assert fen_of(owner, "#ledger-balance-available") == 0

        # 7. Another customer asks for a refund of an unredeemed voucher within the policy window: it
        #    is approved, the voucher is void, the ledger reverses, and the owner is notified.
        other = buy_in_sandbox(browser, live_sandbox.url, "13900139000")
        other_code = voucher_code_on(other)
        owner.goto(f"{base}/ledger/")
        assert wait_until(lambda: owner.reload() or fen_of(owner, "#ledger-balance-in-transit") == 9900)
        other.locator("form[action*=refund] button").click()

        def refunded():
            owner.goto(f"{base}/ledger/")
            return fen_of(owner, "#ledger-balance-in-transit") == 0 and fen_of(owner, "#ledger-balance-refunded") == 9900

        assert wait_until(refunded, timeout=60)
        phone.goto(f"{base}/counter/")
        phone.fill("#code", other_code)
        phone.click("#redemption-lookup-submit")
        phone.wait_for_selector("#redemption-rejected")
        assert "退款" in phone.inner_text("#redemption-rejected")
        owner.goto(f"{base}/settings/notifications/")
        assert "退款" in owner.inner_text("body")
    finally:
        clock.reset()
        control.post("", {"clock_offset_seconds": 0, "duplicate": 1, "withdraw_auto_pay": False})
