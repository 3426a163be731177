"""The 收款账户 page, the withdrawal gate on the withdrawals page, the deposit page's owed and
deductions, and the fee schedule on the settings page."""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import clock as portal_clock
from portal.accounts.models import Role
from portal.ledger import deposits, service
from portal.ledger.models import LedgerOrder, PayoutAccount, TxnKind, Withdrawal
from tests.fixtures.payout import SUBJECT, bind_payout, record_subject

BANK = {"kind": "bank", "holder_name": SUBJECT, "account_no": "1100 1234 5678 9012", "bank_name": "招商银行", "bank_branch": "北京国贸支行"}


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_payout_page_is_for_merchant_admins_only(client, accounts, org):
    assert client.get("/ledger/payout-account").status_code == 302
    client.login_as(accounts.user(Role.STORE_MANAGER, org, org.stores[0]))
    assert client.get("/ledger/payout-account").status_code == 403
    assert client.post_form("/ledger/payout-account", BANK).status_code == 403


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"holder_name": "北京另一家餐饮有限公司"}, "holder_name", "与营业执照主体「北京示例餐饮管理有限公司」不一致"),
    ({"account_no": "1100-ABCD"}, "account_no", "只能是数字"),
    ({"bank_branch": ""}, "bank_branch", "开户支行"),
    ({"kind": "alipay", "account_no": "12345"}, "account_no", "邮箱或 11 位手机号"),
    ({"kind": "wechat"}, "kind", ""),
])
def test_bad_payout_input_is_a_422_next_to_its_field_and_changes_nothing(client, owner, org, db, changes, field, words):
    bound = bind_payout(org)
    before = (bound.kind, bound.account_masked, bound.bound_at)
    response = client.login_as(owner).post_form("/ledger/payout-account", dict(BANK, **changes))
    assert response.status_code == 422
    error = html(response).select_one(f"#field-{field} .form-error")
    assert error is not None and words in error.get_text()
    db.session.expire_all()
    account = db.session.scalars(select(PayoutAccount)).one()
    assert (account.kind, account.account_masked, account.bound_at) == before


def test_a_matching_account_is_bound_and_shown_masked_on_the_withdrawal_page(client, owner, org, db):
    record_subject(org, "北京示例餐饮管理有限公司")
    client.login_as(owner)
    page = html(client.get("/ledger/withdrawals"))
    assert "还没有绑定" in page.select_one("#ledger-withdraw-blocked").get_text()
    assert page.select_one("#ledger-withdraw-submit").has_attr("disabled")
    response = client.post_form("/ledger/payout-account", dict(BANK, holder_name="北京示例餐饮管理 有限公司"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/ledger/payout-account")
    page = html(client.get("/ledger/withdrawals"))
    assert page.select_one("#ledger-withdraw-blocked") is None
    shown = page.select_one("#ledger-withdraw-account").get_text()
    assert "•••• 9012" in shown and "1100123456789012" not in page.get_text()


def test_a_withdrawal_without_a_bound_account_is_refused_next_to_the_amount(client, owner, org, orders, clock, db):
    order = orders.order(org, paid_fen=10000)
    orders.redeem_all(order)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    response = client.login_as(owner).post_form("/ledger/withdrawals", {"amount": "50.00"})
    assert response.status_code == 422
    assert "还没有绑定提现收款账户" in html(response).select_one("#amount-error").get_text()
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0
    assert service.available_fen(org.id) == db.session.scalar(select(LedgerOrder.net_fen))


def test_deposit_page_shows_required_owed_and_the_deduction_with_its_order(client, owner, org, orders, operator, clock, db):
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 200_000, reason="", reference="a", actor=None, now=clock.now())
    order = orders.order(org)
    txn = deposits.deduct_for_compensation(org.id, order_no=order.douyin_order_id, amount_fen=30_000, reason="过期未核销，赔付顾客",
                                           reference="b", actor=operator, now=clock.now())
    page = html(client.login_as(owner).get("/ledger/deposit"))
    assert page.select_one("#ledger-deposit-required")["data-fen"] == "200000"
    assert page.select_one("#ledger-deposit-owed")["data-fen"] == "30000"
    assert page.select_one("#ledger-balance-deposit")["data-fen"] == "170000"
    row = page.select_one(f"#ledger-deposit-{txn.id}")
    link = row.select_one("a.ledger-deposit-order")
    assert link["href"] == f"/orders/{order.id}" and link.get_text() == order.douyin_order_id
    assert "过期未核销，赔付顾客" in row.get_text()


def test_settings_show_both_fee_schedules_and_refuse_the_groupbuy_model_with_d_plus_3(client, owner, org, db):
    client.login_as(owner)
    page = html(client.get("/ledger/settings"))
    assert [td["data-rate"] for td in page.select("#ledger-fee-schedule-groupbuy [data-rate]")] == ["0", "0.006"]
    assert "0.006" in [td["data-rate"] for td in page.select("#ledger-fee-schedule-platform [data-rate]")]
    response = client.post_form("/ledger/settings", {"settlement_basis": "redeem", "settlement_days": "3", "refund_window_days": "7", "fee_model": "groupbuy"})
    assert response.status_code == 422
    assert "T+1" in html(response).select_one("#settlement_days-error").get_text()
    assert service.get_settings(org.id).fee_model == "platform"
    response = client.post_form("/ledger/settings", {"settlement_basis": "redeem", "settlement_days": "1", "refund_window_days": "7", "fee_model": "groupbuy"})
    assert response.status_code == 303
    assert service.get_settings(org.id).fee_model == "groupbuy"


def test_under_the_groupbuy_model_an_order_pays_only_the_channel_fee(client, owner, org, orders, clock, db):
    service.update_settings(org.id, settlement_basis="redeem", settlement_days=1, refund_window_days=7, refund_auto_audit=True,
                            fee_model="groupbuy", actor=None, now=clock.now())
    order = orders.order(org, paid_fen=9900)
    lo = db.session.scalar(select(LedgerOrder).where(LedgerOrder.order_id == order.id))
    assert (lo.tech_fee_fen, lo.channel_fee_fen, lo.net_fen) == (0, 59, 9841)
    orders.redeem_all(order)
    clock.advance(days=1)
    assert service.settle_batch(now=portal_clock.now()) == 1
    assert service.available_fen(org.id) == 9841 and service.check_books(org.id) == []
