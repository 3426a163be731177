"""保证金 by business category: what a merchant must hold, what is still owed, deductions for
compensation (赔付) to a customer, and returns (退还) to the merchant.

The deposit required follows the merchant's category (set by the platform operator). The
portal's defaults are `CATEGORIES`; the operator may replace any of them in the admin area
(`DepositRequirement`). Money moves only through `service.record_deposit` (double-entry,
clearing <-> deposit, integer fen): what is owed is derived, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from portal import audit, money
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.ledger import service
from portal.ledger.models import AccountCode, DepositRequirement, LedgerAccount, LedgerPosting, LedgerSettings, LedgerTransaction, TxnKind

# (code, label, the portal's default deposit in fen)
CATEGORIES = (
    ("catering", _l("餐饮"), 200_000),
    ("beauty", _l("丽人"), 500_000),
    ("leisure", _l("休闲娱乐"), 1_000_000),
    ("fitness", _l("运动健身"), 1_000_000),
    ("family", _l("亲子"), 500_000),
    ("hotel", _l("酒店"), 1_000_000),
    ("education", _l("教培"), 2_000_000),
)
CATEGORY_LABELS = {code: label for code, label, _fen in CATEGORIES}
DEFAULT_FEN = {code: fen for code, _label, fen in CATEGORIES}


class DepositError(service.LedgerError):
    """A deposit rule was broken; `field` names the form field."""


@dataclass(frozen=True)
class CategoryRequirement:
    code: str
    label: str
    default_fen: int
    required_fen: int

    @property
    def overridden(self) -> bool:
        return self.required_fen != self.default_fen


@dataclass(frozen=True)
class DepositStatus:
    category: str | None
    category_label: str
    required_fen: int | None  # None: no category yet
    paid_fen: int  # 缴纳 + 补缴
    deducted_fen: int  # 赔付等扣除
    returned_fen: int  # 退回
    balance_fen: int

    @property
    def owed_fen(self) -> int | None:
        """Still to pay: required − (paid − deducted − returned), never below zero."""
        return None if self.required_fen is None else max(0, self.required_fen - self.balance_fen)

    @property
    def returnable_fen(self) -> int | None:
        """What may be returned while the merchant stays in its category: the balance beyond what
        is required (None: no category, so nothing is known to be beyond it)."""
        return None if self.required_fen is None else max(0, self.balance_fen - self.required_fen)


def requirements() -> list[CategoryRequirement]:
    """Every category with its default and the deposit required now."""
    overrides = dict(db.session.execute(select(DepositRequirement.category, DepositRequirement.required_fen)).all())
    return [CategoryRequirement(code, str(CATEGORY_LABELS[code]), fen, int(overrides.get(code, fen))) for code, _label, fen in CATEGORIES]


def required_fen(category: str | None) -> int | None:
    if category not in DEFAULT_FEN:
        return None
    override = db.session.scalar(select(DepositRequirement.required_fen).where(DepositRequirement.category == category))
    return int(override) if override is not None else DEFAULT_FEN[category]


def set_requirement(category: str, amount_fen: int, *, actor, now: datetime) -> DepositRequirement:
    """The operator changes a category's required deposit (0 allowed). Audited."""
    if category not in DEFAULT_FEN:
        raise DepositError(_l("请选择类目"), field="category")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise DepositError(_l("保证金不能为负数"), field="amount")
    row = db.session.scalar(select(DepositRequirement).where(DepositRequirement.category == category))
    before = row.required_fen if row is not None else DEFAULT_FEN[category]
    if row is None:
        row = DepositRequirement(category=category, required_fen=amount_fen, updated_at=now)
        db.session.add(row)
    row.required_fen, row.updated_by_id, row.updated_at = amount_fen, getattr(actor, "id", None), now
    db.session.flush()
    audit.record("ledger.deposit_requirement.updated", actor=actor, obj=row, category=category, before_fen=before, after_fen=amount_fen)
    return row


def merchant_category(organization_id: int) -> str | None:
    return db.session.scalar(select(LedgerSettings.deposit_category).where(LedgerSettings.organization_id == organization_id))


def set_merchant_category(organization_id: int, category: str, *, actor, now: datetime) -> None:
    """The operator sets the merchant's business category, which decides its deposit. Audited."""
    if category not in DEFAULT_FEN:
        raise DepositError(_l("请选择类目"), field="category")
    row = service.get_settings(organization_id)
    if row.id is None:
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            row = db.session.scalar(select(LedgerSettings).where(LedgerSettings.organization_id == organization_id))
    before = row.deposit_category
    row.deposit_category = category
    row.updated_at = now
    db.session.flush()
    audit.record("ledger.deposit_category.set", actor=actor, organization_id=organization_id, obj=row, before=before, after=category)


def status(organization_id: int) -> DepositStatus:
    """The merchant's deposit: required by category, paid, deducted, returned, balance (owed derived)."""
    sums = dict(db.session.execute(
        select(LedgerTransaction.kind, func.sum(LedgerPosting.amount_fen))
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerAccount.organization_id == organization_id, LedgerAccount.code == AccountCode.DEPOSIT)
        .group_by(LedgerTransaction.kind)
    ).all())
    category = merchant_category(organization_id)
    return DepositStatus(
        category=category,
        category_label=str(CATEGORY_LABELS[category]) if category in CATEGORY_LABELS else "",
        required_fen=required_fen(category),
        paid_fen=int(sums.get(TxnKind.DEPOSIT_PAY_IN, 0) or 0) + int(sums.get(TxnKind.DEPOSIT_TOP_UP, 0) or 0),
        deducted_fen=-int(sums.get(TxnKind.DEPOSIT_DEDUCTION, 0) or 0),
        returned_fen=-int(sums.get(TxnKind.DEPOSIT_RETURN, 0) or 0),
        balance_fen=service.balance(organization_id, AccountCode.DEPOSIT, service.ORG_SCOPE),
    )


def find_order(organization_id: int, order_no: str):
    """The merchant's order by Douyin's order number or the portal's out_order_no, or None."""
    from portal.orders.models import Order

    order_no = (order_no or "").strip()
    if not order_no:
        return None
    return db.session.scalar(select(Order).where(Order.organization_id == organization_id,
                                                 or_(Order.douyin_order_id == order_no, Order.out_order_no == order_no)))


def deduct_for_compensation(organization_id: int, *, order_no: str, amount_fen: int, reason: str, reference: str, actor,
                            now: datetime) -> LedgerTransaction | None:
    """The operator deducts compensation (赔付) paid to a customer from the merchant's deposit:
    deposit -> clearing, naming the order and the reason. Refused (DepositError / InsufficientFunds
    naming the field, nothing changed) for an unknown order, no reason, or more than the deposit.
    `reference` (a form nonce) makes a double submit post once (then None). Audited; the merchant
    is notified."""
    from portal.notifications import notify

    order = find_order(organization_id, order_no)
    if order is None:
        raise DepositError(_l("该商户没有订单号为「%(no)s」的订单", no=(order_no or "").strip()), field="order_no")
    reason = (reason or "").strip()
    if not reason:
        raise DepositError(_l("请填写赔付原因"), field="reason")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise DepositError(_l("金额必须大于 0"), field="amount")
    available = service.balance(organization_id, AccountCode.DEPOSIT, service.ORG_SCOPE)
    if amount_fen > available and service.find_transaction(TxnKind.DEPOSIT_DEDUCTION, f"deposit:{organization_id}:{reference}") is None:
        raise DepositError(_l("超出保证金余额 %(balance)s", balance=money.format_fen(available)), field="amount")
    txn = service.record_deposit(organization_id, TxnKind.DEPOSIT_DEDUCTION, amount_fen, reason=reason, reference=reference,
                                 actor=actor, now=now, order_id=order.id)
    if txn is None:
        return None
    audit.record("ledger.deposit.deducted", actor=actor, organization_id=organization_id, obj=txn, order_id=order.id,
                 order_no=order.douyin_order_id, amount_fen=amount_fen, reason=reason)
    notify(organization_id, "system", str(_l("保证金扣除 %(amount)s：订单 %(no)s 赔付", amount=money.format_fen(amount_fen), no=order.douyin_order_id)),
           reason, link="/ledger/deposit")
    return txn


RETURN_EXCESS, RETURN_LEAVING = "excess", "leaving"
RETURN_MODES = (
    (RETURN_EXCESS, _l("退还超出应缴的部分")),
    (RETURN_LEAVING, _l("商户退出类目或平台：全额退还")),
)


def _lock_deposit(organization_id: int) -> int:
    """The deposit balance, with its account locked until the transaction ends (0 when none)."""
    account = db.session.scalar(
        select(LedgerAccount).where(LedgerAccount.organization_id == organization_id, LedgerAccount.scope == service.ORG_SCOPE,
                                    LedgerAccount.code == AccountCode.DEPOSIT)
        .with_for_update().execution_options(populate_existing=True))
    return account.balance_fen if account is not None else 0


def return_deposit(organization_id: int, *, leaving: bool, amount_fen: int | None, reason: str, reference: str, actor,
                   now: datetime) -> LedgerTransaction | None:
    """The operator returns deposit to the merchant (退还保证金): deposit -> clearing, with a reason.

    While the merchant stays in its category, at most what it holds beyond what the category
    requires may be returned. When it leaves the category or the platform (`leaving`) the whole
    balance is returned (`amount_fen` None, or exactly the balance) and its category is cleared,
    so nothing shows as owed until the operator sets a new one. Refused (DepositError naming the
    field, nothing changed) without a reason, for an amount that is not positive or more than may
    be returned, for a partial return while no category decides what is required, or when nothing
    is held. The deposit account is locked first, so two returns at once cannot both pass the
    check. `reference` (a form nonce) makes a double submit post once (then None). Audited
    (`ledger.deposit.returned`); the merchant is notified.
    """
    from portal.notifications import notify

    reason = (reason or "").strip()
    if not reason:
        raise DepositError(_l("请填写退还原因"), field="reason")
    if service.find_transaction(TxnKind.DEPOSIT_RETURN, f"deposit:{organization_id}:{reference}") is not None:
        return None
    if amount_fen is not None and (isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0):
        raise DepositError(_l("金额必须大于 0"), field="amount")
    held = _lock_deposit(organization_id)
    category = merchant_category(organization_id)
    if leaving:
        if held <= 0:
            raise DepositError(_l("该商户没有可退还的保证金"), field="amount")
        if amount_fen is not None and amount_fen != held:
            raise DepositError(_l("商户退出时须全额退还保证金余额 %(balance)s；金额可留空", balance=money.format_fen(held)), field="amount")
        amount_fen = held
    else:
        if amount_fen is None:
            raise DepositError(_l("请输入金额"), field="amount")
        required = required_fen(category)
        if required is None:
            raise DepositError(_l("该商户尚未设置经营类目，应缴保证金未定，不能部分退还：请先设置类目；商户退出时请选择全额退还"), field="amount")
        returnable = max(0, held - required)
        if amount_fen > returnable:
            raise DepositError(_l("超出可退还金额 %(returnable)s（余额 %(balance)s − 应缴 %(required)s）", returnable=money.format_fen(returnable),
                                  balance=money.format_fen(held), required=money.format_fen(required)), field="amount")
    txn = service.record_deposit(organization_id, TxnKind.DEPOSIT_RETURN, amount_fen, reason=reason, reference=reference, actor=actor, now=now)
    if txn is None:
        return None
    if leaving and category is not None:
        row = db.session.scalar(select(LedgerSettings).where(LedgerSettings.organization_id == organization_id))
        row.deposit_category, row.updated_at = None, now
        db.session.flush()
    audit.record("ledger.deposit.returned", actor=actor, organization_id=organization_id, obj=txn, amount_fen=amount_fen, reason=reason,
                 leaving=leaving, category=category)
    notify(organization_id, "system", _l("保证金退还 %(amount)s", amount=money.format_fen(amount_fen)), reason, link="/ledger/deposit")
    return txn


def returned_by(txn: LedgerTransaction) -> int:
    """How much a deposit return took off the deposit account, in fen."""
    return -int(db.session.scalar(
        select(func.sum(LedgerPosting.amount_fen)).join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerPosting.transaction_id == txn.id, LedgerAccount.code == AccountCode.DEPOSIT)) or 0)


def recent(organization_id: int, *, limit: int = 20) -> list[tuple[LedgerTransaction, int, str]]:
    """The newest deposit movements: (transaction, amount on the deposit account, order number or "")."""
    from portal.orders.models import Order

    rows = db.session.execute(
        select(LedgerTransaction, LedgerPosting.amount_fen, Order.douyin_order_id)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .outerjoin(Order, Order.id == LedgerTransaction.order_id)
        .where(LedgerAccount.organization_id == organization_id, LedgerAccount.code == AccountCode.DEPOSIT)
        .order_by(LedgerTransaction.id.desc()).limit(limit)
    ).all()
    return [(txn, int(amount), order_no or "") for txn, amount, order_no in rows]
