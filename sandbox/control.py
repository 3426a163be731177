"""JSON control and setup endpoints for tests and scripts (127.0.0.1 only; sandbox-only)."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from . import callbacks, services as sv
from .models import (DeliveryAttempt, Order, Outbox, PackageAudit, Product, Withdrawal)
from .services import SandboxError
from .store import SETTINGS, coerce
from .views_util import release_session

bp = Blueprint("control", __name__, url_prefix="/sandbox")


def store():
    return current_app.extensions["sandbox"]


@bp.errorhandler(SandboxError)
def _sandbox_error(exc: SandboxError):
    g.db.rollback()
    return jsonify({"error": exc.message, "code": exc.code}), 400


def body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def state() -> dict:
    st = store().settings(g.db)
    now = store().now_ms(g.db)
    return {"settings": st, "now_ms": now, "now": _iso(now)}


def _iso(ms: int) -> str:
    from .views_util import ms_time
    return ms_time(ms) + " +08:00"


def apply_settings(data: dict) -> None:
    """Change runtime settings; `advance_seconds` moves the clock forward by that much."""
    for key, value in data.items():
        if key == "advance_seconds":
            continue
        if key not in SETTINGS:
            raise sv.params_error(f"未知设置项 {key}")
        try:
            coerce(key, value)
        except (TypeError, ValueError) as exc:
            raise sv.params_error(f"{key} 的值无效") from exc
        if key in ("error_rate", "drop_rate") and not 0 <= float(value) <= 1:
            raise sv.params_error(f"{key} 必须在 0..1")
        store().set_setting(g.db, key, value)
    if "advance_seconds" in data:
        g.db.flush()
        offset = store().settings(g.db)["clock_offset_seconds"]
        store().set_setting(g.db, "clock_offset_seconds", float(offset) + float(data["advance_seconds"]))


@bp.get("/control")
def show():
    return jsonify(state())


@bp.post("/control")
def update():
    apply_settings(body())
    g.db.commit()
    sv.tick(g.db, store())  # a moved clock may have made timers due
    g.db.commit()
    return jsonify(state())


@bp.post("/control/reset")
def reset():
    g.db.close()
    store().reset()
    return jsonify({"ok": True})


@bp.post("/control/deliver")
def deliver():
    """Run timers and make every due delivery attempt now, synchronously."""
    sv.tick(g.db, store())
    g.db.commit()
    store().close_session(g.pop("db"))  # never hold the lock during HTTP calls
    return jsonify({"attempts": callbacks.deliver_due(store())})


def app_json(app) -> dict:
    return {"appid": app.appid, "name": app.name, "app_secret": app.app_secret,
            "platform_public_key": app.platform_public_pem, "key_version": str(app.key_version),
            "app_public_key": app.app_public_key_pem, "trade_callback_url": app.trade_callback_url,
            "webhook_url": app.webhook_url, "account_id": app.account_id,
            "onboarding_status": app.onboarding_status, "merchant_uid": app.merchant_uid,
            "refund_needs_audit": app.refund_needs_audit,
            "status": sv.app_status(g.db, app)}  # DEVELOPING until a version is released, then ONLINE


def _update_app(app, data: dict) -> None:
    if "name" in data:
        app.name = str(data["name"])
    if data.get("public_key_pem"):
        sv.set_app_public_key(g.db, app, data["public_key_pem"])
    for key in ("trade_callback_url", "webhook_url"):
        if key in data:
            setattr(app, key, data[key] or None)
    if "account_id" in data:
        sv.bind_account(g.db, app, data["account_id"])
    if "onboarding_status" in data:
        sv.set_onboarding(g.db, app, data["onboarding_status"], str(data.get("onboarding_reason") or ""))
    if "refund_needs_audit" in data:
        app.refund_needs_audit = coerce("callback_sync", data["refund_needs_audit"])


@bp.post("/control/apps")
def create_app_():
    data = body()
    app = sv.create_app(g.db, store(), str(data.get("name") or "沙箱小程序"), data.get("appid"),
                        data.get("app_secret"))
    _update_app(app, data)
    g.db.commit()
    return jsonify(app_json(app)), 201


@bp.route("/control/apps/<appid>", methods=["GET", "POST"])
def app_(appid):
    app = sv.get_app(g.db, appid)
    if request.method == "POST":
        _update_app(app, body())
        g.db.commit()
    return jsonify(app_json(app))


@bp.post("/control/apps/<appid>/verify_webhook")
def verify_webhook(appid):
    """Send the app's webhook URL the verify_webhook check Douyin sends when the URL is set."""
    app = sv.get_app(g.db, appid)
    challenge = store().rng.randint(10_000, 99_999)
    callbacks.enqueue_verify_webhook(g.db, store(), app.appid, challenge)
    g.db.commit()
    return jsonify({"challenge": challenge})


@bp.post("/control/accounts")
def create_account():
    data = body()
    acc = sv.create_account(g.db, str(data.get("account_name") or ""), data.get("account_id"))
    g.db.commit()
    return jsonify({"account_id": acc.account_id, "account_name": acc.account_name}), 201


@bp.post("/control/pois")
def create_poi():
    data = body()
    poi = sv.create_poi(g.db, str(data.get("account_id") or ""), str(data.get("poi_name") or ""),
                        str(data.get("address") or ""), data.get("poi_id"))
    g.db.commit()
    return jsonify({"poi_id": poi.poi_id, "poi_name": poi.poi_name, "address": poi.address,
                    "account_id": poi.account_id}), 201


@bp.post("/control/products/<product_id>/review")
def review_product(product_id):
    row = g.db.scalar(select(Product).where(Product.product_id == product_id))
    if row is None:
        return jsonify({"error": "商品不存在"}), 404
    data = body()
    sv.review_product(g.db, store(), row, bool(data.get("approve")), str(data.get("reason") or ""))
    g.db.commit()
    return jsonify(sv.product_view(row, "draft"))


@bp.post("/control/audits/<audit_id>/review")
def review_audit(audit_id):
    a = g.db.scalar(select(PackageAudit).where(PackageAudit.audit_id == audit_id))
    if a is None:
        return jsonify({"error": "审核单不存在"}), 404
    data = body()
    sv.review_package(g.db, store(), a, bool(data.get("approve")), str(data.get("reason") or ""))
    g.db.commit()
    return jsonify(sv.audit_view(a))


@bp.post("/control/apps/<appid>/package_audit/review")
def review_app_audit(appid):
    """Decide the app's running version audit: {approve: bool, reason} (a rejection needs one)."""
    a = g.db.scalar(select(PackageAudit).where(PackageAudit.appid == appid, PackageAudit.status == "AUDITING")
                    .order_by(PackageAudit.id.desc()).limit(1))
    if a is None:
        return jsonify({"error": "没有审核中的版本"}), 404
    data = body()
    sv.review_package(g.db, store(), a, bool(data.get("approve")), str(data.get("reason") or ""))
    g.db.commit()
    return jsonify(sv.audit_view(a))


def order_json(order: Order) -> dict:
    return {"order_id": order.order_id, "out_order_no": order.out_order_no, "appid": order.appid,
            "pay_status": order.pay_status, "total_amount": order.total_amount,
            "delivery_type": order.delivery_type, "encrypted_data": order.encrypted_data,
            "poi_id": order.poi_id, "open_id": order.open_id,
            "items": [{"item_order_id": i.item_order_id, "certificate_id": i.certificate_id,
                       "code": i.code, "encrypted_code": i.encrypted_code, "status": i.status,
                       "price": i.price, "settle_id": i.settle_id} for i in order.items]}


@bp.post("/control/orders")
def create_order():
    """A purchase. With `data` + `byteAuthorization` the caller is the mini-program (front end
    and merchant back end): the sandbox runs tt.requestOrder on them. With `product_id` the
    sandbox plays the front end and asks the merchant's back end first, as the consumer page does."""
    data = body()
    if "data" in data or "byteAuthorization" in data:
        order = sv.request_order(
            g.db, store(), data=str(data.get("data") or ""), byte_authorization=str(data.get("byteAuthorization") or ""),
            poi_id=str(data.get("poi_id") or ""), phone=str(data.get("phone") or "13800000000"),
            channel=data.get("channel") or "short_video", tracking_code=str(data.get("tracking_code") or ""),
            order_source=data.get("order_source") or "normal", pay_channel=int(data.get("pay_channel") or 10),
            pay=data.get("pay", True) is not False)
        g.db.commit()
        return jsonify(order_json(order)), 201
    order = sv.purchase(
        g.db, store(), product_id=str(data.get("product_id") or ""), poi_id=str(data.get("poi_id") or ""),
        quantity=int(data.get("quantity") or 1), channel=data.get("channel") or "short_video",
        tracking_code=str(data.get("tracking_code") or ""), order_source=data.get("order_source") or "normal",
        phone=str(data.get("phone") or "13800000000"), pay_channel=int(data.get("pay_channel") or 10),
        pay=data.get("pay", True) is not False)
    g.db.commit()
    return jsonify(order_json(order)), 201


@bp.post("/control/laike_orders")
def create_laike_order():
    """A purchase on Douyin's own merchant channel (来客): Douyin certificates, life_trade_order_notify."""
    data = body()
    order = sv.laike_purchase(g.db, store(), product_id=str(data.get("product_id") or ""),
                              poi_id=str(data.get("poi_id") or ""), quantity=int(data.get("quantity") or 1),
                              phone=str(data.get("phone") or "13800000000"))
    g.db.commit()
    return jsonify(order_json(order)), 201


@bp.get("/control/orders/<order_id>")
def show_order(order_id):
    order = g.db.scalar(select(Order).where(Order.order_id == order_id))
    if order is None:
        return jsonify({"error": "订单不存在"}), 404
    return jsonify(order_json(order))


@bp.post("/control/refunds")
def user_refund():
    data = body()
    order = g.db.scalar(select(Order).where(Order.order_id == str(data.get("order_id") or "")))
    if order is None:
        return jsonify({"error": "订单不存在"}), 404
    refund = sv.request_user_refund(g.db, store(), order, data.get("item_order_ids"),
                                    int(data.get("reason_code") or 101), str(data.get("reason_text") or "不想要了"))
    g.db.commit()
    return jsonify(sv.refund_view(refund)), 201


@bp.post("/control/bookings")
def create_booking():
    data = body()
    order = g.db.scalar(select(Order).where(Order.order_id == str(data.get("order_id") or "")))
    if order is None:
        return jsonify({"error": "订单不存在"}), 404
    url, wish = sv.booking_wish(g.db, order, str(data.get("date") or ""), str(data.get("slot") or ""),
                                str(data.get("note") or ""))
    release_session()
    return jsonify(sv.ask_merchant_to_book(url, wish)), 201


@bp.post("/control/withdrawals/<withdraw_id>")
def finish_withdrawal(withdraw_id):
    w = g.db.scalar(select(Withdrawal).where(Withdrawal.withdraw_id == withdraw_id))
    if w is None:
        return jsonify({"error": "提现单不存在"}), 404
    data = body()
    sv.finish_withdrawal(g.db, store(), w, bool(data.get("success")), str(data.get("reason") or ""))
    g.db.commit()
    return jsonify(sv.withdrawal_view(w))


@bp.get("/callbacks")
def callbacks_log():
    q = select(Outbox).order_by(Outbox.id)
    if request.args.get("appid"):
        q = q.where(Outbox.appid == request.args["appid"])
    if request.args.get("event_type"):
        q = q.where(Outbox.event_type == request.args["event_type"])
    out = []
    for ob in g.db.scalars(q):
        attempts = g.db.scalars(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == ob.id)
                                .order_by(DeliveryAttempt.id))
        out.append({"id": ob.id, "appid": ob.appid, "channel": ob.channel, "event_type": ob.event_type,
                    "message_id": ob.message_id, "status": ob.status, "attempts": ob.attempts,
                    "next_attempt_ms": ob.next_attempt_ms, "ref": ob.ref, "body": json.loads(ob.body),
                    "log": [{"attempt_no": a.attempt_no, "copy_no": a.copy_no, "at_ms": a.at_ms,
                             "outcome": a.outcome, "http_status": a.http_status, "error": a.error,
                             "url": a.url} for a in attempts]})
    return jsonify({"callbacks": out})
