"""保证金 movements: a double submit posts once, deductions never exceed the deposit."""

import pytest

from portal.ledger import service
from portal.ledger.models import AccountCode, TxnKind


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
