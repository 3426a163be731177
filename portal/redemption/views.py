"""核销台 (the phone counter) and the owner's rules, review queue and daily exports."""

from __future__ import annotations

import io
import json
import secrets
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal import clock, htmx
from portal.accounts import tenancy
from portal.accounts.models import Store
from portal.extensions import db
from portal.forms import options
from portal.i18n import gettext as _
from portal.orders.models import Voucher
from portal.redemption import export, service
from portal.redemption import rules as anomaly
from portal.redemption.forms import ActionForm, ExportForm, LookupForm, ReviewForm, RulesForm, UndoForm, lookup_code, redeem_fields
from portal.redemption.models import ExportFile, RedemptionAttempt, ReviewCase, ReviewStatus

bp = Blueprint("redemption", __name__, url_prefix="/counter")

PANEL = "redemption/_panel.html"
COUNTER = "redemption/counter.html"
# Who may call buyers back (settings' call-back list): they see full phones in the 待跟进 sheet.
CALLERS = tenancy.MANAGERS


@bp.context_processor
def _customer_code():
    from portal.settings import counter_card

    return {"customer_code": service.customer_code, "counter_card": counter_card.for_voucher}


def _store(raw=None) -> Store:
    """The counter's store: a store-scoped role's own; an admin's choice (or the first store)."""
    tenant = tenancy.current()
    if tenant.store_ids is not None:
        return db.session.get(Store, next(iter(tenant.store_ids)))
    raw = raw if raw is not None else request.values.get("store_id")
    if raw:
        return tenancy.get_or_404(Store, raw)
    stores = tenancy.stores()
    if not stores:
        abort(404)
    return stores[0]


def _counter(state: str | None = None, *, status: int = 200, **context):
    store = context.pop("store", None) or _store()
    stores = []  # the swapped panel needs neither the store list nor the lookup form
    if not htmx.is_partial():
        context.setdefault("form", LookupForm(formdata=None, store_id=store.id))
        stores = tenancy.stores()
    return htmx.render(COUNTER, PANEL, status=status, state=state, store=store, stores=stores, **context)


@bp.get("/")
@tenancy.require(*tenancy.STAFF)
def index():
    return _counter()


@bp.get("/manifest.webmanifest")
def manifest():
    """The web-app manifest that lets a clerk add the counter to the phone's home screen. Public:
    browsers fetch a manifest without cookies; it names nothing of any merchant."""
    icon = lambda name, size, purpose="any": {  # noqa: E731
        "src": url_for("static", filename=f"img/{name}"), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
    body = {
        "name": _("核销台 · 抖音门店系统"),
        "short_name": _("核销台"),
        "description": _("扫码或输入券码，确认核销。"),
        "lang": "en" if str(get_locale()) == "en" else "zh-CN",
        "id": url_for("redemption.index"),
        "start_url": url_for("redemption.index"),
        "scope": url_for("redemption.index"),
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f5f6f8",
        "theme_color": "#161823",
        "icons": [icon("counter-192.png", 192), icon("counter-512.png", 512), icon("counter-maskable-512.png", 512, "maskable")],
    }
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.cache_control.max_age = 3600
    return response


@bp.post("/lookup")
@tenancy.require(*tenancy.STAFF)
def lookup():
    form, code = None, lookup_code(request.form)
    if not htmx.is_partial():  # the whole page shows the form again, with its errors
        form = LookupForm()
        code = form.code.data if form.validate() else None
    store = _store(request.form.get("store_id") or None)
    if code is None:
        return _counter("invalid", status=422, form=form, store=store)
    found = service.lookup(store, code, actor=current_user, now=clock.now())
    # Rendered before the commit expires the objects it shows (nothing to read back); the commit
    # keeps a refused code's logged attempt.
    if isinstance(found, service.Preview):
        confirm = {"code": found.code, "nonce": secrets.token_urlsafe(16), "store_id": store.id}
        response = _counter("preview", form=form, store=store, preview=found, confirm=confirm)
    else:
        response = _counter("result", form=form, store=store, result=found)
    db.session.commit()
    return response


@bp.post("/redeem")
@tenancy.require(*tenancy.STAFF)
def redeem():
    fields = redeem_fields(request.form)
    store = _store(request.form.get("store_id") or None)
    if fields is None:
        return _counter("invalid", status=422, store=store)
    code, nonce = fields
    result = service.redeem(store, code, nonce=nonce, actor=current_user, now=clock.now())
    undo = _undo_context(result.voucher) if result.ok else None
    # Rendered from the transaction's own objects, before the commit expires them (nothing to
    # read back); a failed commit raises and the page is not sent.
    response = _counter("result", store=store, result=result, undo=undo)
    db.session.commit()
    return response


def _undo_context(voucher: Voucher | None):
    if voucher is None:
        return None
    state = service.undo_state(voucher, clock.now())
    return {"state": state, "minutes": (state.seconds_left + 59) // 60}


def _my_voucher(voucher_id) -> Voucher:
    """A voucher redeemed at one of the actor's stores (clerks: their own store only)."""
    return tenancy.get_or_404(Voucher, voucher_id, store_column="redeemed_store_id")


@bp.post("/vouchers/<int:voucher_id>/undo")
@tenancy.require(*tenancy.STAFF)
def undo(voucher_id: int):
    voucher = _my_voucher(voucher_id)
    store = db.session.get(Store, voucher.redeemed_store_id) if voucher.redeemed_store_id else _store()
    if not UndoForm().validate_on_submit():
        abort(400)
    # The counter's panel swaps in the answer; the history page's button (a plain form) goes back
    # to the list with it, so a reload sends nothing again.
    try:
        service.undo(voucher, actor=current_user, now=clock.now())
    except service.RedemptionError as error:
        db.session.rollback()
        if not htmx.is_partial():
            flash(_("不能撤销：%(why)s", why=str(error)), "danger")
            return redirect(url_for("redemption.history"), code=303)
        return _counter("undo_refused", status=422, store=store, error=str(error), voucher=voucher, undo=_undo_context(voucher))
    db.session.commit()
    if not htmx.is_partial():
        flash(_("已撤销核销。券码 %(code)s 已恢复为未使用", code=voucher.code), "success")
        return redirect(url_for("redemption.history"), code=303)
    return _counter("undone", store=store, voucher=voucher)


@bp.get("/history")
@tenancy.require(*tenancy.STAFF)
def history():
    now = clock.now()
    stmt = (
        tenancy.query(RedemptionAttempt)
        .where(RedemptionAttempt.at >= now - timedelta(days=1))
        .options(joinedload(RedemptionAttempt.user), joinedload(RedemptionAttempt.store), joinedload(RedemptionAttempt.voucher))
        .order_by(RedemptionAttempt.at.desc(), RedemptionAttempt.id.desc())
        .limit(200)
    )
    attempts = list(db.session.scalars(stmt))
    return htmx.render(
        "redemption/history.html",
        "redemption/_history_rows.html",
        attempts=attempts,
        cases=service.cases_of(attempts),
        now=now,
        undo_state=service.undo_state,
        undo_form=UndoForm(formdata=None),
        reason_text=service.REASON_TEXT,
    )


# --- owner: rules, reviews, exports -------------------------------------------------------------


def _rules_page(form: RulesForm, *, status: int = 200):
    tenant = tenancy.current()
    now = clock.now()
    settings = anomaly.get_settings(tenant.organization.id)
    failed = form.max_failed_per_product_day.data if form.max_failed_per_product_day.data and not form.errors else settings.max_failed_per_product_day
    phone = form.max_redemptions_per_phone_24h.data if form.max_redemptions_per_phone_24h.data and not form.errors else settings.max_redemptions_per_phone_24h
    previewing = request.method == "GET" and (failed, phone) != (settings.max_failed_per_product_day, settings.max_redemptions_per_phone_24h)
    caught = anomaly.would_have_caught(tenant.organization.id, max_failed=failed, max_phone=phone, now=now)
    paused = anomaly.paused_products(tenant.organization.id)
    return htmx.render(
        "redemption/rules.html",
        "redemption/_rules_form.html" if request.method == "POST" else None,
        status=status,
        form=form,
        settings=settings,
        caught=caught,
        paused=paused,
        thresholds=(failed, phone),
        previewing=previewing,
        action_form=ActionForm(formdata=None),
    )


@bp.route("/rules", methods=["GET", "POST"])
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def rules():
    org_id = tenancy.current().organization.id
    settings = anomaly.get_settings(org_id)
    if request.method == "GET":
        form = RulesForm(formdata=None, obj=settings)
        if "max_failed_per_product_day" in request.args:  # "what would these thresholds have caught?"
            form = RulesForm(formdata=request.args, meta={"csrf": False})
            form.validate()
        return _rules_page(form)
    form = RulesForm()
    if not form.validate_on_submit():
        return _rules_page(form, status=422)
    try:
        anomaly.save_settings(
            org_id,
            max_failed_per_product_day=form.max_failed_per_product_day.data,
            max_redemptions_per_phone_24h=form.max_redemptions_per_phone_24h.data,
            actor=current_user,
            now=clock.now(),
        )
    except anomaly.RuleError as error:
        getattr(form, error.field).errors.append(str(error))
        return _rules_page(form, status=422)
    db.session.commit()
    flash(_("异常规则已保存，从现在起的核销按新阈值判断；已暂停的商品不受影响，需要时请手动恢复。"), "success")
    return htmx.redirect(url_for("redemption.rules"))


@bp.post("/rules/products/<int:product_id>/resume")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def resume(product_id: int):
    product = anomaly.find_product(tenancy.current().organization.id, product_id)
    if product is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        anomaly.resume_product(product, actor=current_user, now=clock.now())
    except anomaly.RuleError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        db.session.commit()
        flash(_("%(name)s 已恢复销售。", name=product.name), "success")
    return htmx.redirect(url_for("redemption.rules"))


@bp.get("/reviews")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def reviews():
    cases = list(
        db.session.scalars(
            tenancy.query(ReviewCase, store_column="")
            .options(joinedload(ReviewCase.voucher).joinedload(Voucher.item), joinedload(ReviewCase.voucher).joinedload(Voucher.order),
                     joinedload(ReviewCase.store), joinedload(ReviewCase.requested_by))
            .order_by((ReviewCase.status == ReviewStatus.OPEN).desc(), ReviewCase.created_at.desc())
            .limit(200)
        )
    )
    contexts = anomaly.case_contexts(case for case in cases if case.status == ReviewStatus.OPEN)  # what an open card explains
    return htmx.render("redemption/reviews.html", None, cases=cases, form_for=lambda case: ReviewForm(formdata=None, prefix=f"case{case.id}"),
                       context_for=lambda case: contexts[case.id])


@bp.post("/reviews/<int:case_id>")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def decide(case_id: int):
    case = tenancy.get_or_404(ReviewCase, case_id, store_column="")
    form = ReviewForm(prefix=f"case{case.id}")
    if not form.validate_on_submit():
        return htmx.render("redemption/_review_case.html", "redemption/_review_case.html", status=422, case=case, form=form,
                           context_for=anomaly.case_context)
    try:
        result = service.decide_case(case, approve=form.decision.data == "approve", note=form.note.data or "", actor=current_user, now=clock.now())
    except service.RedemptionError as error:
        db.session.rollback()
        form.note.errors.append(str(error))
        return htmx.render("redemption/_review_case.html", "redemption/_review_case.html", status=422, case=case, form=form,
                           context_for=anomaly.case_context)
    db.session.commit()
    if form.decision.data != "approve":
        flash(_("已驳回：这次没有核销，券码仍未使用。"), "success")
    elif result is None:
        flash(_("已通过：请顾客重新出示抖音券码，店员扫码即可核销。"), "success")
    elif result.ok:
        flash(_("已通过：券码已核销，款项按结算规则入账。"), "success")
    else:
        flash(_("已通过，但没能核销：%(why)s", why=result.message), "warning")
    return htmx.redirect(url_for("redemption.reviews"))


def _export_form(formdata=None) -> ExportForm:
    form = ExportForm(formdata=formdata) if formdata is not None else ExportForm(formdata=None, day=export.previous_day(clock.now()))
    form.store_id.choices = options((s.id, s.name) for s in tenancy.stores())
    return form


def _exports_page(form: ExportForm, status: int = 200):
    files = list(
        db.session.scalars(tenancy.query(ExportFile).options(joinedload(ExportFile.store)).order_by(ExportFile.day.desc(), ExportFile.store_id).limit(120))
    )
    return htmx.render("redemption/exports.html", "redemption/_export_form.html" if request.method == "POST" else None, status=status, form=form, files=files)


@bp.route("/exports", methods=["GET", "POST"])
@tenancy.require(*tenancy.MANAGERS)
def exports():
    if request.method == "GET":
        return _exports_page(_export_form())
    form = _export_form(request.form)
    if not form.validate_on_submit():
        return _exports_page(form, 422)
    store = tenancy.get_or_404(Store, form.store_id.data)
    export.export_store_day(store, form.day.data, actor=current_user, now=clock.now())
    db.session.commit()
    flash(_("%(store)s %(day)s 的核销明细已生成，可在下方下载。", store=store.name, day=form.day.data.isoformat()), "success")
    return htmx.redirect(url_for("redemption.exports"))


@bp.get("/exports/<int:export_id>/download")
@tenancy.require(*tenancy.MANAGERS)
def download(export_id: int):
    file = tenancy.get_or_404(ExportFile, export_id)
    content = export.for_reader(file, may_call=tenancy.current().role in CALLERS, actor=current_user)
    db.session.commit()  # the audit entry of the phones shown
    return send_file(
        io.BytesIO(content),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=file.filename,
    )
