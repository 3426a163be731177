"""The owner records the licence subject, binds a payout account (a holder other than the
licence subject is refused, the same subject written with half-width brackets is accepted) and
withdraws; the operator deducts compensation from the deposit and the owner sees what is owed,
the order and the reason."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from tests.e2e.conftest import sign_in
from tests.fixtures.ledger import OrderFactory

MERCHANT = "收款账户示例餐饮"
OWNER = "payout.owner@demo.test"
PASSWORD = "payout-pass-1234"


@pytest.fixture(scope="module")
def merchant(live_portal):
    """A restaurant with 抖音推广 switched on, one settled order of ¥100.00 and a second order."""
    from portal import clock
    from portal.accounts import service as accounts
    from portal.accounts.models import Edition, Role
    from portal.ledger import service as ledger
    from portal.onboarding import service as onboarding

    with live_portal.app.app_context():
        org = accounts.create_organization(MERCHANT, edition=Edition.ADVANCED)
        accounts.create_store(org, "收款账户示例餐饮·总店")
        accounts.add_membership(accounts.create_user(OWNER, PASSWORD, name="收款店主"), org, Role.OWNER, None)
        onboarding.enable_app(org, actor=None, now=clock.now())
        db.session.flush()
        db.session.refresh(org)
        factory = OrderFactory()
        settled = factory.order(org, paid_fen=10000)
        factory.redeem_all(settled)
        ledger.settle_batch(now=clock.now() + timedelta(days=4), organization_id=org.id, request_douyin=False)
        complained = factory.order(org, paid_fen=6800)
        db.session.commit()
        return {"id": org.id, "settled_order": settled.id, "available": ledger.available_fen(org.id),
                "complained_no": complained.douyin_order_id, "complained_id": complained.id}


def test_bind_payout_account_then_withdraw_and_see_a_deposit_deduction(live_portal, merchant, desktop, browser):
    base, owner = live_portal.url, desktop
    sign_in(owner, base, OWNER, PASSWORD)
    owner.wait_for_url(re.compile(r"/dashboard$"))

    # Without an account nothing can be withdrawn.
    owner.goto(f"{base}/ledger/withdrawals")
    assert "还没有绑定" in owner.locator("#ledger-withdraw-blocked").inner_text()
    assert owner.locator("#ledger-withdraw-submit").is_disabled()

    # The licence subject, as printed on the licence, in the wizard's first step.
    owner.goto(f"{base}/onboarding/prepare")
    owner.fill("#subject", "北京收款示例（国贸）餐饮有限公司")
    owner.select_option("#kind", "enterprise")
    owner.click("#onboarding-licence-subject-submit")
    owner.get_by_text("营业执照主体已保存").wait_for()
    assert owner.locator("#subject").input_value() == "北京收款示例（国贸）餐饮有限公司"

    # A holder other than the subject is refused, next to the field, with the reason.
    owner.goto(f"{base}/ledger/payout-account")
    owner.select_option("#kind", "bank")
    owner.fill("#holder_name", "北京另一家餐饮有限公司")
    owner.fill("#account_no", "1100 1234 5678 9012")
    owner.fill("#bank_name", "招商银行")
    owner.fill("#bank_branch", "北京国贸支行")
    owner.click("#ledger-payout-submit")
    error = owner.locator("#field-holder_name .form-error")
    error.wait_for()
    assert "北京收款示例（国贸）餐饮有限公司" in error.inner_text() and "不一致" in error.inner_text()
    assert owner.locator("#ledger-payout-none").count() == 1

    # The same subject written with half-width brackets and a space is the same subject.
    owner.fill("#holder_name", "北京收款示例(国贸)餐饮 有限公司")
    owner.click("#ledger-payout-submit")
    owner.locator("#ledger-payout-masked").wait_for()
    assert "•••• 9012" in owner.locator("#ledger-payout-masked").inner_text()

    # The withdrawal page shows the account masked; the owner withdraws everything available.
    owner.goto(f"{base}/ledger/withdrawals")
    assert "•••• 9012" in owner.locator("#ledger-withdraw-account").inner_text()
    assert "1100123456789012" not in owner.content()
    available = merchant["available"]
    owner.fill("#amount", f"{available // 100}.{available % 100:02d}")
    owner.click("#ledger-withdraw-submit")
    owner.wait_for_url(re.compile(r"/ledger/withdrawals/\d+$"))
    assert owner.locator(f"#ledger-withdrawal-item-{merchant['settled_order']}").count() == 1

    # The owner records the deposit paid in; the operator sets the category and deducts compensation.
    owner.goto(f"{base}/ledger/deposit")
    owner.select_option("#kind", "deposit_pay_in")
    owner.fill("#amount", "2000")
    owner.click("#ledger-deposit-submit")
    owner.get_by_text("保证金记录已保存").wait_for()

    operator_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    operator = operator_context.new_page()
    operator.set_default_timeout(15000)
    try:
        sign_in(operator, base, "admin@demo.test")
        operator.wait_for_url("**/admin/")
        operator.goto(f"{base}/admin/merchants/{merchant['id']}")
        operator.select_option("#category", "catering")
        operator.click("#admin-deposit-category-submit")
        operator.get_by_text("经营类目已设为").wait_for()
        operator.fill("#order_no", "no-such-order")
        operator.fill("#amount", "300")
        operator.fill("#reason", "顾客到店被拒，赔付顾客")
        operator.click("#admin-deposit-deduct-submit")
        assert "no-such-order" in operator.locator("#field-order_no .form-error").inner_text()
        operator.fill("#order_no", merchant["complained_no"])
        operator.click("#admin-deposit-deduct-submit")
        operator.get_by_text("用于赔付").wait_for()
        assert operator.locator("#admin-deposit-owed").get_attribute("data-fen") == "30000"
    finally:
        operator_context.close()

    owner.goto(f"{base}/ledger/deposit")
    assert owner.locator("#ledger-deposit-required").get_attribute("data-fen") == "200000"
    assert owner.locator("#ledger-deposit-owed").get_attribute("data-fen") == "30000"
    link = owner.locator("a.ledger-deposit-order")
    assert link.inner_text() == merchant["complained_no"]
    assert "顾客到店被拒，赔付顾客" in owner.locator("#ledger-deposit-table").inner_text()
    link.click()
    owner.wait_for_url(re.compile(rf"/orders/{merchant['complained_id']}$"))

    from portal.ledger import service as ledger
    from portal.ledger.models import Withdrawal

    with live_portal.app.app_context():
        assert ledger.check_books(merchant["id"]) == []
        assert db.session.scalar(select(Withdrawal.amount_fen).where(Withdrawal.organization_id == merchant["id"])) == merchant["available"]
