"""提现收款账户: shapes, 主体一致 against the licence subject, and the gate in front of withdrawals."""

import pytest
from sqlalchemy import func, select

from portal import audit, vault
from portal.ledger import payout, service
from portal.ledger.models import PayoutAccount, Withdrawal
from portal.onboarding import licence
from tests.fixtures.payout import SUBJECT, bind_payout, record_subject


def bind(org, clock, **fields):
    values = dict(kind="bank", holder_name=SUBJECT, account_no="1100 1234 5678 9012", bank_name="招商银行", bank_branch="北京国贸支行")
    values.update(fields)
    return payout.bind_payout_account(org.id, actor=None, now=clock.now(), **values)


def test_subject_comparison_folds_full_width_brackets_and_spaces():
    assert licence.same_subject("北京示例（国贸）餐饮 有限公司", "北京示例(国贸)餐饮有限公司")
    assert licence.same_subject("ＡＢＣ　Foods Ltd", "abc foods ltd")
    assert not licence.same_subject("北京示例餐饮有限公司", "北京示例餐饮管理有限公司")
    assert not licence.same_subject("", "")


def test_a_matching_bank_account_is_bound_encrypted_and_masked(accounts, clock, db):
    org = accounts.org()
    record_subject(org, "北京示例（国贸）餐饮有限公司")
    account = bind(org, clock, holder_name="北京示例(国贸)餐饮 有限公司")
    assert account.account_masked == "•••• 9012"
    assert vault.decrypt(account.account_no_enc) == "1100123456789012"
    assert "1100123456789012" not in account.account_no_enc
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.code == "ledger.payout_account.bound"))
    assert entry.payload["account"] == "•••• 9012" and "1100123456789012" not in str(entry.payload)


def test_a_holder_other_than_the_licence_subject_is_refused_with_the_reason(accounts, clock, db):
    org = accounts.org()
    record_subject(org)
    with pytest.raises(payout.PayoutError) as refused:
        bind(org, clock, holder_name="北京另一家餐饮有限公司")
    assert refused.value.field == "holder_name"
    assert "北京另一家餐饮有限公司" in str(refused.value) and SUBJECT in str(refused.value) and "不一致" in str(refused.value)
    assert db.session.scalar(select(func.count()).select_from(PayoutAccount)) == 0


def test_without_a_licence_subject_nothing_can_be_bound(accounts, clock, db):
    org = accounts.org()
    with pytest.raises(payout.PayoutError) as refused:
        bind(org, clock)
    assert refused.value.field == "holder_name" and "营业执照主体" in str(refused.value)


@pytest.mark.parametrize(("number", "ok"), [
    ("1100 1234 5678 9012", True),
    ("11001234-56789013", True),  # fails the Luhn check: corporate accounts carry none
    ("1100123", False),  # 7 digits
    ("1" * 31, False),
    ("1100 1234 ABCD", False),
])
def test_bank_account_numbers_are_digits_of_a_plausible_length(accounts, clock, db, number, ok):
    org = accounts.org()
    record_subject(org)
    if ok:
        assert bind(org, clock, account_no=number).account_masked.startswith("•••• ")
    else:
        with pytest.raises(payout.PayoutError) as refused:
            bind(org, clock, account_no=number)
        assert refused.value.field == "account_no"


@pytest.mark.parametrize(("field", "value"), [("bank_name", ""), ("bank_branch", "  ")])
def test_a_bank_account_needs_its_bank_and_branch(accounts, clock, db, field, value):
    org = accounts.org()
    record_subject(org)
    with pytest.raises(payout.PayoutError) as refused:
        bind(org, clock, **{field: value})
    assert refused.value.field == field


@pytest.mark.parametrize(("login", "masked"), [("Finance@Example.com", "f***@example.com"), ("13800138000", "138****8000")])
def test_an_alipay_login_is_an_email_or_a_mobile(accounts, clock, db, login, masked):
    org = accounts.org()
    record_subject(org)
    account = bind(org, clock, kind="alipay", account_no=login, bank_name="ignored", bank_branch="ignored")
    assert account.account_masked == masked and account.bank_name == "" and account.bank_branch == ""


@pytest.mark.parametrize("login", ["finance@", "1380013800", "23800138000", "finance example.com"])
def test_an_alipay_login_of_another_shape_is_refused(accounts, clock, db, login):
    org = accounts.org()
    record_subject(org)
    with pytest.raises(payout.PayoutError) as refused:
        bind(org, clock, kind="alipay", account_no=login)
    assert refused.value.field == "account_no"


def test_an_individual_business_may_use_the_operators_own_alipay_but_not_their_bank_account(accounts, clock, db):
    org = accounts.org()
    record_subject(org, "朝阳区示例小吃店", kind="individual", operator="王 小明")
    assert bind(org, clock, kind="alipay", holder_name="王小明", account_no="13800138000").holder_name == "王小明"
    with pytest.raises(payout.PayoutError):
        bind(org, clock, kind="bank", holder_name="王小明")
    with pytest.raises(payout.PayoutError) as refused:
        bind(org, clock, kind="alipay", holder_name="李四", account_no="13800138000")
    assert "经营者" in str(refused.value)


def test_rebinding_replaces_the_account(accounts, clock, db):
    org = accounts.org()
    record_subject(org)
    bind(org, clock)
    bind(org, clock, kind="alipay", account_no="13800138000")
    assert [a.account_masked for a in db.session.scalars(select(PayoutAccount))] == ["138****8000"]


def test_a_withdrawal_needs_a_bound_account_that_still_matches(accounts, orders, clock, db):
    org = accounts.org()
    order = orders.order(org, paid_fen=10000)
    orders.redeem_all(order)
    clock.advance(days=4)
    service.settle_batch(now=clock.now())
    with pytest.raises(payout.PayoutError) as refused:
        payout.start_withdrawal(org.id, 5000, actor=None, now=clock.now())
    assert refused.value.field == "amount" and "还没有绑定" in str(refused.value)
    bind_payout(org)
    record_subject(org, "北京改名后的餐饮有限公司")
    with pytest.raises(payout.PayoutError) as refused:
        payout.start_withdrawal(org.id, 5000, actor=None, now=clock.now())
    assert "不再一致" in str(refused.value)
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0
    record_subject(org)
    assert payout.start_withdrawal(org.id, 5000, actor=None, now=clock.now()).amount_fen == 5000
    assert service.check_books(org.id) == []
