"""The developer / operator console at /console/ (plain HTML forms, Chinese labels)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from . import services as sv
from .control import apply_settings
from .models import (Account, App, DeliveryAttempt, SubscriptionMessage, Order, Outbox, PackageAudit,
                     Poi, Product, Refund, Settlement, TradeBook, Withdrawal)
from .services import SandboxError
from .store import SETTINGS

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")


def store():
    return current_app.extensions["sandbox"]


def back(endpoint: str = "console.index", **kw):
    return redirect(request.form.get("next") or url_for(endpoint, **kw), code=303)


def run(fn, ok_message: str):
    """Call a service from a form post: commit and flash, or roll back and flash the error."""
    try:
        fn()
        g.db.commit()
        flash(ok_message, "ok")
    except SandboxError as exc:
        g.db.rollback()
        flash(exc.message, "error")


def all_rows(model, *order):
    return list(g.db.scalars(select(model).order_by(*(order or (model.id.desc(),)))))


@bp.get("/")
def index():
    return render_template("console/index.html", apps=all_rows(App, App.id),
                           accounts=all_rows(Account, Account.id), pois=all_rows(Poi, Poi.id),
                           pending=len(list(g.db.scalars(select(Product).where(Product.draft_status == 10)))),
                           now=store().now_ms(g.db))


@bp.post("/apps")
def create_app_():
    app_holder = {}

    def do():
        app_holder["app"] = sv.create_app(g.db, store(), request.form.get("name", "").strip() or "沙箱小程序")
    run(do, "小程序已创建")
    if "app" in app_holder:
        return redirect(url_for("console.app_detail", appid=app_holder["app"].appid), code=303)
    return back()


@bp.get("/apps/<appid>")
def app_detail(appid):
    app = sv.get_app(g.db, appid)
    audits = list(g.db.scalars(select(PackageAudit).where(PackageAudit.appid == appid)
                               .order_by(PackageAudit.id.desc())))
    return render_template("console/app.html", app=app, audits=audits,
                           accounts=all_rows(Account, Account.id),
                           problems=sv.preview_problems(g.db, app), status=sv.app_status(g.db, app),
                           balance=sv.withdrawable(g.db, app), test_version=sv.TEST_VERSION,
                           auto_approve=_delay_text(store().settings(g.db)["package_auto_approve_seconds"]))


def _delay_text(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "（已关闭自动通过）"
    return f"{seconds / 86400:g} 天" if seconds >= 86400 else f"{seconds:g} 秒"


@bp.post("/apps/<appid>/<action>")
def app_action(appid, action):
    app = sv.get_app(g.db, appid)
    f = request.form
    actions = {
        "public_key": (lambda: sv.set_app_public_key(g.db, app, f.get("pem", "")), "应用公钥已保存"),
        "urls": (lambda: (setattr(app, "trade_callback_url", f.get("trade_callback_url", "").strip() or None),
                          setattr(app, "webhook_url", f.get("webhook_url", "").strip() or None)), "回调地址已保存"),
        "bind": (lambda: sv.bind_account(g.db, app, f.get("account_id") or None), "来客账户绑定已更新"),
        "onboarding": (lambda: sv.set_onboarding(g.db, app, f.get("status", ""), f.get("reason", "")), "进件状态已更新"),
        "refund_audit": (lambda: setattr(app, "refund_needs_audit", f.get("value") == "1"), "退款审核设置已更新"),
    }
    if action not in actions:
        return "unknown action", 404
    run(*actions[action])
    return back("console.app_detail", appid=appid)


@bp.post("/audits/<audit_id>")
def audit_decide(audit_id):
    a = g.db.scalar(select(PackageAudit).where(PackageAudit.audit_id == audit_id))
    approve = request.form.get("decision") == "approve"
    run(lambda: sv.review_package(g.db, store(), a, approve, request.form.get("reason", "")),
        "小程序审核已通过" if approve else "小程序审核已驳回")
    return back("console.app_detail", appid=a.appid)


@bp.get("/accounts")
def accounts():
    return render_template("console/accounts.html", accounts=all_rows(Account, Account.id),
                           pois=all_rows(Poi, Poi.id), apps=all_rows(App, App.id))


@bp.post("/accounts")
def create_account():
    run(lambda: sv.create_account(g.db, request.form.get("account_name", "").strip()), "来客账户已创建")
    return back("console.accounts")


@bp.post("/pois")
def create_poi():
    f = request.form
    run(lambda: sv.create_poi(g.db, f.get("account_id", ""), f.get("poi_name", "").strip(),
                              f.get("address", "").strip()), "门店已创建")
    return back("console.accounts")


@bp.get("/products")
def products():
    rows = all_rows(Product)
    return render_template("console/products.html", pending=[r for r in rows if r.draft_status == 10],
                           rows=rows)


@bp.post("/products/<product_id>")
def product_decide(product_id):
    row = g.db.scalar(select(Product).where(Product.product_id == product_id))
    approve = request.form.get("decision") == "approve"
    run(lambda: sv.review_product(g.db, store(), row, approve, request.form.get("reason", "")),
        "商品审核已通过" if approve else "商品已驳回")
    return back("console.products")


@bp.get("/orders")
def orders():
    return render_template("console/orders.html", orders=all_rows(Order),
                           bookings=all_rows(TradeBook))


@bp.get("/refunds")
def refunds():
    return render_template("console/refunds.html", refunds=all_rows(Refund))


@bp.get("/settlements")
def settlements():
    ledger = []
    for acc in all_rows(Account, Account.id):
        ledger.extend(sv.ledger_entries(g.db, store(), acc.account_id))
    return render_template("console/settlements.html", settlements=all_rows(Settlement), ledger=ledger)


@bp.get("/messages")
def messages():
    return render_template("console/messages.html", messages=all_rows(SubscriptionMessage))


@bp.get("/withdrawals")
def withdrawals():
    return render_template("console/withdrawals.html", withdrawals=all_rows(Withdrawal),
                           apps=all_rows(App, App.id), st=store().settings(g.db))


@bp.post("/withdrawals/<withdraw_id>")
def withdrawal_decide(withdraw_id):
    w = g.db.scalar(select(Withdrawal).where(Withdrawal.withdraw_id == withdraw_id))
    ok = request.form.get("decision") == "paid"
    run(lambda: sv.finish_withdrawal(g.db, store(), w, ok, request.form.get("reason", "")),
        "已标记打款成功" if ok else "已标记打款失败")
    return back("console.withdrawals")


@bp.get("/callbacks")
def callbacks():
    rows = list(g.db.scalars(select(Outbox).order_by(Outbox.id.desc()).limit(200)))
    attempts = {}
    for a in g.db.scalars(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_([r.id for r in rows]))
                          .order_by(DeliveryAttempt.id)):
        attempts.setdefault(a.outbox_id, []).append(a)
    return render_template("console/callbacks.html", rows=rows, attempts=attempts)


@bp.post("/callbacks/<int:outbox_id>/retry")
def callback_retry(outbox_id):
    ob = g.db.get(Outbox, outbox_id)
    if ob is not None and ob.status in ("PENDING", "FAILED"):
        ob.status = "PENDING"
        ob.next_attempt_ms = store().now_ms(g.db)
        g.db.commit()
        flash("已安排立即重发", "ok")
    return back("console.callbacks")


@bp.get("/faults")
def faults():
    return render_template("console/faults.html", st=store().settings(g.db), names=SETTINGS,
                           now=store().now_ms(g.db))


@bp.post("/faults")
def faults_save():
    data = {}
    for name, (kind, _default) in SETTINGS.items():
        if kind is bool:
            if name + "__present" in request.form:
                data[name] = name in request.form
        elif name in request.form and request.form[name] != "":
            data[name] = request.form[name]
    if request.form.get("advance_seconds"):
        data["advance_seconds"] = request.form["advance_seconds"]
    run(lambda: apply_settings(data), "设置已保存")
    return back("console.faults")
