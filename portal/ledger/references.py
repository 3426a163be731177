"""The journal's 关联 column: what a transaction belongs to, as a person recognises it.

A transaction's `reference` (`order:7`, `settlement:<token>:0`, `withdrawal:3`) is the key that
makes posting idempotent; it means nothing to a merchant. The journal and its exported statement
show instead the order's number (portal.orders.refs), the withdrawal with its amount and day, or
the settlement batch with its day, each linked to the page that explains it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import select

from portal import clock, money
from portal.extensions import db
from portal.i18n import gettext as _
from portal.ledger.models import LedgerTransaction, TxnKind, Withdrawal
from portal.orders.models import Order

DEPOSIT_KINDS = frozenset({TxnKind.DEPOSIT_PAY_IN, TxnKind.DEPOSIT_TOP_UP, TxnKind.DEPOSIT_DEDUCTION, TxnKind.DEPOSIT_RETURN})


@dataclass(frozen=True)
class Reference:
    text: str
    href: str | None = None
    what: str = ""  # order, withdrawal, settlement, deposit: the link's data-ref in the page
    # The transaction's memo only repeats what the reference says (older payments carry the
    # mini-program's internal order number there, withdrawals their internal number): the
    # journal shows no note then.
    hides_memo: bool = False


def describe(transactions: Iterable[LedgerTransaction], *, links: bool = True) -> dict[int, Reference]:
    """Each transaction's Reference by its id: two queries for a page of any length."""
    transactions = list(transactions)
    order_ids = {t.order_id for t in transactions if t.order_id}
    withdrawal_ids = {t.withdrawal_id for t in transactions if t.withdrawal_id}
    orders = {row.id: row for row in db.session.execute(
        select(Order.id, Order.douyin_order_id, Order.out_order_no).where(Order.id.in_(order_ids)))} if order_ids else {}
    withdrawals = {row.id: row for row in db.session.execute(
        select(Withdrawal.id, Withdrawal.amount_fen, Withdrawal.requested_at, Withdrawal.out_withdraw_no).where(Withdrawal.id.in_(withdrawal_ids)))} if withdrawal_ids else {}
    out = {}
    for txn in transactions:
        out[txn.id] = _reference(txn, orders, withdrawals, links)
    return out


def _reference(txn, orders, withdrawals, links) -> Reference:
    if txn.order_id and txn.order_id in orders:
        order = orders[txn.order_id]
        return Reference(order.douyin_order_id, url_for("orders.show", order_id=order.id) if links else None, "order",
                         hides_memo=txn.memo in (order.out_order_no, order.douyin_order_id))
    if txn.withdrawal_id and txn.withdrawal_id in withdrawals:
        w = withdrawals[txn.withdrawal_id]
        text = _("提现 %(amount)s（%(day)s 申请）", amount=money.format_fen(w.amount_fen), day=clock.local_text(w.requested_at, "%Y-%m-%d"))
        return Reference(text, url_for("ledger.withdrawal", withdrawal_id=w.id) if links else None, "withdrawal",
                         hides_memo=txn.memo == w.out_withdraw_no)
    if txn.settle_batch:
        text = _("%(day)s 结算批次", day=clock.local_text(txn.posted_at, "%Y-%m-%d"))
        return Reference(text, url_for("ledger.orders", batch=txn.settle_batch) if links else None, "settlement")
    if txn.kind in DEPOSIT_KINDS:
        return Reference(_("保证金"), url_for("ledger.deposit") if links else None, "deposit")
    return Reference("—")
