"""保证金 movements: a double submit posts once, deductions never exceed the deposit; the deposit
required by category, what is owed, and deductions for compensation (赔付)."""

import pytest
from sqlalchemy import func, select

from portal import audit
from portal.ledger import deposits, service
from portal.ledger.models import AccountCode, LedgerTransaction, TxnKind
from portal.notifications import Notification


def test_a_double_submitted_deduction_posts_once_and_is_not_refused(accounts, clock, db):
    org = accounts.org()
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 100_000, reason="", reference="a", actor=None, now=clock.now())
    first = service.record_deposit(org.id, TxnKind.DEPOSIT_DEDUCTION, 60_000, reason="违规", reference="b", actor=None, now=clock.now())
    again = service.record_deposit(org.id, TxnKind.DEPOSIT_DEDUCTION, 60_000, reason="违规", reference="b", actor=None, now=clock.now())
    assert first is not None and again is None
    assert service.balance(org.id, AccountCode.DEPOSIT) == 40_000


def test_a_deduction_beyond_the_deposit_is_refused(accounts, clock, db):
    org = accounts.org()
    service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 100, reason="", reference="a", actor=None, now=clock.now())
    with pytest.raises(service.InsufficientFunds):
        service.record_deposit(org.id, TxnKind.DEPOSIT_DEDUCTION, 101, reason="违规", reference="b", actor=None, now=clock.now())
    assert service.balance(org.id, AccountCode.DEPOSIT) == 100


# --- by category: required, owed, deductions for compensation ------------------------------


def pay_in(org, clock, amount, reference, kind=TxnKind.DEPOSIT_PAY_IN):
    return service.record_deposit(org.id, kind, amount, reason="", reference=reference, actor=None, now=clock.now())


def test_the_deposit_required_follows_the_category_and_owed_is_what_is_missing(accounts, clock, db):
    org = accounts.org()
    assert deposits.status(org.id).required_fen is None and deposits.status(org.id).owed_fen is None
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    assert deposits.status(org.id).required_fen == deposits.DEFAULT_FEN["catering"] == 200_000
    pay_in(org, clock, 150_000, "a")
    assert deposits.status(org.id).owed_fen == 50_000
    pay_in(org, clock, 50_001, "b", kind=TxnKind.DEPOSIT_TOP_UP)
    status = deposits.status(org.id)
    assert (status.paid_fen, status.balance_fen, status.owed_fen) == (200_001, 200_001, 0)
    deposits.set_merchant_category(org.id, "education", actor=None, now=clock.now())
    assert deposits.status(org.id).owed_fen == 2_000_000 - 200_001


def test_the_operator_replaces_a_categorys_default_for_every_merchant_of_it(accounts, clock, db):
    first, second = accounts.org(), accounts.org()
    for org in (first, second):
        deposits.set_merchant_category(org.id, "beauty", actor=None, now=clock.now())
    deposits.set_requirement("beauty", 123_456, actor=None, now=clock.now())
    assert deposits.status(first.id).required_fen == deposits.status(second.id).required_fen == 123_456
    row = next(r for r in deposits.requirements() if r.code == "beauty")
    assert row.overridden and row.default_fen == 500_000
    with pytest.raises(deposits.DepositError):
        deposits.set_requirement("beauty", -1, actor=None, now=clock.now())
    with pytest.raises(deposits.DepositError):
        deposits.set_merchant_category(first.id, "casino", actor=None, now=clock.now())
    assert db.session.scalar(select(func.count()).where(audit.AuditEntry.code == "ledger.deposit_requirement.updated")) == 1


def test_a_compensation_deduction_names_the_order_and_reason_and_raises_what_is_owed(accounts, orders, operator, clock, db):
    org = accounts.org()
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    pay_in(org, clock, 200_000, "a")
    order = orders.order(org, paid_fen=9900)
    txn = deposits.deduct_for_compensation(org.id, order_no=order.douyin_order_id, amount_fen=12_345, reason="菜品与描述不符，赔付顾客",
                                           reference="n1", actor=operator, now=clock.now())
    assert txn.order_id == order.id and txn.memo == "菜品与描述不符，赔付顾客" and txn.actor_id == operator.id
    again = deposits.deduct_for_compensation(org.id, order_no=order.out_order_no, amount_fen=12_345, reason="菜品与描述不符，赔付顾客",
                                             reference="n1", actor=operator, now=clock.now())
    assert again is None
    status = deposits.status(org.id)
    assert (status.deducted_fen, status.balance_fen, status.owed_fen) == (12_345, 187_655, 12_345)
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.code == "ledger.deposit.deducted"))
    assert entry.actor_id == operator.id and entry.payload["order_no"] == order.douyin_order_id
    assert db.session.scalar(select(Notification.body).where(Notification.organization_id == org.id)) == "菜品与描述不符，赔付顾客"
    assert service.check_books(org.id) == []


@pytest.mark.parametrize(("fields", "field"), [
    (dict(order_no="nope"), "order_no"),
    (dict(reason="  "), "reason"),
    (dict(amount_fen=0), "amount"),
    (dict(amount_fen=100_001), "amount"),
])
def test_a_bad_deduction_is_refused_on_its_field_and_changes_nothing(accounts, orders, clock, db, fields, field):
    org, other = accounts.org(), accounts.org()
    pay_in(org, clock, 100_000, "a")
    order = orders.order(org)
    values = dict(order_no=order.douyin_order_id, amount_fen=100, reason="赔付", reference="x")
    values.update(fields)
    with pytest.raises(deposits.DepositError) as refused:
        deposits.deduct_for_compensation(org.id, actor=None, now=clock.now(), **values)
    assert refused.value.field == field
    # Another merchant's order is not this merchant's.
    with pytest.raises(deposits.DepositError):
        deposits.deduct_for_compensation(other.id, order_no=order.douyin_order_id, amount_fen=1, reason="赔付", reference="y", actor=None, now=clock.now())
    assert service.balance(org.id, AccountCode.DEPOSIT) == 100_000
    assert db.session.scalar(select(func.count()).where(LedgerTransaction.kind == TxnKind.DEPOSIT_DEDUCTION)) == 0
