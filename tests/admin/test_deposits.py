"""The operator's deposit pages: category table, a merchant's category, deductions for
compensation (audited; bad input next to its field, nothing changed)."""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.audit import AuditEntry
from portal.ledger import deposits, service
from portal.ledger.models import AccountCode, DepositRequirement, TxnKind


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_only_operators_manage_deposits(client, owner, org):
    client.login_as(owner)
    assert client.get("/admin/deposits").status_code == 403
    assert client.post_form("/admin/deposits/catering", {"amount": "0"}).status_code == 403
    assert client.post_form(f"/admin/merchants/{org.id}/deposit/deduct", {"order_no": "x", "amount": "1", "reason": "r"}).status_code == 403


def test_operator_changes_a_categorys_deposit_and_bad_amounts_change_nothing(client, operator, db):
    client.login_as(operator)
    page = html(client.get("/admin/deposits"))
    assert page.select_one("#admin-deposit-requirement-education")["data-fen"] == "2000000"
    response = client.post_form("/admin/deposits/education", {"amount": "-5"})
    assert response.status_code == 422 and html(response).select_one("#amount-education-error") is not None
    assert db.session.scalar(select(func.count()).select_from(DepositRequirement)) == 0
    assert client.post_form("/admin/deposits/education", {"amount": "15000"}).status_code == 303
    assert deposits.required_fen("education") == 1_500_000
    assert client.post_form("/admin/deposits/casino", {"amount": "1"}).status_code == 404


def test_operator_sets_the_category_and_deducts_compensation_shown_to_the_merchant(client, operator, owner, org, orders, clock, db):
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 100_000, reason="", reference="a", actor=None, now=clock.now())
    order = orders.order(org)
    client.login_as(operator)
    assert client.post_form(f"/admin/merchants/{org.id}/deposit/category", {"category": "beauty"}).status_code == 303
    response = client.post_form(f"/admin/merchants/{org.id}/deposit/deduct",
                                {"order_no": order.douyin_order_id, "amount": "88.80", "reason": "服务未按约定提供，赔付顾客", "reference": "r1"})
    assert response.status_code == 303
    page = html(client.get(f"/admin/merchants/{org.id}"))
    assert page.select_one("#admin-deposit-owed")["data-fen"] == str(500_000 - 100_000 + 8_880)
    assert order.douyin_order_id in page.select_one("#admin-deposit-rows").get_text()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.code == "ledger.deposit.deducted"))
    assert entry.actor_id == operator.id and entry.organization_id == org.id and entry.payload["reason"] == "服务未按约定提供，赔付顾客"
    client.login_as(owner)
    merchant = html(client.get("/ledger/deposit"))
    assert merchant.select_one("a.ledger-deposit-order")["href"] == f"/orders/{order.id}"
    assert "服务未按约定提供，赔付顾客" in merchant.select_one("#ledger-deposit-table").get_text()


@pytest.mark.parametrize(("changes", "field"), [
    ({"order_no": "no-such-order"}, "order_no"),
    ({"reason": ""}, "reason"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "1000.01"}, "amount"),
])
def test_a_bad_deduction_is_a_422_next_to_its_field_and_changes_nothing(client, operator, org, orders, clock, db, changes, field):
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 100_000, reason="", reference="a", actor=None, now=clock.now())
    order = orders.order(org)
    client.login_as(operator)
    data = dict({"order_no": order.douyin_order_id, "amount": "10", "reason": "赔付", "reference": "r2"}, **changes)
    response = client.post_form(f"/admin/merchants/{org.id}/deposit/deduct", data)
    assert response.status_code == 422
    assert html(response).select_one(f"#admin-deposit-deduct-form #field-{field} .form-error") is not None
    assert service.balance(org.id, AccountCode.DEPOSIT) == 100_000


def test_only_operators_return_a_deposit(client, owner, org, clock):
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 100_000, reason="", reference="a", actor=None, now=clock.now())
    assert client.post_form(f"/admin/merchants/{org.id}/deposit/return", {"return-mode": "leaving", "return-reason": "r"}).status_code == 302
    client.login_as(owner)
    assert client.post_form(f"/admin/merchants/{org.id}/deposit/return", {"return-mode": "leaving", "return-reason": "r"}).status_code == 403
    assert service.balance(org.id, AccountCode.DEPOSIT) == 100_000


def test_operator_returns_the_excess_and_the_merchant_sees_it(client, operator, owner, org, clock, db):
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 250_000, reason="", reference="a", actor=None, now=clock.now())
    client.login_as(operator)
    page = html(client.get(f"/admin/merchants/{org.id}"))
    assert page.select_one("#admin-deposit-returnable")["data-fen"] == "50000"
    assert page.select_one("#admin-deposit-return-form #return-mode") is not None
    response = client.post_form(f"/admin/merchants/{org.id}/deposit/return",
                                {"return-mode": "excess", "return-amount": "500", "return-reason": "类目调整后多缴部分退还", "return-reference": "r1"})
    assert response.status_code == 303
    page = html(client.get(f"/admin/merchants/{org.id}"))
    assert page.select_one("#admin-deposit-balance")["data-fen"] == "200000"
    assert "类目调整后多缴部分退还" in page.select_one("#admin-deposit-rows").get_text()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.code == "ledger.deposit.returned"))
    assert entry.actor_id == operator.id and entry.organization_id == org.id and entry.payload["amount_fen"] == 50_000
    client.login_as(owner)
    merchant = html(client.get("/ledger/deposit"))
    row = merchant.select_one("#ledger-deposit-table tbody tr")
    assert "保证金退回" in row.get_text() and "类目调整后多缴部分退还" in row.get_text() and "-¥500.00" in row.get_text()
    assert "保证金退还 ¥500.00" in html(client.get("/settings/notifications/")).get_text()


def test_operator_returns_the_whole_deposit_when_the_merchant_leaves(client, operator, org, clock, db):
    deposits.set_merchant_category(org.id, "beauty", actor=None, now=clock.now())
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 123_456, reason="", reference="a", actor=None, now=clock.now())
    client.login_as(operator)
    response = client.post_form(f"/admin/merchants/{org.id}/deposit/return",
                                {"return-mode": "leaving", "return-amount": "", "return-reason": "商户退出平台", "return-reference": "r1"})
    assert response.status_code == 303
    page = html(client.get(f"/admin/merchants/{org.id}"))
    assert page.select_one("#admin-deposit-balance")["data-fen"] == "0"
    assert page.select_one("#admin-deposit-owed")["data-fen"] == ""
    assert deposits.merchant_category(org.id) is None


@pytest.mark.parametrize(("changes", "field"), [
    ({"return-amount": "1000.01"}, "amount"),
    ({"return-amount": "abc"}, "amount"),
    ({"return-amount": ""}, "amount"),
    ({"return-reason": ""}, "reason"),
    ({"return-mode": "leaving", "return-amount": "999"}, "amount"),
])
def test_a_bad_return_is_a_422_next_to_its_field_and_changes_nothing(client, operator, org, clock, db, changes, field):
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 300_000, reason="", reference="a", actor=None, now=clock.now())
    client.login_as(operator)
    data = dict({"return-mode": "excess", "return-amount": "100", "return-reason": "多缴退还", "return-reference": "r2"}, **changes)
    response = client.post_form(f"/admin/merchants/{org.id}/deposit/return", data)
    assert response.status_code == 422
    assert html(response).select_one(f"#admin-deposit-return-form #field-return-{field} .form-error") is not None
    assert service.balance(org.id, AccountCode.DEPOSIT) == 300_000
    assert deposits.merchant_category(org.id) == "catering"
