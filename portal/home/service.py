"""What the home page (概览) answers: today's money and what needs the merchant now.

Read-only. Today's 实收 / 订单 / 核销 come from the data overview's daily figures (so the two
pages agree); 在途 and 可提现 are the ledger's balances, and their change is what was posted to
them today. The to-do list names only what the reader can act on: `admin` is an owner or HQ
admin, otherwise a store manager who sees `store_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select

from portal import clock
from portal.catalog import service as catalog
from portal.catalog.models import Product, ProductConflict
from portal.extensions import db
from portal.insights.aggregation import day_bounds
from portal.insights.models import DailyStoreFigure
from portal.ledger import service as ledger
from portal.ledger.models import AccountCode, LedgerAccount, LedgerPosting, LedgerTransaction, RefundRequest, RefundStatus
from portal.outbox import OutboxMessage, OutboxStatus
from portal.redemption.models import ReviewCase, ReviewStatus
from portal.settings import service as settings

FIGURES = ("paid_fen", "orders", "redemptions", "in_transit", "available")
MONEY = frozenset({"paid_fen", "in_transit", "available"})


@dataclass(frozen=True)
class Figure:
    key: str  # one of FIGURES
    value: int  # today's total, or the balance now
    change: int  # against yesterday: yesterday's total, or the balance at today's start

    @property
    def money(self) -> bool:
        return self.key in MONEY


@dataclass(frozen=True)
class Todo:
    """One line of the to-do list: `kind` names what and where (the page maps it to words and a
    link), `count` how many; `due_at` the nearest deadline, `ref` the one object when it is one."""

    kind: str  # reviews | refunds | conflicts | deliveries | paused | notices | wizard | enable
    count: int
    due_at: datetime | None = None
    ref: int | None = None
    step: object | None = None  # the wizard's next step (onboarding.steps.Step)
    minutes_left: int | None = None  # until `due_at`, never below 0


def figures(organization_id: int, store_ids: frozenset[int] | None, *, now: datetime) -> list[Figure]:
    """Today's figures (Shanghai day of `now`) for the organization or `store_ids`, each with its
    change against yesterday."""
    today = clock.to_local(now).date()
    yesterday = today - timedelta(days=1)
    stmt = (
        select(DailyStoreFigure.day, func.sum(DailyStoreFigure.paid_fen), func.sum(DailyStoreFigure.orders),
               func.sum(DailyStoreFigure.redemptions))
        .where(DailyStoreFigure.organization_id == organization_id, DailyStoreFigure.day.in_((yesterday, today)))
        .group_by(DailyStoreFigure.day)
    )
    if store_ids is not None:
        stmt = stmt.where(DailyStoreFigure.store_id.in_(sorted(store_ids)))
    days = {row[0]: tuple(int(v or 0) for v in row[1:]) for row in db.session.execute(stmt)}
    now_days, before = days.get(today, (0, 0, 0)), days.get(yesterday, (0, 0, 0))
    out = [Figure(key, now_days[i], now_days[i] - before[i]) for i, key in enumerate(FIGURES[:3])]

    balances = ledger.balances(organization_id, store_ids)
    start, _end = day_bounds(today, today)
    moved = (
        select(LedgerAccount.code, func.coalesce(func.sum(LedgerPosting.amount_fen), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.organization_id == organization_id, LedgerTransaction.posted_at >= start,
               LedgerAccount.code.in_((AccountCode.IN_TRANSIT, AccountCode.AVAILABLE)))
        .group_by(LedgerAccount.code)
    )
    if store_ids is not None:
        moved = moved.where(LedgerAccount.store_id.in_(sorted(store_ids)))
    changes = {code: int(total) for code, total in db.session.execute(moved)}
    for key in FIGURES[3:]:
        out.append(Figure(key, balances[key], changes.get(key, 0)))
    return out


def _count(stmt) -> int:
    return int(db.session.scalar(stmt.with_only_columns(func.count())) or 0)


def todos(organization, store_ids: frozenset[int] | None, *, admin: bool, now: datetime) -> list[Todo]:
    """What needs the reader now, most urgent first (a customer waiting at the counter, then a
    refund's deadline); empty when nothing does.

    Owners and HQ admins get every kind; a store manager gets their stores' refund requests and
    unread notices (the only items of this list a store manager may act on)."""
    org_id = organization.id
    found: list[Todo] = []

    if admin:  # a held redemption may have a customer waiting at the counter
        count = _count(select(ReviewCase.id).where(ReviewCase.organization_id == org_id, ReviewCase.status == ReviewStatus.OPEN))
        if count:
            found.append(Todo("reviews", count))

    refunds = select(RefundRequest.id).where(
        RefundRequest.organization_id == org_id, RefundRequest.status == RefundStatus.PENDING, RefundRequest.need_audit.is_(True)
    )
    if store_ids is not None:
        refunds = refunds.where(RefundRequest.store_id.in_(sorted(store_ids)))
    count = _count(refunds)
    if count:
        due = db.session.scalar(refunds.with_only_columns(func.min(RefundRequest.audit_deadline_at)))
        left = max(int((due - now).total_seconds()) // 60, 0) if due is not None else None
        found.append(Todo("refunds", count, due_at=due, minutes_left=left))

    if admin:
        conflicts = select(ProductConflict.product_id).where(ProductConflict.organization_id == org_id, ProductConflict.resolved_at.is_(None))
        count = _count(conflicts)
        if count:
            found.append(Todo("conflicts", count, ref=db.session.scalar(conflicts.limit(1)) if count == 1 else None))
        # Catalogue messages are the deliveries a merchant can retry (on the product's page).
        # Counted in the database (products, not messages): a long Douyin outage leaves many rows.
        product = OutboxMessage.payload["product_id"].as_integer()
        count, first = db.session.execute(select(func.count(distinct(product)), func.min(product)).where(
            OutboxMessage.organization_id == org_id, OutboxMessage.status == OutboxStatus.FAILED,
            OutboxMessage.kind.in_((catalog.SAVE_KIND, catalog.OPERATE_KIND)), product.is_not(None),
        )).one()
        if count:
            found.append(Todo("deliveries", count, ref=first if count == 1 else None))
        paused = select(Product.id).where(Product.organization_id == org_id, Product.paused_at.is_not(None), Product.delisted_at.is_(None))
        count = _count(paused)
        if count:
            found.append(Todo("paused", count))

    count = settings.unread_count(org_id, store_ids)
    if count:
        found.append(Todo("notices", count))

    if admin:
        found.extend(_wizard(organization))
    return found


def _wizard(organization) -> list[Todo]:
    from portal.onboarding import service as onboarding
    from portal.onboarding import steps

    facts = onboarding.gather_facts(organization)
    if not facts.edition_ok:
        return []
    if not facts.enabled:
        return [Todo("enable", 1)]
    step = steps.next_step(steps.derive(facts))
    if step is None or (step.number == 5 and facts.review_status == "reviewing"):  # waiting on Douyin, nothing to do
        return []
    return [Todo("wizard", 1, step=step)]

