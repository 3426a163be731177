"""The Douyin OpenAPI surface: /oauth, /goodlife, /api/apps, /api/trade_basic (see README)."""
from __future__ import annotations

import functools
import time

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from . import crypto, services as sv
from .models import PackageAudit, Poi, Product, Refund, VerifyRecord, Withdrawal
from .services import SandboxError, params_error
from .store import log_id

bp = Blueprint("api", __name__)

API_PREFIXES = ("/oauth/", "/goodlife/", "/api/")
SIGNATURE_ERROR = 28001001


def store():
    return current_app.extensions["sandbox"]


def family(path: str) -> str:
    if path.startswith("/api/trade_basic/"):
        return "trade_basic"
    if path.startswith("/oauth/"):
        return "oauth"
    return "goodlife"


def _respond(body: dict, status: int = 200, lid: str | None = None):
    resp = jsonify(body)
    resp.status_code = status
    if lid:
        resp.headers["x-tt-logid"] = lid
    return resp


def envelope(fam: str, data=None, code: int = 0, message: str = "success", sub_code: int = 0,
             status: int = 200, now_ms: int | None = None):
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    lid = log_id(now_ms)
    if fam == "trade_basic":
        return _respond({"err_no": code, "err_msg": message, "log_id": lid,
                         "data": data if code == 0 else None}, status, lid)
    if fam == "oauth":
        inner = {"error_code": code, "description": "" if code == 0 else message}
        if code == 0:
            inner = dict(data or {}, **inner)
        return _respond({"data": inner, "message": "success" if code == 0 else "error"}, status, lid)
    inner = {"error_code": code, "description": message}
    if code == 0 and data:
        inner.update(data)
    return _respond({"data": inner, "extra": {
        "error_code": code, "description": message, "sub_error_code": sub_code,
        "sub_description": message if sub_code else "", "logid": lid, "now": now_ms}}, status, lid)


def fault_response(path: str):
    """Injected latency, 429 bursts and errors, applied before any API work."""
    st_ = store()
    with st_.session() as s:
        st = st_.settings(s)
        burst = int(st["burst_429"])
        if burst > 0:
            st_.set_setting(s, "burst_429", burst - 1)
            s.commit()
    if st["latency_ms"] > 0:
        time.sleep(st["latency_ms"] / 1000)
    fam = family(path)
    if burst > 0:
        return envelope(fam, code=2119005, message="访问过于频繁", status=429)
    if st["error_rate"] > 0 and st_.rng.random() < st["error_rate"]:
        mode = st["error_mode"]
        if mode == "mixed":
            mode = st_.rng.choice(["http500", "code"])
        if fam == "trade_basic":
            return envelope(fam, code=13000, message="系统错误，请重试",
                            status=500 if mode == "http500" else 200)
        return envelope(fam, code=2119002, message="服务器错误",
                        status=500 if mode == "http500" else 200)
    return None


def body_json() -> dict:
    data = request.get_json(silent=True)
    if data is None and request.form:
        data = request.form.to_dict()
    if not isinstance(data, dict):
        raise params_error("请求体必须是 JSON 对象")
    return data


def _signature_problem(app) -> str | None:
    parsed = crypto.parse_byte_authorization(request.headers.get("Byte-Authorization", ""))
    if parsed is None:
        return "missing or malformed Byte-Authorization"
    if parsed["appid"] != app.appid:
        return "appid in Byte-Authorization does not match the access-token"
    if not app.app_public_key_pem:
        return "no app public key uploaded in the console"
    if parsed.get("key_version") and parsed["key_version"] != str(app.key_version):
        return f"key_version {parsed['key_version']} is not the current {app.key_version}"
    ts = parsed["timestamp"]
    if not ts.isdigit() or len(ts) != 10:
        return "timestamp must be Unix seconds"
    max_age = store().settings(g.db)["signature_max_age_seconds"]
    if max_age and abs(store().now_ms(g.db) // 1000 - int(ts)) > max_age:
        return "timestamp too old"
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    qs = request.query_string.decode()
    uri = raw_uri or (request.path + ("?" + qs if qs else ""))
    message = crypto.request_string(request.method, uri, ts, parsed["nonce_str"], request.get_data())
    if not crypto.rsa_verify(app.app_public_key_pem, message, parsed["signature"]):
        return "signature does not verify against the uploaded app public key"
    return None


def endpoint(fam: str, *, token: bool = True, signed: bool = False):
    """Run a view with the family's auth and envelope; the view returns `data` or raises."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            s = g.db
            now = store().now_ms(s)
            try:
                app = sv.resolve_token(s, store(), request.headers.get("access-token")) if token else None
                if signed:
                    problem = _signature_problem(app)
                    if problem:
                        lid = log_id(now)
                        resp = _respond({"err_no": SIGNATURE_ERROR, "err_msg": "签名校验失败",
                                         "log_id": lid}, 401, lid)
                        resp.headers["X-Sandbox-Reason"] = problem
                        return resp
                data = fn(app, *args, **kwargs)
            except SandboxError as exc:
                s.rollback()
                return envelope(fam, code=exc.code, message=exc.message, sub_code=exc.sub_code,
                                status=exc.http_status, now_ms=now)
            s.commit()
            return envelope(fam, data=data, now_ms=now)
        return wrapper
    return deco


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError as exc:
        raise params_error(f"{name} 必须是整数") from exc
    if not lo <= value <= hi:
        raise params_error(f"{name} 必须在 {lo}～{hi} 之间")
    return value


# oauth --------------------------------------------------------------------------------------

@bp.post("/oauth/client_token/")
def client_token():
    s = g.db
    try:
        body = body_json()
        tok = sv.issue_client_token(s, store(), str(body.get("client_key") or ""),
                                    str(body.get("client_secret") or ""), str(body.get("grant_type") or ""))
    except SandboxError as exc:
        if exc.code in (10013, 10020):
            s.commit()  # the call still counts towards the 500 / 5 min limit
        else:
            s.rollback()
        return envelope("oauth", code=exc.code, message=exc.message)
    s.commit()
    return envelope("oauth", data={"access_token": tok.token, "expires_in": sv.TOKEN_TTL_S})


# goodlife: goods library ----------------------------------------------------------------------

CATEGORIES = [
    {"category_id": "1000000", "name": "美食", "parent_id": "0", "level": 1, "is_leaf": False},
    {"category_id": "1001000", "name": "火锅", "parent_id": "1000000", "level": 2, "is_leaf": True},
    {"category_id": "1002000", "name": "快餐小吃", "parent_id": "1000000", "level": 2, "is_leaf": True},
    {"category_id": "2000000", "name": "丽人", "parent_id": "0", "level": 1, "is_leaf": False},
    {"category_id": "2001000", "name": "美发", "parent_id": "2000000", "level": 2, "is_leaf": True},
    {"category_id": "2002000", "name": "美甲美睫", "parent_id": "2000000", "level": 2, "is_leaf": True},
    {"category_id": "3000000", "name": "休闲娱乐", "parent_id": "0", "level": 1, "is_leaf": False},
    {"category_id": "3001000", "name": "健身", "parent_id": "3000000", "level": 2, "is_leaf": True},
]


@bp.get("/goodlife/v1/goods/category/get/")
@endpoint("goodlife")
def category_get(app):
    sv.require_account(g.db, app, request.args.get("account_id"))
    parent = request.args.get("category_id") or "0"
    return {"categories": [dict(c, enable=True) for c in CATEGORIES if c["parent_id"] == parent]}


@bp.post("/goodlife/v1/goods/product/save/")
@endpoint("goodlife")
def product_save(app):
    body = body_json()
    row = sv.save_product(g.db, store(), app, body.get("account_id"), body.get("product"), body.get("sku"))
    return {"product_id": row.product_id, "sku_id": row.draft["sku"]["sku_id"]}


@bp.post("/goodlife/v1/goods/product/operate/")
@endpoint("goodlife")
def product_operate(app):
    body = body_json()
    row = sv.operate_product(g.db, store(), app, body.get("account_id"), body.get("product_id"),
                             body.get("out_id"), body.get("op_type"))
    return {"product_id": row.product_id, "online_status": row.online_status}


def _page_products(q, count: int, which: str) -> dict:
    cursor = request.args.get("cursor") or "0"
    if not cursor.isdigit():
        raise params_error("cursor 无效")
    rows = list(g.db.scalars(q.where(Product.id > int(cursor)).order_by(Product.id).limit(count + 1)))
    has_more = len(rows) > count
    rows = rows[:count]
    return {"products": [sv.product_view(r, which) for r in rows],
            "next_cursor": str(rows[-1].id) if rows else cursor, "has_more": has_more}


@bp.get("/goodlife/v1/goods/product/online/query/")
@endpoint("goodlife")
def online_query(app):
    acc = sv.require_account(g.db, app, request.args.get("account_id"))
    count = int_arg("count", 5, 1, 50)
    q = select(Product).where(Product.account_id == acc.account_id, Product.online.is_not(None))
    return _page_products(q, count, "online")


@bp.get("/goodlife/v1/goods/product/draft/query/")
@endpoint("goodlife")
def draft_query(app):
    acc = sv.require_account(g.db, app, request.args.get("account_id"))
    count = int_arg("count", 5, 1, 50)
    q = select(Product).where(Product.account_id == acc.account_id)
    status = request.args.get("status")
    if status:
        wanted = [1, 11] if status in ("1", "11") else [int(status)] if status.isdigit() else []
        q = q.where(Product.draft_status.in_(wanted))
    return _page_products(q, count, "draft")


@bp.get("/goodlife/v1/goods/product/draft/get/")
@endpoint("goodlife")
def draft_get(app):
    acc = sv.require_account(g.db, app, request.args.get("account_id"))
    ids = [x for x in (request.args.get("product_ids") or "").split(",") if x]
    outs = [x for x in (request.args.get("out_ids") or "").split(",") if x]
    if not ids and not outs:
        raise params_error("product_ids 或 out_ids 必填")
    if len(ids) > 10 or len(outs) > 10:
        raise params_error("一次最多查询 10 个商品")
    q = select(Product).where(Product.account_id == acc.account_id)
    q = q.where(Product.product_id.in_(ids)) if ids else q.where(Product.out_id.in_(outs))
    return {"products": [sv.product_view(r, "draft") for r in g.db.scalars(q.order_by(Product.id))]}


# goodlife: stores, accounts -------------------------------------------------------------------

def poi_view(p: Poi) -> dict:
    return {"poi_id": p.poi_id, "poi_name": p.poi_name, "address": p.address, "account_id": p.account_id}


@bp.get("/goodlife/v1/shop/poi/query/")
@endpoint("goodlife")
def poi_query(app):
    acc = sv.require_account(g.db, app, request.args.get("account_id"))
    page, size = int_arg("page", 1, 1, 10_000), int_arg("size", 20, 1, 50)
    q = select(Poi).where(Poi.account_id == acc.account_id)
    if request.args.get("poi_id"):
        q = q.where(Poi.poi_id == request.args["poi_id"])
    rows = list(g.db.scalars(q.order_by(Poi.id)))
    return {"pois": [poi_view(p) for p in rows[(page - 1) * size: page * size]], "total": len(rows)}


@bp.get("/goodlife/v1/account/get/")
@endpoint("goodlife")
def account_get(app):
    acc = sv.get_account(g.db, request.args.get("account_id"))
    return {"account_id": acc.account_id, "account_name": acc.account_name}


# goodlife: vouchers ---------------------------------------------------------------------------

@bp.get("/goodlife/v1/fulfilment/certificate/prepare/")
@endpoint("goodlife")
def certificate_prepare(app):
    return sv.prepare_certificates(g.db, store(), app, request.args.get("code"),
                                   request.args.get("encrypted_data"))


@bp.post("/goodlife/v1/fulfilment/certificate/verify/")
@endpoint("goodlife")
def certificate_verify(app):
    return {"verify_results": sv.verify_certificates(g.db, store(), app, body_json())}


@bp.post("/goodlife/v1/fulfilment/certificate/cancel/")
@endpoint("goodlife")
def certificate_cancel(app):
    sv.cancel_verify(g.db, store(), app, body_json())
    return {}


@bp.get("/goodlife/v1/fulfilment/certificate/get/")
@endpoint("goodlife")
def certificate_get(app):
    certs = sv.get_certificates(g.db, store(), app, request.args)
    return {"certificate": certs[0], "certificates": certs}


@bp.get("/goodlife/v1/fulfilment/certificate/verify_record/query/")
@endpoint("goodlife")
def verify_record_query(app):
    acc = sv.require_account(g.db, app, request.args.get("account_id"))
    size = int_arg("size", 20, 1, 20)
    cursor = int_arg("cursor", 0, 0, 10**12)
    q = select(VerifyRecord).where(VerifyRecord.account_id == acc.account_id, VerifyRecord.id > cursor)
    if request.args.get("poi_ids"):
        q = q.where(VerifyRecord.poi_id.in_(request.args["poi_ids"].split(",")))
    if request.args.get("start_time"):
        q = q.where(VerifyRecord.verify_ms >= int_arg("start_time", 0, 0, 10**11) * 1000)
    if request.args.get("end_time"):
        q = q.where(VerifyRecord.verify_ms < int_arg("end_time", 0, 0, 10**11) * 1000)
    rows = list(g.db.scalars(q.order_by(VerifyRecord.id).limit(size + 1)))
    return {"records": [{"verify_id": r.verify_id, "certificate_id": r.certificate_id,
                         "order_id": r.order_id, "poi_id": r.poi_id, "amount": r.amount,
                         "verify_time": r.verify_ms // 1000, "status": 2 if r.cancel_ms is None else 3,
                         "cancel_time": (r.cancel_ms or 0) // 1000} for r in rows[:size]],
            "cursor": str(rows[:size][-1].id) if rows else str(cursor), "has_more": len(rows) > size}


@bp.get("/goodlife/v1/settle/ledger/query/")
@endpoint("goodlife")
def ledger_query(app):
    acc = sv.require_account(g.db, app, request.args.get("account_id"))
    size = int_arg("size", 20, 1, 50)
    cursor = int_arg("cursor", 0, 0, 10**9)
    bill_date = request.args.get("bill_date")
    if not bill_date or len(bill_date) != 10:
        raise params_error("bill_date 必填，格式 YYYY-MM-DD")
    entries = sv.ledger_entries(g.db, store(), acc.account_id, bill_date)
    page = entries[cursor: cursor + size]
    return {"records": page, "next_cursor": str(cursor + len(page)),
            "has_more": cursor + size < len(entries), "total": len(entries)}


@bp.post("/api/apps/trade/v2/fulfillment/push_delivery/")
@endpoint("goodlife")
def push_delivery(app):
    order = sv.push_delivery(g.db, store(), app, body_json())
    return {"order_id": order.order_id, "out_order_no": order.out_order_no}


# mini-program management (chosen endpoints) ---------------------------------------------------

@bp.get("/api/apps/v1/app/info/")
@endpoint("goodlife", token=False)
def app_info(_):
    app = sv.get_app(g.db, request.args.get("appid") or "")
    return {"appid": app.appid, "name": app.name, "status": sv.app_status(g.db, app)}


@bp.get("/api/apps/v1/payment/onboarding/query/")
@endpoint("goodlife")
def onboarding_query(app):
    return {"status": app.onboarding_status, "merchant_uid": app.merchant_uid,
            "reason": app.onboarding_reason}


@bp.post("/api/apps/v1/package/preview_check/")
@endpoint("goodlife")
def preview_check(app):
    problems = sv.preview_problems(g.db, app)
    return {"ok": not problems, "problems": problems}


@bp.post("/api/apps/v1/package/audit/submit/")
@endpoint("goodlife")
def audit_submit(app):
    body = body_json()
    return {"audit_id": sv.submit_package(g.db, store(), app, body.get("version"), body.get("desc")).audit_id}


@bp.get("/api/apps/v1/package/audit/query/")
@endpoint("goodlife")
def audit_query(app):
    a = g.db.scalar(select(PackageAudit).where(PackageAudit.appid == app.appid,
                                               PackageAudit.audit_id == (request.args.get("audit_id") or "")))
    if a is None:
        raise params_error("audit_id 不存在")
    return sv.audit_view(a)


@bp.post("/api/apps/v1/message/send/")
@endpoint("goodlife")
def message_send(app):
    return {"msg_id": sv.send_message(g.db, store(), app, body_json()).msg_id}


@bp.post("/api/apps/v1/withdraw/create/")
@endpoint("goodlife")
def withdraw_create(app):
    body = body_json()
    w = sv.create_withdrawal(g.db, store(), app, body.get("out_withdraw_no"), body.get("amount"))
    return {"withdraw_id": w.withdraw_id, "status": w.status}


@bp.get("/api/apps/v1/withdraw/query/")
@endpoint("goodlife")
def withdraw_query(app):
    w = g.db.scalar(select(Withdrawal).where(Withdrawal.appid == app.appid,
                                             Withdrawal.out_withdraw_no == (request.args.get("out_withdraw_no") or "")))
    if w is None:
        raise params_error("提现单不存在")
    return sv.withdrawal_view(w)


# trade_basic (access-token + Byte-Authorization) ---------------------------------------------

TB = "/api/trade_basic/v1/developer/"


@bp.post(TB + "order_query/")
@endpoint("trade_basic", signed=True)
def order_query(app):
    body = body_json()
    order = sv.find_order(g.db, app, body.get("order_id"), body.get("out_order_no"))
    if order is None:
        raise SandboxError(10000, "订单不存在")
    return dict(sv.order_query_view(order), merchant_uid=app.merchant_uid)


@bp.post(TB + "refund_create/")
@endpoint("trade_basic", signed=True)
def refund_create(app):
    r = sv.merchant_refund(g.db, store(), app, body_json())
    return {"refund_id": r.refund_id, "refund_audit_deadline": r.audit_deadline_ms or 0}


@bp.post(TB + "refund_query/")
@endpoint("trade_basic", signed=True)
def refund_query(app):
    body = body_json()
    q = select(Refund).where(Refund.appid == app.appid).order_by(Refund.id)
    if body.get("refund_id"):
        q = q.where(Refund.refund_id == str(body["refund_id"]))
    elif body.get("out_refund_no"):
        q = q.where(Refund.out_refund_no == str(body["out_refund_no"]))
    elif body.get("order_id"):
        q = q.where(Refund.order_id == str(body["order_id"]))
    else:
        raise params_error("refund_id / out_refund_no / order_id 至少填一个")
    return {"refund_list": [sv.refund_view(r) for r in g.db.scalars(q.limit(50))]}


@bp.post(TB + "refund_audit_callback/")
@endpoint("trade_basic", signed=True)
def refund_audit_callback(app):
    sv.audit_refund(g.db, store(), app, body_json())
    return {}


@bp.post(TB + "settle_create/")
@endpoint("trade_basic", signed=True)
def settle_create(app):
    x = sv.settle_create(g.db, store(), app, body_json())
    return {"settle_id": x.settle_id, "wallet_settle_id": "w" + x.settle_id}


@bp.post(TB + "settle_query/")
@endpoint("trade_basic", signed=True)
def settle_query(app):
    return [sv.settle_view(x) for x in sv.settle_query(g.db, app, body_json())]


@bp.post(TB + "tag_query/")
@endpoint("trade_basic", signed=True)
def tag_query(app):
    return {"tag_list": [{"tag_group_id": "tag_group_7272625659887960076", "name": "团购券"},
                         {"tag_group_id": "tag_group_7272625659887976460", "name": "代金券"}]}

