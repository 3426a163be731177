"""The operator returns deposit (退还保证金): an over-return is refused next to the amount and
changes nothing, the excess is returned, then the whole balance when the merchant leaves; the
owner sees each return with its reason in the 保证金 list and a notification."""

import re

import pytest

from portal.extensions import db
from tests.e2e.conftest import sign_in

MERCHANT = "退还保证金示例丽人"
OWNER = "deposit.owner@demo.test"
PASSWORD = "deposit-pass-1234"


@pytest.fixture(scope="module")
def merchant(live_portal):
    """A beauty salon (¥5,000 required) holding ¥5,600 of deposit."""
    from portal import clock
    from portal.accounts import service as accounts
    from portal.accounts.models import Edition, Role
    from portal.ledger import deposits
    from portal.ledger import service as ledger
    from portal.ledger.models import TxnKind

    with live_portal.app.app_context():
        org = accounts.create_organization(MERCHANT, edition=Edition.ADVANCED)
        accounts.create_store(org, "退还保证金示例丽人·总店")
        accounts.add_membership(accounts.create_user(OWNER, PASSWORD, name="丽人店主"), org, Role.OWNER, None)
        deposits.set_merchant_category(org.id, "beauty", actor=None, now=clock.now())
        ledger.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 560_000, reason="", reference="pay-in", actor=None, now=clock.now())
        db.session.commit()
        return {"id": org.id}


def test_operator_returns_the_excess_then_everything_and_the_owner_sees_both(live_portal, merchant, desktop, browser):
    base, operator = live_portal.url, desktop
    sign_in(operator, base, "admin@demo.test")
    operator.wait_for_url("**/admin/")
    operator.goto(f"{base}/admin/merchants/{merchant['id']}")
    assert operator.locator("#admin-deposit-returnable").get_attribute("data-fen") == "60000"

    operator.fill("#return-amount", "600.01")
    operator.fill("#return-reason", "多缴部分退还")
    operator.click("#admin-deposit-return-submit")
    error = operator.locator("#field-return-amount .form-error")
    error.wait_for()
    assert "¥600.00" in error.inner_text()
    assert operator.locator("#admin-deposit-balance").get_attribute("data-fen") == "560000"

    operator.fill("#return-amount", "600")
    operator.click("#admin-deposit-return-submit")
    operator.get_by_text("已退还保证金 ¥600.00").wait_for()
    assert operator.locator("#admin-deposit-balance").get_attribute("data-fen") == "500000"

    operator.select_option("#return-mode", "leaving")
    operator.fill("#return-reason", "商户退出丽人类目")
    operator.click("#admin-deposit-return-submit")
    operator.get_by_text("已退还保证金 ¥5,000.00").wait_for()
    assert operator.locator("#admin-deposit-balance").get_attribute("data-fen") == "0"
    assert operator.locator("#admin-deposit-owed").get_attribute("data-fen") == ""

    owner_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    owner = owner_context.new_page()
    owner.set_default_timeout(15000)
    try:
        sign_in(owner, base, OWNER, PASSWORD)
        owner.wait_for_url(re.compile(r"/dashboard$"))
        owner.goto(f"{base}/ledger/deposit")
        table = owner.locator("#ledger-deposit-table").inner_text()
        assert "多缴部分退还" in table and "商户退出丽人类目" in table and "-¥600.00" in table and "-¥5,000.00" in table
        assert owner.locator("#ledger-balance-deposit").get_attribute("data-fen") == "0"
        owner.goto(f"{base}/settings/notifications/")
        assert "保证金退还 ¥5,000.00" in owner.locator("main").inner_text()
    finally:
        owner_context.close()

    from portal.ledger import service as ledger

    with live_portal.app.app_context():
        assert ledger.check_books(merchant["id"]) == []
