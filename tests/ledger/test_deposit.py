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


# --- returns (退还保证金) ---------------------------------------------------------------------


def test_a_return_is_limited_to_what_is_held_beyond_the_requirement(accounts, operator, clock, db):
    org = accounts.org()
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    pay_in(org, clock, 250_000, "a")
    assert deposits.status(org.id).returnable_fen == 50_000
    with pytest.raises(deposits.DepositError) as refused:
        deposits.return_deposit(org.id, leaving=False, amount_fen=50_001, reason="多缴退还", reference="r1", actor=operator, now=clock.now())
    assert refused.value.field == "amount" and "¥500.00" in str(refused.value)
    assert service.balance(org.id, AccountCode.DEPOSIT) == 250_000
    txn = deposits.return_deposit(org.id, leaving=False, amount_fen=50_000, reason="多缴退还", reference="r2", actor=operator, now=clock.now())
    again = deposits.return_deposit(org.id, leaving=False, amount_fen=50_000, reason="多缴退还", reference="r2", actor=operator, now=clock.now())
    assert txn.kind == TxnKind.DEPOSIT_RETURN and txn.memo == "多缴退还" and txn.actor_id == operator.id and again is None
    assert deposits.returned_by(txn) == 50_000
    status = deposits.status(org.id)
    assert (status.returned_fen, status.balance_fen, status.owed_fen, status.returnable_fen) == (50_000, 200_000, 0, 0)
    assert service.balance(org.id, AccountCode.CLEARING) == -200_000
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.code == "ledger.deposit.returned"))
    assert entry.actor_id == operator.id and entry.payload["amount_fen"] == 50_000 and entry.payload["leaving"] is False
    assert db.session.scalar(select(Notification.body).where(Notification.organization_id == org.id)) == "多缴退还"
    assert service.check_books(org.id) == []


def test_a_merchant_leaving_gets_the_whole_balance_back_and_owes_nothing(accounts, operator, clock, db):
    org = accounts.org()
    deposits.set_merchant_category(org.id, "beauty", actor=None, now=clock.now())
    pay_in(org, clock, 300_000, "a")
    with pytest.raises(deposits.DepositError) as refused:
        deposits.return_deposit(org.id, leaving=True, amount_fen=200_000, reason="退出平台", reference="r1", actor=operator, now=clock.now())
    assert refused.value.field == "amount" and deposits.merchant_category(org.id) == "beauty"
    txn = deposits.return_deposit(org.id, leaving=True, amount_fen=None, reason="退出平台", reference="r2", actor=operator, now=clock.now())
    assert deposits.returned_by(txn) == 300_000
    status = deposits.status(org.id)
    assert (status.balance_fen, status.returned_fen, status.category, status.owed_fen) == (0, 300_000, None, None)
    with pytest.raises(deposits.DepositError):
        deposits.return_deposit(org.id, leaving=True, amount_fen=None, reason="退出平台", reference="r3", actor=operator, now=clock.now())
    assert service.check_books(org.id) == []


@pytest.mark.parametrize(("fields", "field"), [
    (dict(reason=" "), "reason"),
    (dict(amount_fen=0), "amount"),
    (dict(amount_fen=None), "amount"),
    (dict(amount_fen=100_001), "amount"),
])
def test_a_bad_return_is_refused_on_its_field_and_changes_nothing(accounts, clock, db, fields, field):
    org = accounts.org()
    deposits.set_merchant_category(org.id, "catering", actor=None, now=clock.now())
    pay_in(org, clock, 300_000, "a")
    values = dict(leaving=False, amount_fen=100, reason="多缴退还", reference="x")
    values.update(fields)
    with pytest.raises(deposits.DepositError) as refused:
        deposits.return_deposit(org.id, actor=None, now=clock.now(), **values)
    assert refused.value.field == field
    assert service.balance(org.id, AccountCode.DEPOSIT) == 300_000
    assert db.session.scalar(select(func.count()).where(LedgerTransaction.kind == TxnKind.DEPOSIT_RETURN)) == 0


def test_without_a_category_only_a_whole_return_is_possible(accounts, clock, db):
    org = accounts.org()
    pay_in(org, clock, 10_000, "a")
    assert deposits.status(org.id).returnable_fen is None
    with pytest.raises(deposits.DepositError) as refused:
        deposits.return_deposit(org.id, leaving=False, amount_fen=1, reason="多缴退还", reference="x", actor=None, now=clock.now())
    assert refused.value.field == "amount"
    deposits.return_deposit(org.id, leaving=True, amount_fen=10_000, reason="退出平台", reference="y", actor=None, now=clock.now())
    assert service.balance(org.id, AccountCode.DEPOSIT) == 0


@pytest.fixture
def committed_deposit(app):
    """A merchant holding ¥3,000 against ¥2,000 required, committed so other connections see it."""
    from sqlalchemy import delete

    from portal import clock as portal_clock
    from portal.accounts import service as accounts_service
    from portal.extensions import db as _db

    with app.app_context():
        org = accounts_service.create_organization("保证金并发商户")
        deposits.set_merchant_category(org.id, "catering", actor=None, now=portal_clock.now())
        service.record_deposit(org.id, TxnKind.DEPOSIT_PAY_IN, 300_000, reason="", reference="a", actor=None, now=portal_clock.now())
        _db.session.commit()
        org_id = org.id
    yield org_id
    with app.app_context(), _db.engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            if "organization_id" in table.c:
                conn.execute(delete(table).where(table.c.organization_id == org_id))
        conn.execute(delete(_db.metadata.tables["organizations"]).where(_db.metadata.tables["organizations"].c.id == org_id))


@pytest.mark.postgres_only
def test_two_concurrent_returns_on_postgresql_cannot_return_more_than_the_excess(app, committed_deposit):
    import threading

    from portal import clock as portal_clock
    from portal.extensions import db as _db

    barrier, results = threading.Barrier(2), []

    def attempt(reference):
        with app.app_context():
            try:
                barrier.wait()
                deposits.return_deposit(committed_deposit, leaving=False, amount_fen=60_000, reason="多缴退还", reference=reference,
                                        actor=None, now=portal_clock.now())
                _db.session.commit()
                results.append("ok")
            except deposits.DepositError:
                _db.session.rollback()
                results.append("refused")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=attempt, args=(reference,)) for reference in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["ok", "refused"]
    with app.app_context():
        assert service.balance(committed_deposit, AccountCode.DEPOSIT) == 240_000
        assert service.check_books(committed_deposit) == []
        _db.session.remove()
