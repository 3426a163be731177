"""Random sequences of pay, redeem, undo, refund (Douyin's request, the merchant's decision,
Douyin's result), settle, withdraw and its result, deposit movements and clock moves, driven
through the ledger's services and the signals the orders and redemption domains send. After every
step: no account but Douyin's clearing below zero, every transaction and the whole journal
balanced, cached balances equal to their postings, and money neither made nor lost.

Bounded and deterministic in CI: the `ci` hypothesis profile (tests/conftest.py) derandomizes."""

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from portal import clock as portal_clock
from portal.ledger import refunds, service
from portal.ledger.models import (
    AccountCode,
    LedgerAccount,
    LedgerOrder,
    LedgerPosting,
    LedgerTransaction,
    RefundRequest,
    RefundStatus,
    TxnKind,
    Withdrawal,
)

DEPOSIT_IN = (TxnKind.DEPOSIT_PAY_IN, TxnKind.DEPOSIT_TOP_UP)
DEPOSIT_OUT = (TxnKind.DEPOSIT_DEDUCTION, TxnKind.DEPOSIT_RETURN)


def test_books_balance_under_any_sequence_of_events(accounts, orders, clock, db):
    class Books(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.org = accounts.org(stores=2)
            self.orders = []
            self.refund_requests = []
            self.withdrawals = []
            self.paid_total = 0
            self.deposit_total = 0
            self.n = 0

        def now(self):
            return portal_clock.now()

        def next_ref(self) -> str:
            self.n += 1
            return str(self.n)

        @rule(amount=st.integers(1, 500_000), vouchers=st.integers(1, 3), store=st.integers(0, 1), source=st.sampled_from(["normal", "ad", "alliance"]))
        def pay(self, amount, vouchers, store, source):
            self.orders.append(orders.order(self.org, paid_fen=amount, vouchers=vouchers, store=self.org.stores[store], source=source))
            self.paid_total += amount

        @precondition(lambda self: self.orders)
        @rule(data=st.data())
        def redeem(self, data):
            order = data.draw(st.sampled_from(self.orders))
            unused = [v for v in order.vouchers if v.status == "unused"]
            if unused and order.status != "refunded":
                orders.redeem(unused[0])

        @precondition(lambda self: self.orders)
        @rule(data=st.data())
        def undo(self, data):
            order = data.draw(st.sampled_from(self.orders))
            lo = service.find_ledger_order(order.id)
            redeemed = [v for v in order.vouchers if v.status == "redeemed"]
            if redeemed and lo.status == "in_transit":
                orders.undo(redeemed[0])

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), need_audit=st.booleans(), auto_audit=st.booleans())
        def request_refund(self, data, need_audit, auto_audit):
            """Douyin's pre_create_refund for a whole order; the policy decides or leaves it to the merchant."""
            order = data.draw(st.sampled_from(self.orders))
            service.get_settings(self.org.id).refund_auto_audit = auto_audit
            refund = refunds.receive_request(self.org.id, {
                "refund_id": f"rq{self.next_ref()}x{order.id}", "order_id": order.douyin_order_id,
                "refund_total_amount": order.paid_fen, "need_refund_audit": int(need_audit)}, now=self.now())
            self.refund_requests.append(refund)

        @precondition(lambda self: any(r.status == RefundStatus.PENDING for r in self.refund_requests))
        @rule(data=st.data(), approve=st.booleans())
        def decide_refund(self, data, approve):
            refund = data.draw(st.sampled_from([r for r in self.refund_requests if r.status == RefundStatus.PENDING]))
            try:
                refunds.decide(refund, approve=approve, reason="" if approve else "已消费", actor=None, now=self.now())
            except refunds.RefundError:
                assert self.now() >= refund.audit_deadline_at  # only when Douyin approved it by itself

        @precondition(lambda self: self.refund_requests)
        @rule(data=st.data(), success=st.booleans())
        def refund_result(self, data, success):
            """Douyin's refund callback: money goes back only for what was approved (or left past the deadline)."""
            refund = data.draw(st.sampled_from(self.refund_requests))
            order = next(o for o in self.orders if o.id == refund.order_id)
            past_deadline = refund.status == RefundStatus.PENDING and self.now() >= refund.audit_deadline_at
            success = success and (refund.status == RefundStatus.APPROVED or past_deadline)
            lo = service.find_ledger_order(order.id)
            try:
                with db.session.begin_nested():
                    refunds.receive_result(self.org.id, {"refund_id": refund.douyin_refund_id, "order_id": order.douyin_order_id,
                                                         "status": "SUCCESS" if success else "FAIL"}, now=self.now())
            except refunds.RefundError:
                assert success and lo.withdrawn_fen > 0  # withdrawn money is refunded by hand, never below zero
                event("refund of withdrawn money refused")
            else:
                event(f"refund result: {lo.status}")

        @precondition(lambda self: self.orders)
        @rule(data=st.data())
        def refund_without_audit(self, data):
            """A refund Douyin made with no request to the merchant (need_refund_audit 0, paid back at once)."""
            order = data.draw(st.sampled_from(self.orders))
            lo = service.find_ledger_order(order.id)
            try:
                with db.session.begin_nested():
                    refunds.receive_result(self.org.id, {"refund_id": f"rd{self.next_ref()}x{order.id}", "order_id": order.douyin_order_id,
                                                         "refund_total_amount": order.paid_fen, "status": "SUCCESS"}, now=self.now())
            except refunds.RefundError:
                assert lo.withdrawn_fen > 0
                event("refund of withdrawn money refused")
            else:
                event(f"refund without audit: {lo.status}")

        @rule()
        def settle(self):
            service.settle_batch(now=self.now(), organization_id=self.org.id, limit=3)

        @rule(days=st.integers(0, 4), hours=st.integers(0, 23))
        def move_clock(self, days, hours):
            clock.advance(days=days, hours=hours)

        @rule(share=st.integers(1, 100))
        def withdraw(self, share):
            available = service.balances(self.org.id)["available"]
            amount = available * share // 100
            if amount > 0:
                self.withdrawals.append(service.request_withdrawal(self.org.id, amount, actor=None, now=self.now()))
            else:
                try:
                    service.request_withdrawal(self.org.id, available + 1, actor=None, now=self.now())
                    raise AssertionError("overdrew")
                except service.LedgerError:
                    pass

        @precondition(lambda self: self.withdrawals)
        @rule(data=st.data(), success=st.booleans())
        def finish_withdrawal(self, data, success):
            withdrawal = data.draw(st.sampled_from(self.withdrawals))
            service.finish_withdrawal(withdrawal, success=success, reason="" if success else "银行退票", now=self.now())

        @rule(kind=st.sampled_from(DEPOSIT_IN + DEPOSIT_OUT), amount=st.integers(1, 300_000), twice=st.booleans())
        def deposit(self, kind, amount, twice):
            held = service.balance(self.org.id, AccountCode.DEPOSIT)
            reference = self.next_ref()
            try:
                for _ in range(2 if twice else 1):  # a double submit posts once
                    service.record_deposit(self.org.id, kind, amount, reason="违规扣除", reference=reference, actor=None, now=self.now())
            except service.InsufficientFunds:
                assert kind in DEPOSIT_OUT and amount > held
                event("deposit: more than held refused")
                return
            assert kind in DEPOSIT_IN or amount <= held
            self.deposit_total += amount if kind in DEPOSIT_IN else -amount

        @invariant()
        def books_balance(self):
            assert service.check_books(self.org.id) == []
            negative = db.session.scalars(select(LedgerAccount).where(
                LedgerAccount.organization_id == self.org.id, LedgerAccount.code != AccountCode.CLEARING, LedgerAccount.balance_fen < 0)).all()
            assert negative == []
            unbalanced = db.session.scalars(
                select(LedgerPosting.transaction_id).where(LedgerPosting.organization_id == self.org.id)
                .group_by(LedgerPosting.transaction_id).having(func.sum(LedgerPosting.amount_fen) != 0)).all()
            assert unbalanced == []
            posted = db.session.scalar(select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0)).where(LedgerPosting.organization_id == self.org.id))
            assert posted == 0
            # Money in (paid by customers, deposits paid in) = what the accounts hold outside Douyin's clearing.
            balances = service.balances(self.org.id)
            held = sum(amount for code, amount in balances.items() if code != AccountCode.CLEARING)
            assert held == -balances[AccountCode.CLEARING] == self.paid_total + self.deposit_total
            assert balances[AccountCode.DEPOSIT] == self.deposit_total

        @invariant()
        def available_is_the_unwithdrawn_part_of_settled_orders(self):
            rows = db.session.scalars(select(LedgerOrder).where(LedgerOrder.organization_id == self.org.id)).all()
            for store in self.org.stores:
                expected = sum(lo.net_fen - lo.withdrawn_fen for lo in rows if lo.status == "settled" and lo.store_id == store.id)
                assert service.balance(self.org.id, "available", store.id) == expected
            in_flight = db.session.scalar(select(func.coalesce(func.sum(Withdrawal.amount_fen), 0)).where(Withdrawal.organization_id == self.org.id, Withdrawal.status == "processing"))
            assert service.balances(self.org.id)["withdrawing"] == in_flight

        @invariant()
        def an_order_is_refunded_at_most_once(self):
            twice = db.session.execute(
                select(RefundRequest.order_id).where(RefundRequest.organization_id == self.org.id, RefundRequest.status == RefundStatus.REFUNDED)
                .group_by(RefundRequest.order_id).having(func.count() > 1)).all()
            assert twice == []
            refunded = set(db.session.scalars(select(LedgerTransaction.order_id).where(
                LedgerTransaction.organization_id == self.org.id, LedgerTransaction.kind == TxnKind.REFUND)))
            assert refunded == {o.id for o in self.orders if o.status == "refunded"}

    run_state_machine_as_test(Books, settings=settings(max_examples=25, stateful_step_count=30))
