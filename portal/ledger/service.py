"""The guaranteed account's rules: posting, payment, completion clock, settlement, withdrawals,
deposit, balances. Plain functions over the session: they flush, never commit.

Every money movement is one `LedgerTransaction` unique by (kind, reference) whose postings sum
to zero; posting the same (kind, reference) again does nothing, which makes every receiver and
job idempotent. Corrections are new transactions, never edits.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import String, bindparam, case, cast, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from portal import audit, clock, messages, money, outbox, signals
from portal.database import UTCDateTime
from portal.errors import DomainError
from portal.extensions import db, queue
from portal.i18n import lazy_gettext as _l
from portal.ledger import fees
from portal.ledger.models import (
    AccountCode,
    LedgerAccount,
    LedgerOrder,
    LedgerOrderStatus,
    LedgerPosting,
    LedgerSettings,
    LedgerTransaction,
    SettlementBasis,
    TxnKind,
    Withdrawal,
    WithdrawalItem,
    WithdrawalStatus,
)

ORG_SCOPE = 0
BALANCE_CODES = (
    AccountCode.IN_TRANSIT,
    AccountCode.AVAILABLE,
    AccountCode.WITHDRAWING,
    AccountCode.WITHDRAWN,
    AccountCode.DEPOSIT,
    AccountCode.FEES,
    AccountCode.REFUNDED,
)


class LedgerError(DomainError):
    """A ledger rule was broken; the message is safe to show. `field` names the form field."""


class InsufficientFunds(LedgerError):
    field = "amount"


@dataclass(frozen=True)
class Line:
    scope: int
    store_id: int | None
    code: str
    amount_fen: int


# --- settings -----------------------------------------------------------------------------


def get_settings(organization_id: int) -> LedgerSettings:
    """The organization's ledger settings; an unsaved row with the defaults when it has none
    (reading them writes nothing: every ledger page and settlement asks)."""
    found = db.session.scalar(select(LedgerSettings).where(LedgerSettings.organization_id == organization_id))
    return found or _default_settings(organization_id)


def _default_settings(organization_id: int) -> LedgerSettings:
    return LedgerSettings(
        organization_id=organization_id,
        settlement_basis=SettlementBasis.REDEEM,
        settlement_days=3,
        refund_window_days=7,
        refund_auto_audit=True,
        fee_model=fees.PLATFORM_MODEL,
        updated_at=clock.now(),
    )


def update_settings(organization_id: int, *, settlement_basis: str, settlement_days: int, refund_window_days: int, refund_auto_audit: bool, actor, now: datetime,
                    fee_model: str | None = None) -> LedgerSettings:
    """Change the settlement rule, the fee model (None keeps it) and the refund policy. New rules
    apply to clocks started and orders paid from now on. The 团购 fee model settles 核销 T+1 only:
    another settlement rule with it is refused (field settlement_days)."""
    if settlement_basis not in set(SettlementBasis):
        raise LedgerError(_l("请选择结算规则"), field="settlement_basis")
    if not 0 <= settlement_days <= 90:
        raise LedgerError(_l("结算周期须在 0 到 90 天之间"), field="settlement_days")
    if not 1 <= refund_window_days <= 365:
        raise LedgerError(_l("自助退款期限须在 1 到 365 天之间"), field="refund_window_days")
    if fee_model is not None and fee_model not in fees.FEE_MODELS:
        raise LedgerError(_l("请选择费率模式"), field="fee_model")
    if fee_model == fees.GROUPBUY_MODEL and (settlement_basis, settlement_days) != (SettlementBasis.REDEEM, fees.GROUPBUY_SETTLEMENT_DAYS):
        raise LedgerError(_l("团购 0 佣金模式在核销后 T+1 结算：请把结算规则设为「核销 D+N」，N 填 1"), field="settlement_days")
    row = get_settings(organization_id)
    if row.id is None:
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:  # saved at the same moment by someone else: change theirs
            row = db.session.scalar(select(LedgerSettings).where(LedgerSettings.organization_id == organization_id))
    row.settlement_basis = settlement_basis
    row.settlement_days = settlement_days
    row.refund_window_days = refund_window_days
    row.refund_auto_audit = refund_auto_audit
    if fee_model is not None:
        row.fee_model = fee_model
    row.updated_at = now
    audit.record("ledger.settings.updated", actor=actor, organization_id=organization_id, obj=row,
                 settlement_basis=settlement_basis, settlement_days=settlement_days,
                 refund_window_days=refund_window_days, refund_auto_audit=refund_auto_audit, fee_model=row.fee_model)
    db.session.flush()
    return row


def settings_snapshot(row: LedgerSettings) -> tuple:
    return row.settlement_basis, row.settlement_days, row.refund_window_days, row.refund_auto_audit, row.fee_model or fees.PLATFORM_MODEL


def settings_changes(before: tuple, row: LedgerSettings, *, now: datetime) -> list[str]:
    """What a settings change means for the merchant, a sentence per change: which orders a new
    settlement rule applies to (a clock already started keeps its date), and that the refund
    window and automatic approval apply to every request from now on."""
    basis, days, window, auto, model = before
    changes = []
    if model != (row.fee_model or fees.PLATFORM_MODEL):
        changes.append(str(_l("团购 0 佣金模式：%(since)s 之后支付的订单不收技术服务费，只收 0.6%% 支付通道费；此前的订单仍按原费率。", since=clock.local_text(now))
                           if row.fee_model == fees.GROUPBUY_MODEL else
                           _l("平台费率：%(since)s 之后支付的订单按类目收取技术服务费与 0.6%% 支付通道费；此前的订单仍按原费率。", since=clock.local_text(now))))
    if (basis, days) != (row.settlement_basis, row.settlement_days):
        rule = (_l("核销 D+%(n)s", n=row.settlement_days) if row.settlement_basis == SettlementBasis.REDEEM
                else _l("支付 D+%(n)s", n=row.settlement_days))
        since = clock.local_text(now)
        if row.settlement_basis == SettlementBasis.REDEEM:
            changes.append(str(_l("新结算规则 %(rule)s 适用于 %(since)s 之后全部核销完成的订单；此前已核销完成的订单仍按原定日期结算。", rule=rule, since=since)))
        else:
            changes.append(str(_l("新结算规则 %(rule)s 适用于 %(since)s 之后支付的订单；此前支付的订单仍按原定日期结算。", rule=rule, since=since)))
    if window != row.refund_window_days:
        changes.append(str(_l("自助退款期限改为 %(n)s 天，从现在起对所有订单的新退款申请生效。", n=row.refund_window_days)))
    if auto != row.refund_auto_audit:
        changes.append(str(_l("符合规则的退款申请从现在起自动同意。") if row.refund_auto_audit else _l("从现在起每笔退款申请都需要您手动处理。")))
    return changes


# --- posting ------------------------------------------------------------------------------


def get_account(organization_id: int, scope: int, code: str, store_id: int | None = None) -> LedgerAccount:
    """The account (created empty on first use; a concurrent creator is tolerated)."""
    stmt = select(LedgerAccount).where(
        LedgerAccount.organization_id == organization_id, LedgerAccount.scope == scope, LedgerAccount.code == code
    )
    account = db.session.scalar(stmt)
    if account is None:
        account = LedgerAccount(organization_id=organization_id, scope=scope, store_id=store_id or None, code=code, balance_fen=0)
        try:
            with db.session.begin_nested():
                db.session.add(account)
        except IntegrityError:
            account = db.session.scalar(stmt)
    return account


def find_transaction(kind: str, reference: str) -> LedgerTransaction | None:
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.kind == kind, LedgerTransaction.reference == reference))


def settlement_batch_day(organization_id: int, batch: str) -> date | None:
    """The local day an organization's settlement batch was posted, or None when it has none."""
    posted = db.session.scalar(select(func.min(LedgerTransaction.posted_at)).where(
        LedgerTransaction.organization_id == organization_id, LedgerTransaction.settle_batch == batch))
    return clock.to_local(posted).date() if posted else None


def post(organization_id: int, kind: str, reference: str, lines: list[Line], *, now: datetime, order_id: int | None = None,
         withdrawal_id: int | None = None, memo="", actor=None) -> LedgerTransaction | None:
    """Post one balanced transaction. Returns None (and changes nothing) when (kind, reference)
    was already posted. `memo` is a lazy string or Message (kept as a message id, shown in the
    reader's language) or a plain string kept as typed. Raises InsufficientFunds when an account but clearing would go negative
    (the database's check decides, so concurrent posts cannot overdraw)."""
    lines = [line for line in lines if line.amount_fen != 0]
    if sum(line.amount_fen for line in lines) != 0 or len(lines) < 2:
        raise ValueError(f"unbalanced transaction {kind}:{reference}")
    if find_transaction(kind, reference) is not None:
        return None
    accounts = {(line.scope, line.code): get_account(organization_id, line.scope, line.code, line.store_id) for line in lines}
    try:
        with db.session.begin_nested():
            txn = LedgerTransaction(
                organization_id=organization_id, kind=kind, reference=reference, order_id=order_id,
                withdrawal_id=withdrawal_id, memo=memo, actor_id=getattr(actor, "id", None), posted_at=now,
            )
            db.session.add(txn)
            db.session.flush()
            for line in lines:
                account = accounts[(line.scope, line.code)]
                db.session.add(LedgerPosting(
                    transaction_id=txn.id, account_id=account.id, organization_id=organization_id,
                    store_id=account.store_id, amount_fen=line.amount_fen,
                ))
                # Atomic in the database: concurrent posts add up instead of overwriting.
                db.session.execute(
                    update(LedgerAccount).where(LedgerAccount.id == account.id)
                    .values(balance_fen=LedgerAccount.balance_fen + line.amount_fen)
                    .execution_options(synchronize_session=False)
                )
            db.session.flush()
    except IntegrityError as error:
        if find_transaction(kind, reference) is not None:
            return None
        raise InsufficientFunds(_l("余额不足")) from error
    for account in accounts.values():
        db.session.expire(account, ["balance_fen"])
    return txn


# --- payment, completion ------------------------------------------------------------------


def _scope(store_id: int | None) -> int:
    return store_id or ORG_SCOPE


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.SHANGHAI).astimezone(clock.now().tzinfo)


def find_ledger_order(order_id: int) -> LedgerOrder | None:
    return db.session.scalar(select(LedgerOrder).where(LedgerOrder.order_id == order_id))


def quote_fees(order, model: str = fees.PLATFORM_MODEL) -> fees.FeeQuote:
    """The fees of an order under a fee model (pure: reads the order, its first product and the join date)."""
    product = next((item.product for item in order.items if item.product is not None), None)
    return fees.quote(
        paid_fen=order.paid_fen,
        source=order.source,
        category_id=getattr(product, "category_id", None),
        product_kind=getattr(product, "kind", None),
        joined_at=_org_created_at(order.organization_id),
        paid_at=order.paid_at,
        model=model,
    )


def _org_created_at(organization_id: int) -> datetime:
    from portal.accounts.models import Organization

    return db.session.get(Organization, organization_id).created_at


def record_payment(order, *, now: datetime) -> LedgerOrder:
    """A paid order: its fees are fixed and its money goes clearing -> in transit. Idempotent."""
    existing = find_ledger_order(order.id)
    if existing is not None:
        return existing
    settings = get_settings(order.organization_id)
    quote = quote_fees(order, settings.fee_model or fees.PLATFORM_MODEL)
    lo = LedgerOrder(
        order_id=order.id, organization_id=order.organization_id, store_id=order.store_id, scope=_scope(order.store_id),
        status=LedgerOrderStatus.IN_TRANSIT, source=order.source, paid_fen=order.paid_fen,
        fee_category=quote.category, tech_fee_rate=quote.tech_fee_rate, promo_applied=quote.promo_applied,
        tech_fee_fen=quote.tech_fee_fen, channel_fee_fen=quote.channel_fee_fen,
        net_fen=order.paid_fen - quote.total_fen, paid_at=order.paid_at, withdrawn_fen=0,
    )
    if settings.settlement_basis == SettlementBasis.PAY:
        lo.due_at = _local_midnight(clock.to_local(order.paid_at).date() + timedelta(days=settings.settlement_days))
    try:
        with db.session.begin_nested():
            db.session.add(lo)
    except IntegrityError:
        return find_ledger_order(order.id)
    scope = lo.scope
    post(order.organization_id, TxnKind.PAYMENT, f"order:{order.id}", [
        Line(scope, order.store_id, AccountCode.CLEARING, -order.paid_fen),
        Line(scope, order.store_id, AccountCode.IN_TRANSIT, order.paid_fen),
    ], now=now, order_id=order.id)
    return lo


def mark_complete(order, *, now: datetime) -> LedgerOrder:
    """The order is complete (every voucher redeemed or refunded): start the 核销 D+N clock. Idempotent."""
    # The order's ledger row and the settlement rule in one read: the counter's last redemption
    # of an order comes here.
    found = db.session.execute(
        select(LedgerOrder, LedgerSettings)
        .outerjoin(LedgerSettings, LedgerSettings.organization_id == LedgerOrder.organization_id)
        .where(LedgerOrder.order_id == order.id)
    ).first()
    lo, settings = found if found is not None else (record_payment(order, now=now), None)
    if lo.status != LedgerOrderStatus.IN_TRANSIT or lo.completed_at is not None:
        return lo
    if settings is None:  # none saved (the defaults apply), or not read yet (the row was just recorded)
        settings = _default_settings(order.organization_id) if found is not None else get_settings(order.organization_id)
    lo.completed_at = order.completed_at or now
    lo.due_at = completion_due_at(settings.settlement_basis, settings.settlement_days, lo.completed_at) or lo.due_at
    db.session.flush()
    return lo


def settlement_rule_columns(organization_id):
    """The organization's settlement basis and days as two scalar subqueries (NULL when it saved
    none: the defaults apply), for a statement of another domain that starts the clock itself
    (the counter's confirm, see `completion_due_at`)."""
    rule = lambda column: select(column).where(LedgerSettings.organization_id == organization_id).scalar_subquery()  # noqa: E731
    return rule(LedgerSettings.settlement_basis), rule(LedgerSettings.settlement_days)


def completion_due_at(basis: str | None, days: int | None, completed_at: datetime) -> datetime | None:
    """When an order completed at `completed_at` falls due under the rule (`basis`, `days`; None:
    the defaults): local midnight N days on for 核销 D+N, None for 支付 D+N (its due date was set
    at payment). `mark_complete` applies it; so does a statement that completes orders itself."""
    columns = LedgerSettings.__table__.c
    basis = basis if basis is not None else columns.settlement_basis.default.arg
    days = days if days is not None else columns.settlement_days.default.arg
    if basis != SettlementBasis.REDEEM:
        return None
    return _local_midnight(clock.to_local(completed_at).date() + timedelta(days=days))


def undo_completion(order, *, now: datetime) -> LedgerOrder | None:
    """A redemption was undone before settlement: the order is no longer complete; the clock stops."""
    lo = find_ledger_order(order.id)
    if lo is None or lo.status != LedgerOrderStatus.IN_TRANSIT or lo.completed_at is None:
        return lo
    lo.completed_at = None
    if get_settings(order.organization_id).settlement_basis == SettlementBasis.REDEEM:
        lo.due_at = None
    db.session.flush()
    return lo


# --- settlement ---------------------------------------------------------------------------


def _settle_payload(bind, order_id_column):
    if bind.dialect.name == "postgresql":
        return func.json_build_object("order_id", order_id_column)
    return func.json_object("order_id", order_id_column)


def settle_batch(*, now: datetime, limit: int = 5000, organization_id: int | None = None, request_douyin: bool = True) -> int:
    """Settle up to `limit` due orders set-based: in transit -> available less fees -> fees.
    Returns how many settled.

    The run is one settlement batch: every order it settles is marked with the batch in one
    conditional update (locked rows are skipped on PostgreSQL), so no order settles twice and
    concurrent runs share the work. The journal gets one transaction per (organization, scope)
    whose postings are the batch's sums; each order's share (paid, fees, net) is its ledger
    order row, which names the batch. Connected organizations also get a
    `ledger.settle_create` outbox row per order. `signals.orders_settled` is sent once per
    organization in the batch.
    """
    from portal.onboarding.models import DouyinApp

    db.session.flush()
    token = uuid.uuid4().hex
    due = select(LedgerOrder.id).where(LedgerOrder.status == LedgerOrderStatus.IN_TRANSIT, LedgerOrder.due_at <= now)
    if organization_id is not None:
        due = due.where(LedgerOrder.organization_id == organization_id)
    # Oldest due first, in the order of the (status, due_at) index: a batch reads only the rows it
    # takes, where ordering by id would sort every due order again for each batch.
    due = due.order_by(LedgerOrder.due_at).limit(limit).with_for_update(skip_locked=True)
    values = {"status": LedgerOrderStatus.SETTLED, "settled_at": now, "settle_batch": token}
    if request_douyin:
        connected = select(DouyinApp.organization_id).where(DouyinApp.app_id.is_not(None))
        values["douyin_settle_status"] = case((LedgerOrder.organization_id.in_(connected), literal("pending")), else_=LedgerOrder.douyin_settle_status)
    result = db.session.execute(
        update(LedgerOrder).where(LedgerOrder.id.in_(due.scalar_subquery())).values(**values).execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0
    if not count:
        return 0
    batch = LedgerOrder.settle_batch == token
    totals = db.session.execute(
        select(LedgerOrder.organization_id, LedgerOrder.scope, LedgerOrder.store_id, func.count(), func.sum(LedgerOrder.paid_fen),
               func.sum(LedgerOrder.net_fen), func.sum(LedgerOrder.tech_fee_fen + LedgerOrder.channel_fee_fen))
        .where(batch).group_by(LedgerOrder.organization_id, LedgerOrder.scope, LedgerOrder.store_id)
        .order_by(LedgerOrder.organization_id, LedgerOrder.scope)
    ).all()
    settled_per_org: dict[int, int] = defaultdict(int)
    for org_id, scope, store_id, orders, paid, net, fee in totals:
        settled_per_org[org_id] += orders
        if not paid:
            continue
        lines = [Line(scope, store_id, AccountCode.IN_TRANSIT, -int(paid)), Line(scope, store_id, AccountCode.AVAILABLE, int(net)),
                 Line(scope, store_id, AccountCode.FEES, int(fee))]
        txn = post(org_id, TxnKind.SETTLEMENT, f"settlement:{token}:{scope}", lines, now=now, memo=_l("核销结算 %(count)s 笔订单", count=orders))
        if txn is None:  # the token is new: (kind, reference) cannot have been posted already
            raise LedgerError(f"settlement batch {token} posted twice")
        txn.settle_batch = token
    if request_douyin:
        now_param = literal(now, UTCDateTime())
        bind = db.session.get_bind()
        db.session.execute(insert(outbox.OutboxMessage).from_select(
            ["organization_id", "kind", "dedupe_key", "payload", "status", "attempts", "next_attempt_at", "last_error", "created_at"],
            select(LedgerOrder.organization_id, literal("ledger.settle_create"), literal("order:") + cast(LedgerOrder.order_id, String),
                   _settle_payload(bind, LedgerOrder.order_id), literal(outbox.OutboxStatus.PENDING.value), literal(0),
                   now_param, literal(""), now_param).where(batch, LedgerOrder.douyin_settle_status == "pending"),
        ))
        queue.enqueue("ledger", "portal.jobs.ledger.run_settle_requests", job_id=f"ledger:settle-requests:{token}")
    for org_id, settled in settled_per_org.items():
        audit.record("ledger.settlement.posted", organization_id=org_id, orders=settled, batch=token)
        signals.orders_settled.send(org_id, batch=token, orders=settled)
    db.session.flush()
    _expire(LedgerOrder, LedgerAccount)
    return count


def batch_settlements(organization_id: int, batch: str) -> list[tuple[int, int, int, datetime]]:
    """What one settlement batch paid an organization, per order: (order id, net fen, fees fen, settled at)."""
    return [
        (order_id, int(net), int(fee), settled_at)
        for order_id, net, fee, settled_at in db.session.execute(
            select(LedgerOrder.order_id, LedgerOrder.net_fen, LedgerOrder.tech_fee_fen + LedgerOrder.channel_fee_fen, LedgerOrder.settled_at)
            .where(LedgerOrder.settle_batch == batch, LedgerOrder.organization_id == organization_id)
            .order_by(LedgerOrder.order_id)
        )
    ]


def _expire(*models) -> None:
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, models):
            db.session.expire(obj)


@functools.cache
def _voucher_progress_statement():
    from portal.orders.models import Voucher
    from portal.orders.service import FINAL_VOUCHER_STATES  # those no longer holding an order back

    done = func.sum(case((Voucher.status.in_(FINAL_VOUCHER_STATES), 1), else_=0))
    return select(Voucher.order_id, done, func.count()).where(Voucher.order_id.in_(bindparam("orders", expanding=True))).group_by(Voucher.order_id)


def voucher_progress(order_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per order: (vouchers redeemed or refunded, vouchers), in one grouped query."""
    if not order_ids:
        return {}
    rows = db.session.connection().execute(_voucher_progress_statement(), {"orders": order_ids})
    return {order_id: (int(d or 0), int(total)) for order_id, d, total in rows}


def settle_order_due_reason(lo, settings: LedgerSettings, now: datetime, *, progress: tuple[int, int]) -> str:
    """Why an order's money is not available yet, in the merchant's words ("" once settled).
    `lo` is a row of the orders list (queries.ORDER_ROW_COLUMNS: the ledger order and its
    order's fulfilment); `progress` is the order's (done, total) vouchers, from `voucher_progress`."""
    if lo.status == LedgerOrderStatus.SETTLED:
        return ""
    if lo.status == LedgerOrderStatus.REFUNDED:
        return str(_l("订单已退款，款项已退回顾客"))
    if lo.due_at is None:
        if settings.settlement_basis == SettlementBasis.REDEEM:
            done, total = progress
            if lo.fulfilment == "courier":
                return str(_l("等待快递签收后开始计算结算周期"))
            return str(_l("等待核销：已核销 %(done)s/%(total)s 张券，全部核销后 %(days)s 天结算", done=done, total=total, days=settings.settlement_days))
        return str(_l("等待结算周期开始"))
    if lo.due_at > now:
        return str(_l("结算周期中：%(date)s 起可结算", date=clock.to_local(lo.due_at).strftime("%Y-%m-%d")))
    return str(_l("已到结算日，等待结算任务运行"))


# --- withdrawals --------------------------------------------------------------------------


def available_fen(organization_id: int, scope: int | None = None) -> int:
    return balance(organization_id, AccountCode.AVAILABLE, scope)


def balance(organization_id: int, code: str, scope: int | None = None) -> int:
    stmt = select(func.coalesce(func.sum(LedgerAccount.balance_fen), 0)).where(
        LedgerAccount.organization_id == organization_id, LedgerAccount.code == code
    )
    if scope is not None:
        stmt = stmt.where(LedgerAccount.scope == scope)
    return int(db.session.scalar(stmt))


def balances(organization_id: int, store_ids: frozenset[int] | None = None) -> dict[str, int]:
    """Cached balances per account code, summed over the organization (or the given stores)."""
    stmt = select(LedgerAccount.code, func.sum(LedgerAccount.balance_fen)).where(LedgerAccount.organization_id == organization_id)
    if store_ids is not None:
        stmt = stmt.where(LedgerAccount.store_id.in_(store_ids))
    found = {code: int(total) for code, total in db.session.execute(stmt.group_by(LedgerAccount.code))}
    return {code.value: found.get(code.value, 0) for code in AccountCode}


def balances_by_store(organization_id: int) -> dict[int, dict[str, int]]:
    rows = db.session.execute(
        select(LedgerAccount.scope, LedgerAccount.code, LedgerAccount.balance_fen).where(LedgerAccount.organization_id == organization_id)
    )
    out: dict[int, dict[str, int]] = defaultdict(lambda: {code.value: 0 for code in AccountCode})
    for scope, code, amount in rows:
        out[scope][code] += int(amount)
    return dict(out)


def platform_account(organization_id: int, **options):
    """(client, merchant uid, channel) of the organization's ecpay account, or None when the
    merchant has no approved 进件 channel yet (a merchant not connected to Douyin). `options` go
    to the client (a page view's short timeout, say)."""
    from portal.onboarding.connection import NotConnected, client_of, find_app

    app = find_app(organization_id)
    uid = app and (app.merchant_uid or app.payment_merchant_uid)
    if not uid or not app.payment_channel:
        return None
    try:
        return client_of(app, **options), uid, app.payment_channel
    except NotConnected:
        return None


def douyin_withdrawable(client, uid: str, channel: str) -> int:
    """Douyin's withdrawable balance of an ecpay account (query_merchant_balance), in fen."""
    return int(client.query_merchant_balance(merchant_uid=uid, channel_type=channel)["account_info"]["withdrawable_balacne"])


def platform_withdrawable_fen(organization_id: int) -> int | None:
    """What Douyin holds for the merchant as withdrawable, in fen; None when the merchant has no
    ecpay account. Raises DouyinError when Douyin cannot say."""
    account = platform_account(organization_id)
    if account is None:
        return None
    return douyin_withdrawable(*account)


def withdrawable_fen(organization_id: int, platform_fen: int | None) -> int:
    """可提现 as the merchant may withdraw it: the ledger's available money, never more than
    Douyin holds as withdrawable (Douyin's money is the truth)."""
    local = available_fen(organization_id)
    return local if platform_fen is None else max(0, min(local, platform_fen))


def request_withdrawal(organization_id: int, amount_fen: int, *, actor, now: datetime, platform_fen: int | None = None) -> Withdrawal:
    """Move `amount_fen` of available money to withdrawing and ask Douyin to pay it out (outbox).

    The money is taken from settled orders oldest first; the withdrawal records exactly which
    orders' money (and how much of each) it contains. The available accounts are locked first,
    so two requests at once are serialised and cannot overdraw. `platform_fen` is Douyin's
    withdrawable balance (query_merchant_balance) when known: more than that is refused before
    anything is asked of Douyin, with what to do. Raises InsufficientFunds.
    """
    if amount_fen <= 0:
        raise LedgerError(_l("金额必须大于 0"), field="amount")
    if platform_fen is not None and amount_fen > platform_fen:
        raise InsufficientFunds(_l(
            "抖音账户当前可提现 %(platform)s，少于本次提现金额：差额是抖音尚未结算到账或已按实际费用扣除的部分，"
            "请提现不超过 %(platform)s，或稍后再试",
            platform=money.format_fen(max(0, platform_fen))))
    locked = list(db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.organization_id == organization_id, LedgerAccount.code == AccountCode.AVAILABLE)
        .order_by(LedgerAccount.id).with_for_update().execution_options(populate_existing=True)
    ))
    total = sum(account.balance_fen for account in locked)
    if amount_fen > total:
        raise InsufficientFunds(_l("超出可提现余额 %(available)s", available=money.format_fen(total)))
    withdrawal = Withdrawal(
        organization_id=organization_id, out_withdraw_no=f"wd{organization_id}x{uuid.uuid4().hex[:20]}", amount_fen=amount_fen,
        status=WithdrawalStatus.PROCESSING, requested_by_id=getattr(actor, "id", None), requested_at=now,
    )
    db.session.add(withdrawal)
    db.session.flush()
    remaining = amount_fen
    per_scope: dict[tuple[int, int | None], int] = defaultdict(int)
    candidates = db.session.scalars(
        select(LedgerOrder).where(
            LedgerOrder.organization_id == organization_id, LedgerOrder.status == LedgerOrderStatus.SETTLED,
            LedgerOrder.withdrawn_fen < func.coalesce(LedgerOrder.douyin_net_fen, LedgerOrder.net_fen),
        ).order_by(LedgerOrder.settled_at, LedgerOrder.id).execution_options(yield_per=500, populate_existing=True)
    )
    for lo in candidates:
        part = min(remaining, order_withdrawable_fen(lo) - lo.withdrawn_fen)
        lo.withdrawn_fen += part
        db.session.add(WithdrawalItem(withdrawal_id=withdrawal.id, ledger_order_id=lo.id, store_id=lo.store_id, scope=lo.scope, amount_fen=part))
        per_scope[(lo.scope, lo.store_id)] += part
        remaining -= part
        if remaining == 0:
            break
    if remaining:
        raise InsufficientFunds(_l("可提现订单款项不足"))
    lines = []
    for (scope, store_id), part in per_scope.items():
        lines += [Line(scope, store_id, AccountCode.AVAILABLE, -part), Line(scope, store_id, AccountCode.WITHDRAWING, part)]
    post(organization_id, TxnKind.WITHDRAWAL, f"withdrawal:{withdrawal.id}", lines, now=now, withdrawal_id=withdrawal.id,
         memo=withdrawal.out_withdraw_no, actor=actor)
    outbox.add(organization_id, "ledger.withdraw_create", {"withdrawal_id": withdrawal.id}, dedupe_key=withdrawal.out_withdraw_no)
    audit.record("ledger.withdrawal.requested", actor=actor, obj=withdrawal, amount_fen=amount_fen)
    return withdrawal


def finish_withdrawal(withdrawal: Withdrawal, *, success: bool, reason: str = "", now: datetime) -> bool:
    """Douyin paid it out (withdrawing -> withdrawn) or it failed (back to available, the orders'
    money withdrawable again). Notifies the merchant. Idempotent: returns False if already final."""
    from portal.notifications import notify

    if withdrawal.status != WithdrawalStatus.PROCESSING:
        return False
    per_scope: dict[tuple[int, int | None], int] = defaultdict(int)
    for item in withdrawal.items:
        per_scope[(item.scope, item.store_id)] += item.amount_fen
    target = AccountCode.WITHDRAWN if success else AccountCode.AVAILABLE
    lines = []
    for (scope, store_id), part in per_scope.items():
        lines += [Line(scope, store_id, AccountCode.WITHDRAWING, -part), Line(scope, store_id, target, part)]
    kind = TxnKind.WITHDRAWAL_PAID if success else TxnKind.WITHDRAWAL_FAILED
    post(withdrawal.organization_id, kind, f"withdrawal:{withdrawal.id}", lines, now=now, withdrawal_id=withdrawal.id,
         memo=reason or withdrawal.out_withdraw_no)
    if not success:
        for item in withdrawal.items:
            item.ledger_order.withdrawn_fen -= item.amount_fen
    withdrawal.status = WithdrawalStatus.PAID if success else WithdrawalStatus.FAILED
    withdrawal.failure_reason = "" if success else (reason or _l("抖音未说明原因"))
    withdrawal.finished_at = now
    amount = money.format_fen(withdrawal.amount_fen)
    if success:
        notify(withdrawal.organization_id, "withdrawal", _l("提现 %(amount)s 已到账", amount=amount), withdrawal.out_withdraw_no,
               link=f"/ledger/withdrawals/{withdrawal.id}")
    else:
        notify(withdrawal.organization_id, "withdrawal", _l("提现 %(amount)s 失败，款项已退回可提现余额", amount=amount),
               messages.stored(withdrawal, "failure_reason"), link=f"/ledger/withdrawals/{withdrawal.id}")
    audit.record("ledger.withdrawal.finished", obj=withdrawal, success=success, reason=reason)
    db.session.flush()
    return True


def order_withdrawable_fen(lo: LedgerOrder) -> int:
    """An order's money a withdrawal may take: what Douyin settled once known, else our estimate."""
    return lo.net_fen if lo.douyin_net_fen is None else lo.douyin_net_fen


def withdrawal_refused_reason(error):
    """A withdrawal Douyin refused, in the merchant's words: what happened and what to do, then
    Douyin's code and log id (a message, shown in the reader's language)."""
    from portal.problems import with_details

    sentence = _l("抖音拒绝了这笔提现：%(said)s。款项已退回可提现余额；请在担保账户核对抖音可提现余额后重新提现。",
                  said=error.message if hasattr(error, "message") else str(error))
    details = with_details("", error)
    return _l("%(sentence)s %(details)s", sentence=sentence, details=details) if details else sentence


def apply_withdraw_status(withdrawal: Withdrawal, data: dict, *, now: datetime) -> None:
    """Record query_withdraw_order's answer: SUCCESS paid; FAIL, or REEXCHANGE (the bank returned
    it), failed with Douyin's status_msg; PROCESSING changes nothing."""
    status = str(data.get("status") or "").upper()
    if status == "SUCCESS":
        finish_withdrawal(withdrawal, success=True, now=now)
    elif status in ("FAIL", "REEXCHANGE"):
        detail = str(data.get("status_msg") or "") or _l("抖音未说明原因")
        finish_withdrawal(withdrawal, success=False, now=now, reason=_l(
            "抖音提现失败：%(detail)s。款项已退回可提现余额，核对收款账户后可重新提现。", detail=detail))


def record_douyin_settlement(lo: LedgerOrder, *, settle_amount: int, rake: int, commission: int, now: datetime) -> LedgerTransaction | None:
    """What Douyin settled for an order (settle_query): when it differs from our estimate, post
    the difference between available and fees as a settlement adjustment with its cause.
    Idempotent (one adjustment per order)."""
    if lo.status != LedgerOrderStatus.SETTLED or lo.douyin_net_fen is not None:
        return None
    lo.douyin_net_fen = settle_amount
    difference = lo.net_fen - settle_amount
    db.session.flush()
    if difference == 0:
        return None
    memo = _l(
        "抖音实际结算 %(actual)s（平台服务费 %(rake)s，佣金 %(commission)s），预估 %(estimate)s：差额 %(difference)s 按抖音结算调整",
        actual=money.format_fen(settle_amount), rake=money.format_fen(rake), commission=money.format_fen(commission),
        estimate=money.format_fen(lo.net_fen), difference=money.format_fen(difference))
    txn = post(lo.organization_id, TxnKind.SETTLEMENT_ADJUSTMENT, f"order:{lo.order_id}", [
        Line(lo.scope, lo.store_id, AccountCode.AVAILABLE, -difference),
        Line(lo.scope, lo.store_id, AccountCode.FEES, difference),
    ], now=now, order_id=lo.order_id, memo=memo)
    audit.record("ledger.settlement.adjusted", organization_id=lo.organization_id, obj=lo, estimate_fen=lo.net_fen,
                 douyin_fen=settle_amount, difference_fen=difference)
    return txn


# --- deposit ------------------------------------------------------------------------------

DEPOSIT_KINDS = {
    TxnKind.DEPOSIT_PAY_IN: _l("缴纳保证金"),
    TxnKind.DEPOSIT_TOP_UP: _l("补缴保证金"),
    TxnKind.DEPOSIT_DEDUCTION: _l("保证金扣除"),
    TxnKind.DEPOSIT_RETURN: _l("保证金退回"),
}


def record_deposit(organization_id: int, kind: str, amount_fen: int, *, reason: str, reference: str, actor, now: datetime,
                   order_id: int | None = None) -> LedgerTransaction | None:
    """Deposit (保证金) movements: pay in / top up (clearing -> deposit), deduction with a reason
    and return (deposit -> clearing). `reference` (a form nonce) makes a double submit post once."""
    if kind not in DEPOSIT_KINDS:
        raise LedgerError(_l("请选择操作类型"), field="kind")
    if amount_fen <= 0:
        raise LedgerError(_l("金额必须大于 0"), field="amount")
    reason = (reason or "").strip()
    if kind == TxnKind.DEPOSIT_DEDUCTION and not reason:
        raise LedgerError(_l("扣除保证金须填写原因"), field="reason")
    sign = 1 if kind in (TxnKind.DEPOSIT_PAY_IN, TxnKind.DEPOSIT_TOP_UP) else -1
    key = f"deposit:{organization_id}:{reference}"
    if find_transaction(kind, key) is not None:
        return None  # the double submit of a deduction already posted: not "more than the deposit"
    if sign < 0 and amount_fen > balance(organization_id, AccountCode.DEPOSIT, ORG_SCOPE):
        raise InsufficientFunds(_l("超出保证金余额"))
    txn = post(organization_id, kind, key, [
        Line(ORG_SCOPE, None, AccountCode.CLEARING, -sign * amount_fen),
        Line(ORG_SCOPE, None, AccountCode.DEPOSIT, sign * amount_fen),
    ], now=now, memo=reason, actor=actor, order_id=order_id)
    if txn is not None:
        audit.record("ledger.deposit.posted", actor=actor, organization_id=organization_id, obj=txn, kind=kind, amount_fen=amount_fen, reason=reason)
    return txn


# --- invariants (tests and the operator's check) ------------------------------------------


def check_books(organization_id: int | None = None) -> list[str]:
    """Problems with the books (empty when they balance): unbalanced transactions, negative
    accounts, cached balances that differ from the postings, orders settled twice."""
    problems = []
    stmt = select(LedgerPosting.transaction_id, func.sum(LedgerPosting.amount_fen)).group_by(LedgerPosting.transaction_id)
    if organization_id is not None:
        stmt = stmt.where(LedgerPosting.organization_id == organization_id)
    problems += [f"transaction {t} sums to {s}" for t, s in db.session.execute(stmt.having(func.sum(LedgerPosting.amount_fen) != 0))]
    sums = dict(db.session.execute(select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_fen)).group_by(LedgerPosting.account_id)).all())
    accounts = select(LedgerAccount)
    if organization_id is not None:
        accounts = accounts.where(LedgerAccount.organization_id == organization_id)
    for account in db.session.scalars(accounts):
        if account.balance_fen != int(sums.get(account.id, 0)):
            problems.append(f"account {account.id} {account.code} caches {account.balance_fen}, postings say {sums.get(account.id, 0)}")
        if account.code != AccountCode.CLEARING and account.balance_fen < 0:
            problems.append(f"account {account.id} {account.code} is negative")
    settlements = select(LedgerTransaction.order_id).where(LedgerTransaction.kind == TxnKind.SETTLEMENT, LedgerTransaction.order_id.is_not(None))
    twice = settlements.group_by(LedgerTransaction.order_id).having(func.count() > 1)
    problems += [f"order {o} settled twice" for o in db.session.scalars(twice)]
    problems += _batch_problems(organization_id)
    return problems


def _batch_problems(organization_id: int | None) -> list[str]:
    """Each settlement batch's journal postings equal the sums of the ledger orders it settled,
    and every settled order names a batch (or, from before batches, its own transaction)."""
    orders = select(LedgerOrder.settle_batch, LedgerOrder.organization_id, LedgerOrder.scope, func.sum(LedgerOrder.paid_fen),
                    func.sum(LedgerOrder.net_fen), func.sum(LedgerOrder.tech_fee_fen + LedgerOrder.channel_fee_fen))
    # Every order the batch settled, including those refunded since (their refund is its own transaction).
    orders = orders.where(LedgerOrder.settle_batch.is_not(None))
    if organization_id is not None:
        orders = orders.where(LedgerOrder.organization_id == organization_id)
    expected = {(b, o, s): {AccountCode.IN_TRANSIT: -int(p), AccountCode.AVAILABLE: int(n), AccountCode.FEES: int(f)}
                for b, o, s, p, n, f in db.session.execute(orders.group_by(LedgerOrder.settle_batch, LedgerOrder.organization_id, LedgerOrder.scope))}
    posted = select(LedgerTransaction.settle_batch, LedgerTransaction.organization_id, LedgerAccount.scope, LedgerAccount.code, func.sum(LedgerPosting.amount_fen))
    posted = posted.join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id).join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
    posted = posted.where(LedgerTransaction.kind == TxnKind.SETTLEMENT, LedgerTransaction.settle_batch.is_not(None))
    if organization_id is not None:
        posted = posted.where(LedgerTransaction.organization_id == organization_id)
    actual: dict[tuple, dict[str, int]] = defaultdict(dict)
    for b, o, s, code, amount in db.session.execute(posted.group_by(LedgerTransaction.settle_batch, LedgerTransaction.organization_id, LedgerAccount.scope, LedgerAccount.code)):
        actual[(b, o, s)][code] = int(amount)
    problems = []
    for key in expected.keys() | actual.keys():
        want = {code: amount for code, amount in expected.get(key, {}).items() if amount}
        if want != actual.get(key, {}):
            problems.append(f"settlement batch {key[0]} scope {key[2]} posts {actual.get(key, {})}, its orders sum to {want}")
    unbatched = select(LedgerOrder.order_id).where(
        LedgerOrder.status == LedgerOrderStatus.SETTLED, LedgerOrder.settle_batch.is_(None),
        ~select(LedgerTransaction.id).where(LedgerTransaction.kind == TxnKind.SETTLEMENT, LedgerTransaction.order_id == LedgerOrder.order_id).exists(),
    )
    if organization_id is not None:
        unbatched = unbatched.where(LedgerOrder.organization_id == organization_id)
    problems += [f"order {o} is settled but no settlement posted it" for o in db.session.scalars(unbatched)]
    return problems
