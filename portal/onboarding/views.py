"""The 抖音推广 app center and the five-step onboarding wizard.

Every view: owner or HQ admin only (403 otherwise), data through the tenancy guard, one
service call, one commit. A form error is a 422 with the message next to its field; Douyin
being down is a clear message with 重试 (503 for a full page, 200 for an htmx swap, which
htmx only swaps on 2xx/422), never a 500.
"""

from __future__ import annotations

from datetime import timedelta

import hmac
import secrets

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, session, url_for
from flask_login import current_user

from portal import clock, htmx, vault
from portal.accounts import tenancy
from portal.accounts.models import Role, Store
from portal.extensions import db
from portal.i18n import gettext as _
from portal.onboarding import connection, forms, licence, service, steps, workdays
from portal.onboarding.models import DouyinApp, MiniappReviewStatus
from portal.security import external_url

bp = Blueprint("onboarding", __name__, url_prefix="/onboarding")
ADMINS = (Role.OWNER, Role.HQ_ADMIN)
PAGES = {1: "prepare", 2: "payment", 3: "products", 4: "trade", 5: "review"}
REVIEW_POLL_MIN_INTERVAL = timedelta(seconds=3)
# The session key of the pending authorization's state (去授权 → Douyin → back).
AUTH_STATE = "onboarding_auth_state"


# --- helpers -------------------------------------------------------------------------------


def _app() -> DouyinApp | None:
    return db.session.execute(tenancy.query(DouyinApp)).scalar_one_or_none()


def _app_or_blocked() -> DouyinApp:
    """The organization's app; a POST before 抖音推广 was ever switched on is a 404."""
    app = _app()
    if app is None:
        abort(404)
    return app


def _step_context(number: int, app: DouyinApp | None) -> dict:
    """What every wizard page shows: the rail and the page's own forms, prefilled, unbound."""
    org = tenancy.current().organization
    states = service.progress(org)
    ctx = {"app": app, "steps": states, "step": states[number - 1], "number": number, "down": None,
           "status_labels": steps.STATUS_LABELS}
    if number == 1:
        ctx.update(
            subject_mismatch=service.subject_differs(app),
            miniapp_form=forms.ActionForm(formdata=None),
            account_form=forms.AccountForm(formdata=None, laike_account_id=app.laike_account_id if app else None),
            licence_form=forms.LicenceForm(formdata=None),
            watermark_form=forms.ActionForm(formdata=None),
            # Douyin's registered subject stands in until the merchant saves one.
            subject_form=forms.LicenceSubjectForm(formdata=None, subject=(app.licence_subject or app.douyin_subject) if app else None,
                                                  kind=(app.licence_kind if app else None) or "enterprise",
                                                  operator=app.licence_operator if app else None),
        )
    elif number == 2:
        ctx.update(
            secret_form=forms.SecretForm(formdata=None),
            status_form=forms.PaymentStatusForm(formdata=None, merchant_id=(app.payment_merchant_uid or app.merchant_uid) if app else None),
            payment_form=forms.PaymentForm(formdata=None, merchant_uid=(app.merchant_uid or app.payment_merchant_uid) if app else None),
            payment_labels=steps.PAYMENT_LABELS,
            masked_secret=_masked(app),
        )
    elif number == 3:
        stores = tenancy.stores()
        ctx.update(
            stores=stores,
            store_forms={
                s.id: forms.StoreForm(formdata=None, prefix=f"store-{s.id}", douyin_account_id=s.douyin_account_id or (app.laike_account_id if app else None), douyin_poi_id=s.douyin_poi_id)
                for s in stores
            },
            shelf_form=forms.ShelfBlockForm(formdata=None, data=(app.shelf_block_answers if app else None) or {}),
            facts=service.gather_facts(org),
        )
    elif number == 4:
        ctx.update(
            keys_form=forms.ActionForm(formdata=None),
            platform_form=forms.PlatformKeyForm(formdata=None, platform_public_key=app.platform_public_key_pem if app else None, key_version=(app.key_version if app else None) or "1"),
            reconnect_form=forms.ActionForm(formdata=None),
            ka_form=forms.KaForm(formdata=None, confirmed=bool(app and app.ka_confirmed_at)),
            callback_urls=connection.callback_urls(app) if app else None,
        )
    elif number == 5:
        review = service.latest_review(org.id)
        ctx.update(_review_context(review))
        ctx.update(
            preflight=steps.preflight(states),
            preview_form=forms.ActionForm(formdata=None),
            problems=None,
            candidate=None,
            submit_form=forms.SubmitForm(formdata=None),
            full_shelf_form=forms.FullShelfForm(formdata=None, data=(app.full_shelf_answers if app else None) or {}),
            test_order=service.test_order(org.id),
        )
    return ctx


def _review_context(review) -> dict:
    window = workdays.expected_decision(review.submitted_at) if review else None
    return {"review": review, "expected": window, "review_statuses": MiniappReviewStatus, "poll_error": None}


def _masked(app: DouyinApp | None) -> str:
    if app is None or not app.app_secret_enc:
        return ""
    return vault.mask(vault.decrypt(app.app_secret_enc))


def _render(number: int, partial: str | None = None, *, status: int = 200, **overrides):
    ctx = _step_context(number, _app())
    ctx.update(overrides)
    page = f"onboarding/{PAGES[number]}.html"
    return htmx.render(page, f"onboarding/{partial}.html" if partial else None, status=status, **ctx)


def _down_status() -> int:
    return 200 if htmx.is_partial() else 503


def _attach(form, error: service.OnboardingError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(error)]
    else:
        form.form_errors.append(str(error))


def _submit(number: int, name: str, form, partial: str, action, *, done: str, overrides: dict | None = None):
    """Validate, call the service, commit once, redirect to the step; or show what went wrong.

    `name` is the form's name in the page context (also where a Douyin outage is shown);
    `action` may return a callable to run after the commit (e.g. removing a replaced file).
    """
    overrides = overrides or {name: form}
    if not form.validate_on_submit():
        return _render(number, partial, status=422, **overrides)
    try:
        after = action()
    except service.DouyinDown as error:
        db.session.rollback()
        return _render(number, partial, status=_down_status(), down=(name, str(error)), **overrides)
    except service.OnboardingError as error:
        db.session.rollback()
        _attach(form, error)
        return _render(number, partial, status=422, **overrides)
    db.session.commit()
    if callable(after):
        after()
    flash(done, "success")
    return htmx.redirect(url_for(f"onboarding.{PAGES[number]}"))


def _who():
    return {"actor": current_user, "now": clock.now()}


# --- app center and overview -------------------------------------------------------------------


@bp.get("/")
@tenancy.require(*ADMINS)
def index():
    org = tenancy.current().organization
    states = service.progress(org)
    return htmx.render(
        "onboarding/index.html", steps=states, next_step=steps.next_step(states), app=_app(),
        status_labels=steps.STATUS_LABELS, number=None,
    )


def _apps_page(status=200, error=None):
    org = tenancy.current().organization
    return htmx.render(
        "onboarding/apps.html", "onboarding/_app_card.html", status=status, app=_app(), org=org,
        edition_ok=service.edition_allows(org), toggle_form=forms.ActionForm(formdata=None), error=error,
    )


@bp.get("/apps")
@tenancy.require(*ADMINS)
def apps():
    return _apps_page()


@bp.post("/apps/douyin/enable")
@tenancy.require(*ADMINS)
def enable():
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    try:
        service.enable_app(tenancy.current().organization, **_who())
    except service.OnboardingError as error:
        db.session.rollback()
        return _apps_page(status=422, error=str(error))
    db.session.commit()
    flash(_("已开启抖音推广，请按步骤完成接入"), "success")
    return htmx.redirect(url_for("onboarding.index"))


@bp.post("/apps/douyin/disable")
@tenancy.require(*ADMINS)
def disable():
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    service.disable_app(tenancy.current().organization, **_who())
    db.session.commit()
    flash(_("已关闭抖音推广，已填写的资料都会保留"), "info")
    return htmx.redirect(url_for("onboarding.apps"))


# --- step 1 -----------------------------------------------------------------------------------


@bp.get("/prepare")
@tenancy.require(*ADMINS)
def prepare():
    return _render(1)


@bp.get("/prepare/authorize")
@tenancy.require(*ADMINS)
def authorize():
    """去授权: off to Douyin's authorization page, with a one-time state that the way back must show.

    A link, not a form: the page's CSP (form-action 'self') stops a form from being redirected to
    Douyin. Nothing is stored but the state in the session."""
    app, form = _app_or_blocked(), forms.ActionForm(formdata=None)
    state = secrets.token_urlsafe(16)
    try:
        link = service.authorization_link(app, redirect_uri=external_url("onboarding.authorized", state=state))
    except service.DouyinDown as error:
        return _render(1, status=503, down=("miniapp_form", str(error)), miniapp_form=form)
    except service.OnboardingError as error:
        _attach(form, error)
        return _render(1, status=422, miniapp_form=form)
    session[AUTH_STATE] = state
    return redirect(link, 303)


@bp.get("/prepare/authorized")
@tenancy.require(*ADMINS)
def authorized():
    """Douyin's way back from the authorization page, with the authorization code."""
    app, form = _app_or_blocked(), forms.ActionForm(formdata=None)
    expected = session.pop(AUTH_STATE, None)
    if not expected or not hmac.compare_digest(expected, request.args.get("state", "")):
        _attach(form, service.OnboardingError(_("授权已过期或不是从本页发起的，请重新点击「去授权」")))
        return _render(1, status=422, miniapp_form=form)
    try:
        service.complete_authorization(app, request.args.get("authorization_code", ""), **_who())
    except service.DouyinDown as error:
        db.session.rollback()
        return _render(1, status=503, down=("miniapp_form", str(error)), miniapp_form=form)
    except service.OnboardingError as error:
        db.session.rollback()
        _attach(form, error)
        return _render(1, status=422, miniapp_form=form)
    db.session.commit()
    flash(_("小程序已授权"), "success")
    return redirect(url_for("onboarding.prepare"), 303)


@bp.post("/prepare/account")
@tenancy.require(*ADMINS)
def account():
    app, form = _app_or_blocked(), forms.AccountForm()
    return _submit(1, "account_form", form, "_account_form",
                   lambda: service.bind_laike_account(app, form.laike_account_id.data, **_who()) and None,
                   done=_("来客账号已保存"))


@bp.post("/prepare/licence")
@tenancy.require(*ADMINS)
def upload_licence():
    app, form = _app_or_blocked(), forms.LicenceForm()
    root = current_app.instance_path

    def action():
        data = form.licence.data.read(licence.MAX_BYTES + 1)
        old = service.upload_licence(app, data, watermark=form.watermark.data, instance_path=root, **_who())
        return lambda: licence.discard(root, old)

    return _submit(1, "licence_form", form, "_licence_form", action, done=_("营业执照已上传"))


@bp.post("/prepare/licence/subject")
@tenancy.require(*ADMINS)
def licence_subject():
    app, form = _app_or_blocked(), forms.LicenceSubjectForm()
    return _submit(1, "subject_form", form, "_licence_subject_form",
                   lambda: service.save_licence_subject(app, subject=form.subject.data, kind=form.kind.data,
                                                        operator=form.operator.data or "", **_who()),
                   done=_("营业执照主体已保存"))


@bp.post("/prepare/licence/watermark")
@tenancy.require(*ADMINS)
def watermark():
    app, root = _app_or_blocked(), current_app.instance_path

    def action():
        old = service.watermark_licence(app, instance_path=root, **_who())
        return lambda: licence.discard(root, old)

    return _submit(1, "watermark_form", forms.ActionForm(), "_licence_form", action, done=_("已加盖水印"))


@bp.get("/licence/<int:app_id>")
@tenancy.require(*ADMINS)
def licence_file(app_id):
    app = tenancy.get_or_404(DouyinApp, app_id)
    if not app.licence_path:
        abort(404)
    try:
        path = licence.resolve(current_app.instance_path, app.licence_path)
    except licence.LicenceInvalid:
        abort(404)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=licence.FORMATS[app.licence_format][1], max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- step 2 -----------------------------------------------------------------------------------


@bp.get("/payment")
@tenancy.require(*ADMINS)
def payment():
    return _render(2)


@bp.post("/payment/secret")
@tenancy.require(*ADMINS)
def secret():
    app, form = _app_or_blocked(), forms.SecretForm()
    return _submit(2, "secret_form", form, "_secret_form",
                   lambda: service.save_app_secret(app, form.app_secret.data, **_who()), done=_("AppSecret 校验通过并已加密保存"))


@bp.post("/payment/status")
@tenancy.require(*ADMINS)
def payment_status():
    app, form = _app_or_blocked(), forms.PaymentStatusForm()
    return _submit(2, "status_form", form, "_payment_status",
                   lambda: service.refresh_payment_status(app, form.merchant_id.data, **_who()) and None, done=_("进件状态已刷新"))


@bp.post("/payment/settings")
@tenancy.require(*ADMINS)
def payment_settings():
    app, form = _app_or_blocked(), forms.PaymentForm()
    return _submit(2, "payment_form", form, "_payment_form",
                   lambda: service.save_payment_settings(app, salt=form.salt.data, token=form.token.data, merchant_uid=form.merchant_uid.data, **_who()),
                   done=_("支付设置已保存"))


# --- step 3 -----------------------------------------------------------------------------------


@bp.get("/products")
@tenancy.require(*ADMINS)
def products():
    return _render(3)


@bp.post("/products/stores/<int:store_id>")
@tenancy.require(*ADMINS)
def authorize_store(store_id):
    store = tenancy.get_or_404(Store, store_id)
    app, form = _app_or_blocked(), forms.StoreForm(prefix=f"store-{store_id}")
    store_forms = {**_step_context(3, app)["store_forms"], store.id: form}
    return _submit(3, f"store-{store.id}", form, "_stores", lambda: service.authorize_store(
        app, store, account_id=form.douyin_account_id.data, poi_id=form.douyin_poi_id.data, **_who()),
        done=_("门店「%(name)s」已授权", name=store.name), overrides={"store_forms": store_forms})


@bp.post("/products/shelf-block")
@tenancy.require(*ADMINS)
def shelf_block():
    app, form = _app_or_blocked(), forms.ShelfBlockForm()
    return _submit(3, "shelf_form", form, "_shelf_block_form",
                   lambda: service.confirm_shelf_block(app, form.data, **_who()), done=_("问卷已确认"))


# --- step 4 -----------------------------------------------------------------------------------


@bp.get("/trade")
@tenancy.require(*ADMINS)
def trade():
    return _render(4)


@bp.post("/trade/keys")
@tenancy.require(*ADMINS)
def generate_keys():
    app = _app_or_blocked()
    return _submit(4, "keys_form", forms.ActionForm(), "_keys",
                   lambda: service.generate_app_keys(app, **_who()), done=_("已生成新的应用密钥，请把公钥填到抖音开发者后台后重新接入"))


@bp.post("/trade/connect")
@tenancy.require(*ADMINS)
def connect():
    app, form = _app_or_blocked(), forms.PlatformKeyForm()
    return _submit(4, "platform_form", form, "_platform_key_form",
                   lambda: service.connect_trade(app, form.platform_public_key.data, form.key_version.data, **_who()),
                   done=_("交易系统已接入，签名测试通过"))


@bp.post("/trade/ka")
@tenancy.require(*ADMINS)
def ka():
    app, form = _app_or_blocked(), forms.KaForm()
    return _submit(4, "ka_form", form, "_ka_form",
                   lambda: service.confirm_ka(app, form.confirmed.data, **_who()), done=_("已确认【KA】三方码能力包"))


# --- step 5 -----------------------------------------------------------------------------------


@bp.get("/review")
@tenancy.require(*ADMINS)
def review():
    return _render(5)


@bp.post("/review/preview")
@tenancy.require(*ADMINS)
def preview():
    app, form = _app_or_blocked(), forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        candidate = service.preview_check(app)
    except service.DouyinDown as error:
        return _render(5, "_preview", status=_down_status(), down=("preview_form", str(error)))
    except service.OnboardingError as error:
        form.form_errors.append(str(error))
        return _render(5, "_preview", status=422, preview_form=form)
    db.session.commit()  # keeps an authorizer token the check may have refreshed
    return _render(5, "_preview", problems=candidate.problems, candidate=candidate)


@bp.post("/review/submit")
@tenancy.require(*ADMINS)
def submit():
    app, form = _app_or_blocked(), forms.SubmitForm()
    return _submit(5, "submit_form", form, "_review",
                   lambda: service.submit_for_review(app, description=form.description.data, **_who()) and None,
                   done=_("已提交审核"))


@bp.get("/review/status")
@tenancy.require(*ADMINS)
def review_status():
    """The self-polling review partial: asks Douyin while the review runs, stops once decided."""
    org = tenancy.current().organization
    current = service.latest_review(org.id)
    poll_error = None
    if current is not None and current.status == MiniappReviewStatus.REVIEWING:
        try:
            service.refresh_review(current, now=clock.now(), min_interval=REVIEW_POLL_MIN_INTERVAL)
            db.session.commit()
        except service.OnboardingError as error:
            db.session.rollback()
            poll_error = str(error)
    return _render(5, "_review", oob_rail=True, poll_error=poll_error)


@bp.post("/review/full-shelf")
@tenancy.require(*ADMINS)
def full_shelf():
    app, form = _app_or_blocked(), forms.FullShelfForm()
    return _submit(5, "full_shelf_form", form, "_review",
                   lambda: service.confirm_full_shelf(app, form.data, **_who()), done=_("验收问卷已确认，POI货架可全量展示"))
