"""Operator pages for the deposit (保证金): the category table (required deposit per category),
and per merchant its category and deductions for compensation (赔付). Every change is audited
by the ledger's deposit services."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user

from portal import clock, htmx, money
from portal.accounts import tenancy
from portal.admin import forms
from portal.admin.views import bp, merchant_page, org_or_404
from portal.extensions import db
from portal.i18n import gettext as _
from portal.ledger import deposits
from portal.ledger import service as ledger_service


def context(org, **overrides) -> dict:
    """What the merchant page shows about the deposit; `overrides` replace the blank forms."""
    status = deposits.status(org.id)
    ctx = {
        "deposit_status": status,
        "deposit_rows": deposits.recent(org.id),
        "deposit_kinds": ledger_service.DEPOSIT_KINDS,
        "category_form": forms.MerchantCategoryForm(formdata=None, category=status.category),
        "deduction_form": forms.DeductionForm(formdata=None),
        "return_form": forms.ReturnForm(formdata=None, prefix="return"),
    }
    ctx.update(overrides)
    return ctx


@bp.post("/merchants/<int:org_id>/deposit/category")
@tenancy.operator_required
def deposit_category(org_id):
    org = org_or_404(org_id)
    form = forms.MerchantCategoryForm()
    if form.validate_on_submit():
        try:
            deposits.set_merchant_category(org.id, form.category.data, actor=current_user, now=clock.now())
        except deposits.DepositError as error:
            db.session.rollback()
            form.category.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("经营类目已设为「%(label)s」，应缴保证金随之更新。", label=deposits.CATEGORY_LABELS[form.category.data]), "success")
            return htmx.redirect(url_for("admin.merchant", org_id=org.id))
    return merchant_page(org, status=422, category_form=form)


@bp.post("/merchants/<int:org_id>/deposit/deduct")
@tenancy.operator_required
def deposit_deduct(org_id):
    org = org_or_404(org_id)
    form = forms.DeductionForm()
    if form.validate_on_submit():
        try:
            amount = money.parse_yuan(form.amount.data)
            deposits.deduct_for_compensation(org.id, order_no=form.order_no.data, amount_fen=amount, reason=form.reason.data,
                                             reference=form.reference.data or "", actor=current_user, now=clock.now())
        except money.MoneyError as error:
            form.amount.errors.append(str(error))
        except deposits.DepositError as error:
            db.session.rollback()
            getattr(form, error.field or "amount").errors.append(str(error))
        else:
            db.session.commit()
            flash(_("已从保证金扣除 %(amount)s 用于赔付，商家已收到通知。", amount=money.format_fen(amount)), "success")
            return htmx.redirect(url_for("admin.merchant", org_id=org.id))
    return merchant_page(org, status=422, deduction_form=form)


@bp.post("/merchants/<int:org_id>/deposit/return")
@tenancy.operator_required
def deposit_return(org_id):
    org = org_or_404(org_id)
    form = forms.ReturnForm(prefix="return")
    if form.validate_on_submit():
        try:
            amount = money.parse_yuan(form.amount.data) if (form.amount.data or "").strip() else None
            txn = deposits.return_deposit(org.id, leaving=form.mode.data == deposits.RETURN_LEAVING, amount_fen=amount, reason=form.reason.data,
                                          reference=form.reference.data or "", actor=current_user, now=clock.now())
        except money.MoneyError as error:
            form.amount.errors.append(str(error))
        except deposits.DepositError as error:
            db.session.rollback()
            getattr(form, error.field or "amount").errors.append(str(error))
        else:
            db.session.commit()
            if txn is not None:
                flash(_("已退还保证金 %(amount)s，商家已收到通知。", amount=money.format_fen(deposits.returned_by(txn))), "success")
            return htmx.redirect(url_for("admin.merchant", org_id=org.id))
    return merchant_page(org, status=422, return_form=form)


def _requirements_page(*, status=200, errors=None, values=None):
    return htmx.render("admin/deposits.html", None, status=status, rows=deposits.requirements(), errors=errors or {},
                       values=values or {}, form=forms.RequirementForm(formdata=None))


@bp.get("/deposits")
@tenancy.operator_required
def deposit_requirements():
    return _requirements_page()


@bp.post("/deposits/<category>")
@tenancy.operator_required
def deposit_requirement(category):
    if category not in deposits.DEFAULT_FEN:
        abort(404)
    form = forms.RequirementForm()
    if form.validate_on_submit():
        try:
            amount = money.parse_yuan(form.amount.data, allow_zero=True)
            deposits.set_requirement(category, amount, actor=current_user, now=clock.now())
        except (money.MoneyError, deposits.DepositError) as error:
            db.session.rollback()
            return _requirements_page(status=422, errors={category: str(error)}, values={category: form.amount.data or ""})
        db.session.commit()
        flash(_("「%(label)s」的应缴保证金已改为 %(amount)s。", label=deposits.CATEGORY_LABELS[category], amount=money.format_fen(amount)), "success")
        return htmx.redirect(url_for("admin.deposit_requirements"))
    return _requirements_page(status=422, errors={category: _("请输入金额")}, values={category: ""})
