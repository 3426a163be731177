"""Random sequences of pay, redeem, undo, refund, settle, withdraw, withdrawal result and clock
moves; after every step the books must balance."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from portal import clock as portal_clock
from portal.ledger import refunds, service
from portal.ledger.models import LedgerOrder, LedgerPosting, Withdrawal


def test_books_balance_under_any_sequence_of_events(accounts, orders, clock, db):
    class Books(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.org = accounts.org(stores=2)
            self.orders = []
            self.withdrawals = []
            self.paid_total = 0

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
        @rule(data=st.data())
        def refund(self, data):
            order = data.draw(st.sampled_from(self.orders))
            lo = service.find_ledger_order(order.id)
            if order.status != "refunded" and not any(v.status == "redeemed" for v in order.vouchers) and lo.withdrawn_fen == 0:
                refunds.receive_result(self.org.id, {"refund_id": f"rf{order.id}", "order_id": order.douyin_order_id, "status": "SUCCESS"}, now=portal_clock.now())

        @rule()
        def settle(self):
            service.settle_batch(now=portal_clock.now(), organization_id=self.org.id, limit=3)

        @rule(days=st.integers(0, 4), hours=st.integers(0, 23))
        def move_clock(self, days, hours):
            clock.advance(days=days, hours=hours)

        @rule(share=st.integers(1, 100))
        def withdraw(self, share):
            available = service.balances(self.org.id)["available"]
            amount = available * share // 100
            if amount > 0:
                self.withdrawals.append(service.request_withdrawal(self.org.id, amount, actor=None, now=portal_clock.now()))
            else:
                try:
                    service.request_withdrawal(self.org.id, available + 1, actor=None, now=portal_clock.now())
                    raise AssertionError("overdrew")
                except service.LedgerError:
                    pass

        @precondition(lambda self: self.withdrawals)
        @rule(data=st.data(), success=st.booleans())
        def finish_withdrawal(self, data, success):
            withdrawal = data.draw(st.sampled_from(self.withdrawals))
            service.finish_withdrawal(withdrawal, success=success, reason="" if success else "银行退票", now=portal_clock.now())

        @invariant()
        def books_balance(self):
            assert service.check_books(self.org.id) == []
            balances = service.balances(self.org.id)
            assert all(amount >= 0 for code, amount in balances.items() if code != "douyin_clearing")
            # money in = money out + what is still held
            assert self.paid_total == sum(amount for code, amount in balances.items() if code != "douyin_clearing")
            assert -balances["douyin_clearing"] == self.paid_total
            posted = db.session.scalar(select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0)).where(LedgerPosting.organization_id == self.org.id))
            assert posted == 0

        @invariant()
        def available_is_the_unwithdrawn_part_of_settled_orders(self):
            rows = db.session.scalars(select(LedgerOrder).where(LedgerOrder.organization_id == self.org.id)).all()
            for store in self.org.stores:
                expected = sum(lo.net_fen - lo.withdrawn_fen for lo in rows if lo.status == "settled" and lo.store_id == store.id)
                assert service.balance(self.org.id, "available", store.id) == expected
            in_flight = db.session.scalar(select(func.coalesce(func.sum(Withdrawal.amount_fen), 0)).where(Withdrawal.organization_id == self.org.id, Withdrawal.status == "processing"))
            assert service.balances(self.org.id)["withdrawing"] == in_flight

    run_state_machine_as_test(Books, settings=settings(max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)))
