"""Read-side helpers for the ledger pages: filtered, paginated, store-scoped selects."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, or_, select, tuple_

from portal import clock
from portal.ledger.models import LedgerAccount, LedgerOrder, LedgerPosting, LedgerTransaction
from portal.orders.models import Order

PAGE_SIZE = 50


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.SHANGHAI)


def journal(base: Select, *, kind: str = "", account: str = "", date_from: date | None = None, date_to: date | None = None, order_id: int | None = None) -> Select:
    """Postings (with their transaction and account), newest first. `base` is the tenancy-scoped
    select of LedgerPosting."""
    stmt = base.join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id).join(
        LedgerAccount, LedgerAccount.id == LedgerPosting.account_id
    ).add_columns(LedgerTransaction, LedgerAccount)
    if kind:
        stmt = stmt.where(LedgerTransaction.kind == kind)
    if account:
        stmt = stmt.where(LedgerAccount.code == account)
    if date_from:
        stmt = stmt.where(LedgerTransaction.posted_at >= _day_start(date_from))
    if date_to:
        stmt = stmt.where(LedgerTransaction.posted_at < _day_start(date_to + timedelta(days=1)))
    if order_id:
        # The order's own transactions, and the settlement batch that settled it.
        batch = select(LedgerOrder.settle_batch).where(LedgerOrder.order_id == order_id).scalar_subquery()
        stmt = stmt.where(or_(LedgerTransaction.order_id == order_id, LedgerTransaction.settle_batch == batch))
    # Postings are written in time order: the id orders the journal, newest first, by index.
    return stmt.order_by(LedgerPosting.id.desc())


def orders(base: Select, *, status: str = "", batch: str = "", before: int | None = None) -> Select:
    """Ledger orders, newest first; `batch` keeps those one settlement run settled; `before` (an
    order id) keeps those listed after that order's ledger order (keyset on paid_at, id: any page
    costs what the first does; an order `base` does not select gives nothing)."""
    stmt = base
    if before is not None:
        cursor = base.with_only_columns(LedgerOrder.paid_at, LedgerOrder.id).where(LedgerOrder.order_id == before).order_by(None).subquery()
        stmt = stmt.where(tuple_(LedgerOrder.paid_at, LedgerOrder.id)
                          < tuple_(select(cursor.c.paid_at).scalar_subquery(), select(cursor.c.id).scalar_subquery()))
    if status:
        stmt = stmt.where(LedgerOrder.status == status)
    if batch:
        stmt = stmt.where(LedgerOrder.settle_batch == batch)
    return stmt.order_by(LedgerOrder.paid_at.desc(), LedgerOrder.id.desc())


# What a row of the orders list shows: plain rows, not 50 ledger orders and orders as objects.
ORDER_ROW_COLUMNS = (
    LedgerOrder.order_id, LedgerOrder.status, LedgerOrder.source, LedgerOrder.paid_at, LedgerOrder.paid_fen,
    LedgerOrder.tech_fee_fen, LedgerOrder.fee_category, LedgerOrder.tech_fee_rate, LedgerOrder.promo_applied,
    LedgerOrder.channel_fee_fen, LedgerOrder.net_fen, LedgerOrder.due_at, LedgerOrder.settled_at,
    Order.douyin_order_id, Order.fulfilment,
)


def order_rows(stmt: Select) -> Select:
    """`orders(...)` as rows of ORDER_ROW_COLUMNS (the ledger order's and its order's)."""
    return stmt.with_only_columns(*ORDER_ROW_COLUMNS).join(Order, Order.id == LedgerOrder.order_id)


def scoped(stmt: Select, column, store_ids):
    return stmt if store_ids is None else stmt.where(column.in_(store_ids))
