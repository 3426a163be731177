"""担保账户 pages: balances, orders' settlement, journal, withdrawals, deposit, refunds, statements,
reconciliation. HQ roles see every store rolled up (or one store with ?store=); a store manager
sees only their store's money."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, request, url_for
from flask_login import current_user

from portal import clock, htmx, money, params, problems
from portal.accounts import tenancy
from portal.accounts.models import Store
from portal.douyin import DouyinError
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import once_per_language
from portal.ledger import deposits, fees, forms, payout, queries, reconcile, references, refunds, service
from portal.ledger import platform_balance
from portal.ledger import rows as ledger_rows
from portal.ledger.models import (
    AccountCode,
    LedgerOrder,
    LedgerOrderStatus,
    LedgerPosting,
    Reconciliation,
    RefundRequest,
    RefundStatus,
    TxnKind,
    Withdrawal,
)

bp = Blueprint("ledger", __name__, url_prefix="/ledger")

ACCOUNT_LABELS = {
    AccountCode.IN_TRANSIT: _l("在途资金"),
    AccountCode.AVAILABLE: _l("可提现"),
    AccountCode.WITHDRAWING: _l("提现中"),
    AccountCode.WITHDRAWN: _l("已提现"),
    AccountCode.DEPOSIT: _l("保证金"),
    AccountCode.FEES: _l("服务费"),
    AccountCode.REFUNDED: _l("已退款"),
    AccountCode.CLEARING: _l("抖音清分"),
}
KIND_LABELS = {
    TxnKind.PAYMENT: _l("订单支付"),
    TxnKind.REFUND: _l("订单退款"),
    TxnKind.SETTLEMENT: _l("核销结算"),
    TxnKind.WITHDRAWAL: _l("申请提现"),
    TxnKind.WITHDRAWAL_PAID: _l("提现到账"),
    TxnKind.WITHDRAWAL_FAILED: _l("提现失败退回"),
    TxnKind.SETTLEMENT_ADJUSTMENT: _l("结算调整（按抖音实际结算）"),
    TxnKind.DEPOSIT_PAY_IN: _l("缴纳保证金"),
    TxnKind.DEPOSIT_TOP_UP: _l("补缴保证金"),
    TxnKind.DEPOSIT_DEDUCTION: _l("保证金扣除"),
    TxnKind.DEPOSIT_RETURN: _l("保证金退回"),
}


def _actor():
    return current_user._get_current_object()


def _store_ids():
    """The stores this page shows: a store manager's own; an HQ's chosen one, or None for all."""
    tenant = tenancy.current()
    chosen = params.int_arg("store")
    if tenant.store_ids is not None:
        return tenant.store_ids
    if chosen:
        tenancy.get_or_404(Store, chosen)
        return frozenset({chosen})
    return None


def _common():
    tenant = tenancy.current()
    store_ids = _store_ids()
    return {
        "tenant": tenant,
        "store_ids": store_ids,
        "stores": tenancy.stores(),
        "selected_store": next(iter(store_ids)) if store_ids and tenant.store_ids is None else None,
        "account_labels": ACCOUNT_LABELS,
        "kind_labels": KIND_LABELS,
        "now": clock.now(),
    }


def _balances_context(ctx):
    org_id = ctx["tenant"].organization.id
    ctx["balances"] = service.balances(org_id, ctx["store_ids"])
    ctx["per_store"] = service.balances_by_store(org_id) if ctx["tenant"].store_ids is None and ctx["store_ids"] is None else {}
    ctx["store_names"] = {s.id: s.name for s in ctx["stores"]}
    return ctx


def _orders_context(ctx, *, limit=None, before=None, status="", batch=""):
    limit = limit or queries.PAGE_SIZE
    base = queries.scoped(tenancy.query(LedgerOrder), LedgerOrder.store_id, ctx["store_ids"])
    stmt = queries.order_rows(queries.orders(base, status=status, batch=batch, before=before)).limit(limit + 1)
    rows = db.session.execute(stmt).all()
    settings = service.get_settings(ctx["tenant"].organization.id)
    progress = service.voucher_progress([lo.order_id for lo in rows[:limit] if lo.due_at is None and lo.status == LedgerOrderStatus.IN_TRANSIT])
    ctx["ledger_orders"] = [
        (lo, service.settle_order_due_reason(lo, settings, ctx["now"], progress=progress.get(lo.order_id, (0, 0))))
        for lo in rows[:limit]
    ]
    ctx["order_rows_html"] = ledger_rows.order_rows(ctx["ledger_orders"], once_per_language("order_rows", ledger_rows.RowLabels.build))
    ctx["has_more"] = len(rows) > limit
    ctx["next_before"] = rows[limit - 1].order_id if len(rows) > limit else None
    ctx["before"], ctx["status_filter"], ctx["order_status_labels"] = before, status, ledger_rows.ORDER_STATUS_LABELS
    ctx["batch"] = batch
    return ctx


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    ctx = _orders_context(_platform_context(_balances_context(_common())), limit=20)
    ctx["withdraw_form"] = forms.WithdrawForm()
    return htmx.render("ledger/index.html", "ledger/_balances.html", **ctx)


@bp.get("/balances")
@tenancy.require(*tenancy.MANAGERS)
def balances():
    ctx = _balances_context(_common())
    if not htmx.is_partial():
        _platform_context(ctx)
    return htmx.render("ledger/index.html", "ledger/_balances.html", **_orders_context(ctx, limit=20), withdraw_form=forms.WithdrawForm())


@bp.get("/orders")
@tenancy.require(*tenancy.MANAGERS)
def orders():
    batch = request.args.get("batch", "")[:32]
    ctx = _orders_context(_common(), before=params.int_arg("before"), status=request.args.get("status", ""), batch=batch)
    if batch:
        ctx["batch_day"] = service.settlement_batch_day(ctx["tenant"].organization.id, batch)
        if ctx["batch_day"] is None:
            abort(404)
    return htmx.render("ledger/orders.html", "ledger/_order_rows.html", **ctx)


def _journal_filters():
    def day(name):
        try:
            return date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return None

    return {
        "kind": request.args.get("kind", "") if request.args.get("kind", "") in set(TxnKind) else "",
        "account": request.args.get("account", "") if request.args.get("account", "") in set(AccountCode) else "",
        "date_from": day("date_from"),
        "date_to": day("date_to"),
        "order_id": params.int_arg("order"),
    }


def _journal_stmt(ctx, filters):
    base = queries.scoped(tenancy.query(LedgerPosting), LedgerPosting.store_id, ctx["store_ids"])
    return queries.journal(base, **filters)


@bp.get("/journal")
@tenancy.require(*tenancy.MANAGERS)
def journal():
    ctx = _common()
    filters = _journal_filters()
    before = params.int_arg("before")
    stmt = _journal_stmt(ctx, filters)
    if before is not None:
        # Keyset on the posting id the journal is ordered by: any page costs what the first does.
        stmt = stmt.where(LedgerPosting.id < before)
    rows = db.session.execute(stmt.limit(queries.PAGE_SIZE + 1)).all()
    has_more, rows = len(rows) > queries.PAGE_SIZE, rows[: queries.PAGE_SIZE]
    args = {k: v for k, v in request.args.items() if k not in ("before", "page")}
    return htmx.render("ledger/journal.html", "ledger/_journal_rows.html", rows=rows, has_more=has_more,
                       refs=references.describe({txn.id: txn for _p, txn, _a in rows}.values()),
                       before=before, filters=filters, args=args, **ctx)


def _statement_rows(ctx, filters):
    header = [_("记账时间"), _("类型"), _("关联"), _("门店"), _("账户"), _("金额（元）"), _("说明")]
    names = {s.id: s.name for s in ctx["stores"]}
    yield header
    for chunk in db.session.execute(_journal_stmt(ctx, filters).execution_options(yield_per=1000)).partitions():
        refs = references.describe({txn.id: txn for _p, txn, _a in chunk}.values(), links=False)
        for posting, txn, account in chunk:
            ref = refs[txn.id]
            yield [
                clock.to_local(txn.posted_at).strftime("%Y-%m-%d %H:%M:%S"), str(KIND_LABELS.get(txn.kind, txn.kind)), ref.text,
                names.get(posting.store_id, _("总部")), str(ACCOUNT_LABELS.get(account.code, account.code)), money.fen_to_yuan_text(posting.amount_fen),
                "" if ref.hides_memo else txn.memo,
            ]


@bp.get("/statement.<fmt>")
@tenancy.require(*tenancy.MANAGERS)
def statement(fmt):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    ctx = _common()
    rows = _statement_rows(ctx, _journal_filters())
    name = f"ledger-statement-{clock.today_local().isoformat()}.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese correctly only with a BOM
        csv.writer(buffer).writerows(rows)
        return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8", headers={"Content-Disposition": f"attachment; filename={name}"})
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("对账单"))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _platform_context(ctx):
    """Douyin's withdrawable balance (None: no ecpay account; "down": Douyin could not say) and
    the 可提现 the merchant may withdraw."""
    org_id = ctx["tenant"].organization.id
    # At most one Douyin call per merchant every 30 s, short and never retried; when Douyin is slow
    # or down the last figure it gave is shown with its age (platform_balance).
    balance = platform_balance.withdrawable_for_page(org_id, now=ctx["now"], local_fen=service.available_fen(org_id))
    ctx["platform_balance"] = balance
    ctx["platform_fen"] = None if balance is None else ("down" if balance.fen is None else balance.fen)
    ctx["withdrawable_fen"] = service.withdrawable_fen(org_id, ctx["platform_fen"] if isinstance(ctx["platform_fen"], int) else None)
    ctx["payout_account"] = payout.find_payout_account(org_id)
    ctx["payout_blocked"] = payout.withdrawal_blocked_reason(org_id)
    ctx["payout_labels"] = payout.KIND_LABELS
    return ctx


def _withdrawals_page(form, *, status=200):
    ctx = _platform_context(_balances_context(_common()))
    ctx["withdrawals"] = list(db.session.scalars(tenancy.query(Withdrawal).order_by(Withdrawal.requested_at.desc(), Withdrawal.id.desc()).limit(100)))
    return htmx.render("ledger/withdrawals.html", "ledger/_withdraw_form.html", withdraw_form=form, status=status, **ctx)


@bp.get("/withdrawals")
@tenancy.require(*tenancy.MANAGERS)
def withdrawals():
    return _withdrawals_page(forms.WithdrawForm())


@bp.post("/withdrawals")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def withdraw():
    form = forms.WithdrawForm()
    if form.validate_on_submit():
        try:
            amount = money.parse_yuan(form.amount.data)
            org_id = tenancy.current().organization.id
            platform_fen = service.platform_withdrawable_fen(org_id)
            withdrawal = payout.start_withdrawal(org_id, amount, actor=_actor(), now=clock.now(), platform_fen=platform_fen)
        except DouyinError as error:
            details = problems.explain_error(error).details
            form.amount.errors.append(_("暂时无法向抖音核对可提现余额，这笔提现没有提交。请稍后再试。") + (f"（{details}）" if details else ""))
        except (money.MoneyError, service.LedgerError) as error:
            form.amount.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("提现 %(amount)s 已提交给抖音。到账或失败都会通知您，失败时款项自动退回可提现余额。", amount=money.format_fen(withdrawal.amount_fen)), "success")
            return htmx.redirect(url_for("ledger.withdrawal", withdrawal_id=withdrawal.id), trigger="ledger-changed")
    return _withdrawals_page(form, status=422)


@bp.get("/withdrawals/<int:withdrawal_id>")
@tenancy.require(*tenancy.MANAGERS)
def withdrawal(withdrawal_id):
    item = tenancy.get_or_404(Withdrawal, withdrawal_id)
    ctx = _common()
    items = [i for i in item.items if ctx["store_ids"] is None or i.store_id in ctx["store_ids"]]
    if ctx["tenant"].store_ids is not None and not items:
        abort(404)
    return htmx.render("ledger/withdrawal.html", None, withdrawal=item, items=items, **ctx)


def _payout_page(form, *, status=200):
    ctx = _common()
    org_id = ctx["tenant"].organization.id
    ctx.update(payout_account=payout.find_payout_account(org_id), payout_blocked=payout.withdrawal_blocked_reason(org_id),
               payout_labels=payout.KIND_LABELS, licence_subject=payout.licence_subject(org_id))
    return htmx.render("ledger/payout.html", "ledger/_payout_form.html", form=form, status=status, **ctx)


@bp.get("/payout-account")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def payout_account():
    return _payout_page(forms.PayoutAccountForm())


@bp.post("/payout-account")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def payout_account_post():
    form = forms.PayoutAccountForm()
    if form.validate_on_submit():
        try:
            account = payout.bind_payout_account(
                tenancy.current().organization.id, kind=form.kind.data, holder_name=form.holder_name.data,
                account_no=form.account_no.data, bank_name=form.bank_name.data or "", bank_branch=form.bank_branch.data or "",
                actor=_actor(), now=clock.now())
        except service.LedgerError as error:
            db.session.rollback()
            getattr(form, error.field or "holder_name").errors.append(str(error))
        else:
            db.session.commit()
            flash(_("提现收款账户已绑定：%(label)s %(masked)s。", label=payout.KIND_LABELS[account.kind], masked=account.account_masked), "success")
            return htmx.redirect(url_for("ledger.payout_account"))
    return _payout_page(form, status=422)


def _deposit_page(form, *, status=200):
    ctx = _common()
    org_id = ctx["tenant"].organization.id
    ctx["deposit_fen"] = service.balance(org_id, AccountCode.DEPOSIT)
    ctx["deposit_status"] = deposits.status(org_id)
    base = tenancy.query(LedgerPosting).where(LedgerPosting.store_id.is_(None))
    ctx["rows"] = db.session.execute(queries.journal(base, account=AccountCode.DEPOSIT).limit(100)).all()
    ctx["refs"] = references.describe({txn.id: txn for _p, txn, _a in ctx["rows"]}.values())
    return htmx.render("ledger/deposit.html", "ledger/_deposit_form.html", form=form, status=status, **ctx)


@bp.get("/deposit")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def deposit():
    return _deposit_page(forms.DepositForm())


@bp.post("/deposit")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def deposit_post():
    form = forms.DepositForm()
    if form.validate_on_submit():
        try:
            amount = money.parse_yuan(form.amount.data)
            service.record_deposit(tenancy.current().organization.id, form.kind.data, amount, reason=form.reason.data or "",
                                   reference=form.reference.data or "", actor=_actor(), now=clock.now())
        except money.MoneyError as error:
            form.amount.errors.append(str(error))
        except service.LedgerError as error:
            getattr(form, error.field or "amount").errors.append(str(error))
        else:
            db.session.commit()
            flash(_("保证金记录已保存，余额已更新。"), "success")
            return htmx.redirect(url_for("ledger.deposit"), trigger="ledger-changed")
    return _deposit_page(form, status=422)


def _refunds_page(*, status=200, form=None, failed_id=None):
    ctx = _common()
    stmt = queries.scoped(tenancy.query(RefundRequest), RefundRequest.store_id, ctx["store_ids"])
    ctx["refund_rows"] = list(db.session.scalars(stmt.order_by((RefundRequest.status == RefundStatus.PENDING).desc(), RefundRequest.created_at.desc()).limit(100)))
    ctx["hours_left"] = refunds.hours_left
    ctx["settings"] = service.get_settings(ctx["tenant"].organization.id)
    return htmx.render("ledger/refunds.html", "ledger/_refund_rows.html", status=status, decision_form=form or forms.RefundDecisionForm(), failed_id=failed_id, **ctx)


@bp.get("/refunds")
@tenancy.require(*tenancy.MANAGERS)
def refund_list():
    return _refunds_page()


@bp.post("/refunds/<int:refund_id>")
@tenancy.require(*tenancy.MANAGERS)
def refund_decide(refund_id):
    refund = tenancy.get_or_404(RefundRequest, refund_id)
    form = forms.RefundDecisionForm()
    if form.validate_on_submit():
        try:
            refunds.decide(refund, approve=form.decision.data == "approve", reason=form.reason.data or "",
                           actor=_actor(), now=clock.now())
        except service.LedgerError as error:
            form.reason.errors.append(str(error))
        else:
            db.session.commit()
            if form.decision.data == "approve":
                flash(_("已同意退款 %(amount)s：券码作废，抖音将原路退款给顾客，担保账户同步扣回。", amount=money.format_fen(refund.amount_fen)), "success")
            else:
                flash(_("已拒绝退款，抖音会把您的原因告诉顾客；券码仍可使用。"), "success")
            return htmx.redirect(url_for("ledger.refund_list"), trigger="ledger-changed")
    return _refunds_page(status=422, form=form, failed_id=refund.id)


def _settings_page(form, *, status=200):
    return htmx.render("ledger/settings.html", "ledger/_settings_form.html", form=form, status=status, fee_schedules={
        model: fees.schedule(model) for model in fees.FEE_MODELS}, channel_rate=fees.CHANNEL_FEE_RATE, percent=fees.percent,
        promo=(fees.PROMO_RATE, fees.PROMO_FIRST_DAY, fees.PROMO_LAST_DAY), **_common())


@bp.get("/settings")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def settings():
    return _settings_page(forms.LedgerSettingsForm(obj=service.get_settings(tenancy.current().organization.id)))


@bp.post("/settings")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def settings_post():
    form = forms.LedgerSettingsForm()
    if form.validate_on_submit():
        org_id = tenancy.current().organization.id
        before = service.settings_snapshot(service.get_settings(org_id))
        try:
            row = service.update_settings(org_id, settlement_basis=form.settlement_basis.data, settlement_days=form.settlement_days.data,
                                          refund_window_days=form.refund_window_days.data, refund_auto_audit=form.refund_auto_audit.data,
                                          fee_model=form.fee_model.data, actor=_actor(), now=clock.now())
        except service.LedgerError as error:
            getattr(form, error.field or "settlement_days").errors.append(str(error))
        else:
            db.session.commit()
            changes = service.settings_changes(before, row, now=clock.now())
            flash(" ".join([_("结算与退款设置已保存。")] + (changes or [_("内容没有变化。")])), "success")
            return htmx.redirect(url_for("ledger.settings"))
    return _settings_page(form, status=422)


def _reconciliation_page(form, *, status=200, error=None):
    ctx = _common()
    ctx["runs"] = list(db.session.scalars(tenancy.query(Reconciliation).order_by(Reconciliation.bill_date.desc()).limit(30)))
    return htmx.render("ledger/reconciliation.html", "ledger/_reconcile_form.html", form=form, status=status, error=error, **ctx)


@bp.get("/reconciliation")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def reconciliation():
    # Douyin's bill for a day is complete the day after: yesterday is the first day worth comparing.
    return _reconciliation_page(forms.ReconcileForm(bill_date=clock.today_local() - timedelta(days=1)))


@bp.post("/reconciliation")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def reconciliation_run():
    from portal.onboarding.connection import NotConnected, client_for

    form = forms.ReconcileForm()
    if not form.validate_on_submit():
        return _reconciliation_page(form, status=422)
    org_id = tenancy.current().organization.id
    try:
        run = reconcile.reconcile(org_id, form.bill_date.data, client=client_for(org_id), now=clock.now())
    except NotConnected as error:
        return _reconciliation_page(form, status=422, error=str(error))
    db.session.commit()
    if run.status == "error":
        return _reconciliation_page(form, status=502, error=run.error)
    if run.status == "matched":
        flash(_("%(day)s 对账完成：与抖音账单一致。", day=run.bill_date), "success")
    else:
        flash(_("%(day)s 对账完成：有 %(n)s 处差异，见下方列表。", day=run.bill_date, n=len(run.differences)), "warning")
    return htmx.redirect(url_for("ledger.reconciliation"))
