"""The Douyin OpenAPI surface: /oauth, /goodlife, /api/apps, /api/trade_basic (see README)."""
from __future__ import annotations

import functools
import json
import time

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import or_, select

from . import services as sv
from .models import Account, Poi, Product, Refund, VerifyRecord, Withdrawal
from .services import SandboxError, params_error
from .store import log_id
from portal.douyin.shapes import BOOL, INT, QINT, QLIST, STR, Arr, DouyinContractError, JsonStr, Map, Obj, Shape, opt, read

bp = Blueprint("api", __name__)

API_PREFIXES = ("/oauth/", "/goodlife/", "/api/")


def store():
    return current_app.extensions["sandbox"]


def family(path: str) -> str:
    if path.startswith(("/api/trade_basic/", "/api/apps/ecpay/", "/api/notification/")):
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
        body = {"err_no": code, "err_msg": message, "log_id": lid}
        if code == 0 and data is not None:  # a call without a result answers no data (refund_audit_callback)
            body["data"] = data
        return _respond(body, status, lid)
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
    view = current_app.view_functions.get(request.endpoint)
    fam = getattr(view, "family", None) or family(path)
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


def check_request(query: Shape | None, body: Shape | None, *, code: int | None = None) -> None:
    """Refuse a request whose query or JSON body has an unknown, missing or mistyped field.

    `code` overrides the family's parameter-error code (client_token answers 10002).
    """
    try:
        if query is not None:
            g.query = read(query, request.args.to_dict(), strict=True)
        if body is not None:
            g.body = read(body, body_json(), strict=True)
    except DouyinContractError as exc:
        error = params_error(f"参数不合法: {exc.path} {exc.problem}")
        if code is not None:
            error.code = code
        raise error from exc


def endpoint(fam: str, *, token: bool | str = True, query: Shape | None = None, body: Shape | None = None):
    """Run a view with the family's auth and envelope; the view returns `data` or raises.

    `query` / `body` are the request's shapes: the request is checked strictly before the view
    runs, and the view reads the checked values from `g.query` / `g.body`.
    """
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            s = g.db
            now = store().now_ms(s)
            try:
                check_request(query, body)
                if token == "authorizer":  # third-party platform APIs: the authorizer access token
                    from .tpapp import resolve_authorizer
                    app = resolve_authorizer(s, request.headers.get("access-token"))
                else:
                    app = sv.resolve_token(s, store(), request.headers.get("access-token")) if token else None
                data = fn(app, *args, **kwargs)
            except SandboxError as exc:
                s.rollback()
                return envelope(fam, code=exc.code, message=exc.message, sub_code=exc.sub_code,
                                status=exc.http_status, now_ms=now)
            s.commit()
            return envelope(fam, data=data, now_ms=now)
        wrapper.family = fam  # injected faults answer in the endpoint's own envelope
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

CLIENT_TOKEN_REQUEST = Obj(client_key=STR, client_secret=STR, grant_type=STR)


@bp.post("/oauth/client_token/")
def client_token():
    s = g.db
    try:
        check_request(None, CLIENT_TOKEN_REQUEST, code=10002)
        body = g.body
        tok = sv.issue_client_token(s, store(), body["client_key"], body["client_secret"], body["grant_type"])
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
    {"category_id": 1000000, "name": "美食", "parent_id": 0, "level": 1, "is_leaf": False},
    {"category_id": 1001000, "name": "火锅", "parent_id": 1000000, "level": 2, "is_leaf": True},
    {"category_id": 1002000, "name": "快餐小吃", "parent_id": 1000000, "level": 2, "is_leaf": True},
    {"category_id": 2000000, "name": "丽人", "parent_id": 0, "level": 1, "is_leaf": False},
    {"category_id": 2001000, "name": "美发", "parent_id": 2000000, "level": 2, "is_leaf": True},
    {"category_id": 2002000, "name": "美甲美睫", "parent_id": 2000000, "level": 2, "is_leaf": True},
    {"category_id": 3000000, "name": "休闲娱乐", "parent_id": 0, "level": 1, "is_leaf": False},
    {"category_id": 3001000, "name": "健身", "parent_id": 3000000, "level": 2, "is_leaf": True},
]

# One template for every category, keys as Douyin's 团购 template names them: the ones the sandbox
# reads (image_list, Notification, description_rich_text, use_date; code_source_type) and the
# sku attrs a 次卡 or set menu describes itself with. (key, name, is_multi, is_required, value_type, demo)
TEMPLATE = {
    "product_attrs": [
        ("image_list", "封面图", True, True, "IMAGE", ""),
        ("description_rich_text", "其他说明信息", True, False, "NOTE", ""),
        ("Notification", "使用规则", True, True, "NOTIFICATION", ""),
        ("use_date", "使用日期", False, True, "USE_DATE", ""),
    ],
    "sku_attrs": [
        ("code_source_type", "券码生成方式", False, True, "INT64", "1-抖音码 2-三方码 3-预导码"),
        ("commodity", "菜品搭配", True, False, "COMMODITY", ""),
    ],
}

CATEGORY_QUERY = Obj(account_id=STR, category_id=opt(QINT), query_category_type=opt(QINT))
TEMPLATE_QUERY = Obj(product_type=QINT, category_id=QINT)
SAVE_BODY = Obj(
    account_id=STR,
    product=Obj(
        product_id=opt(STR), out_id=opt(STR), product_name=STR, product_type=INT, category_id=opt(INT),
        category_full_name=opt(STR), biz_line=INT, account_name=opt(STR), sold_start_time=opt(INT),
        sold_end_time=opt(INT), pois=Arr(Obj(poi_id=STR, supplier_ext_id=opt(STR))),
        attr_key_value_map=opt(Map(STR)),
    ),
    sku=Obj(
        sku_id=opt(STR), out_sku_id=opt(STR), sku_name=STR, status=INT,
        stock=Obj(limit_type=INT, stock_qty=INT, avail_qty=opt(INT)),
        origin_amount=opt(INT), actual_amount=INT, attr_key_value_map=opt(Map(STR)),
    ),
)
OPERATE_BODY = Obj(account_id=STR, product_id=opt(STR), out_id=opt(STR), op_type=INT)
ONLINE_QUERY = Obj(account_id=STR, cursor=opt(QINT), count=opt(QINT))
DRAFT_QUERY = Obj(account_id=STR, status=opt(QINT), cursor=opt(QINT), count=opt(QINT))
DRAFT_GET_QUERY = Obj(account_id=STR, product_ids=opt(QLIST), out_ids=opt(QLIST))


def _plain(value):
    """A checked request value as plain JSON (to store it)."""
    return json.loads(json.dumps(value))


def _count(default: int, hi: int) -> int:
    count = g.query.get("count", default)
    if not 1 <= count <= hi:
        raise params_error(f"count 必须在 1～{hi} 之间")
    return count


@bp.get("/goodlife/v1/goods/category/get/")
@endpoint("goodlife", query=CATEGORY_QUERY)
def category_get(app):
    sv.require_account(g.db, app, g.query["account_id"])
    parent = g.query.get("category_id", 0)
    return {"category_infos": [dict(c, enable=True) for c in CATEGORIES if c["parent_id"] == parent]}


@bp.get("/goodlife/v1/goods/template/get/")
@endpoint("goodlife", query=TEMPLATE_QUERY)
def template_get(app):
    return {group: [{"key": k, "name": n, "desc": "", "is_multi": multi, "is_required": req,
                     "value_type": vt, "value_demo": demo} for k, n, multi, req, vt, demo in attrs]
            for group, attrs in TEMPLATE.items()}


@bp.post("/goodlife/v1/goods/product/save/")
@endpoint("goodlife", body=SAVE_BODY)
def product_save(app):
    body = _plain(g.body)
    row = sv.save_product(g.db, store(), app, body["account_id"], body["product"], body["sku"])
    return {"product_id": row.product_id}


@bp.post("/goodlife/v1/goods/product/operate/")
@endpoint("goodlife", body=OPERATE_BODY)
def product_operate(app):
    sv.operate_product(g.db, store(), app, g.body["account_id"], g.body.get("product_id"),
                       g.body.get("out_id"), g.body["op_type"])
    return {}


def _page_products(q, count: int, which: str) -> dict:
    cursor = g.query.get("cursor", 0)
    rows = list(g.db.scalars(q.where(Product.id > cursor).order_by(Product.id).limit(count + 1)))
    has_more = len(rows) > count
    rows = rows[:count]
    return {"products": [sv.product_view(r, which) for r in rows],
            "next_cursor": str(rows[-1].id) if rows else str(cursor), "has_more": has_more}


@bp.get("/goodlife/v1/goods/product/online/query/")
@endpoint("goodlife", query=ONLINE_QUERY)
def online_query(app):
    acc = sv.require_account(g.db, app, g.query["account_id"])
    q = select(Product).where(Product.account_id == acc.account_id, Product.online.is_not(None))
    return _page_products(q, _count(5, 50), "online")


@bp.get("/goodlife/v1/goods/product/draft/query/")
@endpoint("goodlife", query=DRAFT_QUERY)
def draft_query(app):
    acc = sv.require_account(g.db, app, g.query["account_id"])
    q = select(Product).where(Product.account_id == acc.account_id)
    status = g.query.get("status")
    if status is not None:
        q = q.where(Product.draft_status.in_([1, 11] if status in (1, 11) else [status]))
    return _page_products(q, _count(5, 50), "draft")


@bp.get("/goodlife/v1/goods/product/draft/get/")
@endpoint("goodlife", query=DRAFT_GET_QUERY)
def draft_get(app):
    acc = sv.require_account(g.db, app, g.query["account_id"])
    ids, outs = g.query.get("product_ids") or [], g.query.get("out_ids") or []
    if not ids and not outs:
        raise params_error("product_ids 或 out_ids 必填")
    if len(ids) > 10 or len(outs) > 10:
        raise params_error("一次最多查询 10 个商品")
    q = select(Product).where(Product.account_id == acc.account_id,
                              or_(Product.product_id.in_(ids), Product.out_id.in_(outs)))
    return {"product_drafts": [sv.product_view(r, "draft") for r in g.db.scalars(q.order_by(Product.id))]}


# goodlife: stores -------------------------------------------------------------------------

POI_QUERY = Obj(account_id=STR, page=opt(QINT), size=opt(QINT))


def poi_view(p: Poi, acc) -> dict:
    """A store as shop/poi/query returns it. The sandbox keeps no coordinates (0.0) and has no
    per-store accounts: the Laike account is the store's parent_account."""
    return {"poi": {"poi_id": p.poi_id, "poi_name": p.poi_name, "address": p.address,
                    "latitude": 0.0, "longitude": 0.0},
            "account": {"parent_account": {"account_id": acc.account_id, "account_name": acc.account_name}}}


@bp.get("/goodlife/v1/shop/poi/query/")
@endpoint("goodlife", query=POI_QUERY)
def poi_query(app):
    acc = sv.require_account(g.db, app, g.query["account_id"])
    page, size = g.query.get("page", 1), g.query.get("size", 10)
    if page < 1 or not 1 <= size <= 50:
        raise params_error("page 从 1 开始，size 必须在 1～50 之间")
    rows = list(g.db.scalars(select(Poi).where(Poi.account_id == acc.account_id).order_by(Poi.id)))
    return {"pois": [poi_view(p, acc) for p in rows[(page - 1) * size: page * size]], "total": len(rows)}


# goodlife: vouchers ---------------------------------------------------------------------------

# Request shapes from tests/contracts/fixtures/certificate_*.json (SK models + OF).
PREPARE_QUERY = Obj(encrypted_data=opt(STR), code=opt(STR), account_id=opt(STR), poi_id=opt(STR))
VERIFY_BODY = Obj(verify_token=STR, poi_id=opt(STR), encrypted_codes=opt(Arr(STR)), codes=opt(Arr(STR)),
                  order_id=opt(STR), account_id=opt(STR))
CANCEL_BODY = Obj(verify_id=STR, certificate_id=STR, cancel_token=opt(STR), account_id=opt(STR),
                  times_card_cancel_count=opt(INT))
CERTIFICATE_GET_QUERY = Obj(encrypted_code=opt(STR), code=opt(STR), order_id=opt(STR), account_id=opt(STR))


def _own_account(app) -> None:
    """An account_id sent (OF sends one) must be the token's own account."""
    if g.query.get("account_id"):
        sv.require_account(g.db, app, g.query["account_id"])


@bp.get("/goodlife/v1/fulfilment/certificate/prepare/")
@endpoint("goodlife", query=PREPARE_QUERY)
def certificate_prepare(app):
    _own_account(app)
    return sv.prepare_certificates(g.db, store(), app, g.query.get("code"), g.query.get("encrypted_data"))


@bp.post("/goodlife/v1/fulfilment/certificate/verify/")
@endpoint("goodlife", body=VERIFY_BODY)
def certificate_verify(app):
    return {"verify_results": sv.verify_certificates(g.db, store(), app, g.body)}


@bp.post("/goodlife/v1/fulfilment/certificate/cancel/")
@endpoint("goodlife", body=CANCEL_BODY)
def certificate_cancel(app):
    sv.cancel_verify(g.db, store(), app, g.body)
    return {}


@bp.get("/goodlife/v1/fulfilment/certificate/get/")
@endpoint("goodlife", query=CERTIFICATE_GET_QUERY)
def certificate_get(app):
    _own_account(app)
    return {"certificate": sv.get_certificates(g.db, store(), app, g.query)[0]}


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


# tests/contracts/fixtures/settle_ledger_query.json: all four parameters required, bill_date
# YYYY-MM-DD, cursor "0" on the first page; the sandbox's cursor is an offset into the day.
LEDGER_QUERY = Obj(account_id=STR, bill_date=STR, cursor=QINT, size=QINT)


def ledger_record(e: dict) -> dict:
    """A ledger entry as settle/ledger/query returns it (SK GoodLifeSettleLedgerQueryV1Response sample)."""
    return {"account_id": e["account_id"], "id": e["verify_id"], "ledger_id": e["ledger_id"],
            "order_id": e["order_id"], "item_order_id": e["item_order_id"], "sku_order_id": e["item_order_id"],
            "poi_id": e["poi_id"], "status": 2, "ledger_time": e["ledger_time"],
            "certificate": {"certificate_id": e["certificate_id"], "code": e["code"] or ""},
            "goods": {"group_name": e["title"], "sku_id": e["sku_id"]},
            "order_attrribute": {"source": e["order_source"]},
            "amount": {"original": e["original_amount"], "pay": e["amount"]["pay_amount"],
                       "coupon_pay": e["amount"]["pay_amount"], "merchant_ticket": 0, "actual_insured": 0,
                       "goods": e["amount"]["settle_amount"]}}


@bp.get("/goodlife/v1/settle/ledger/query/")
@endpoint("goodlife", query=LEDGER_QUERY)
def ledger_query(app):
    acc = sv.require_account(g.db, app, g.query["account_id"])
    size, cursor, bill_date = g.query["size"], g.query["cursor"], g.query["bill_date"]
    if not 1 <= size <= 50 or cursor < 0:
        raise params_error("size 必须在 1～50 之间，cursor 不能为负")
    if len(bill_date) != 10 or bill_date[4] != "-" or bill_date[7] != "-":
        raise params_error("bill_date 格式为 YYYY-MM-DD")
    entries = sv.ledger_entries(g.db, store(), acc.account_id, bill_date)
    page = entries[cursor: cursor + size]
    has_more = cursor + size < len(entries)
    return {"ledger_records": [ledger_record(e) for e in page], "cursor": str(cursor + len(page)),
            "has_more": has_more}


POI_INFO = JsonStr(Obj(shop_name=opt(STR), ext_valid_shop_id=opt(STR), valid_poi_id_str=opt(STR)))


@bp.post("/api/apps/trade/v2/fulfillment/push_delivery")
@endpoint("goodlife", body=Obj(out_order_no=STR, item_order_list=opt(Arr(Obj(item_order_id=STR))),
                               use_all=opt(BOOL), poi_info=opt(POI_INFO)))
def push_delivery(app):
    return {"verify_results": sv.push_delivery(g.db, store(), app, g.body)}


# trade v2 bookings (tests/contracts/fixtures/book_create.json, book_result_callback.json).
BOOK_ITEM = Obj(poi_id=STR, book_start_time=INT, book_end_time=INT, ext_shop_id=opt(STR), shop_name=opt(STR),
                goods_id=opt(STR), item_order_id=opt(STR),
                user_info_list=opt(Arr(Obj(name=opt(STR), phone=opt(STR), id_card_no=opt(STR)))),
                book_sku_info=opt(Obj(sku_id_type=opt(INT), sku_id=opt(STR), price=opt(INT))))


@bp.post("/api/apps/trade/v2/book/create_book")
@endpoint("goodlife", body=Obj(order_id=STR, out_book_no=STR, open_id=STR, item_book_info_list=Arr(BOOK_ITEM)))
def create_book(app):
    return {"book_id": sv.create_book(g.db, store(), app, _plain(g.body)).book_id}


@bp.post("/api/apps/trade/v2/book/book_result_callback")
@endpoint("goodlife", body=Obj(book_id=STR, result=INT, msg=opt(STR), accept_type=opt(INT)))
def book_result_callback(app):
    sv.book_result(g.db, store(), app, g.body)
    return {}


@bp.post("/api/apps/trade/v2/fulfillment/verify_cancel")
@endpoint("goodlife", body=Obj(order_id=STR, certificate_id=STR, verify_id=STR))
def verify_cancel(app):
    sv.cancel_pushed_delivery(g.db, store(), app, g.body)
    return {}


# mini-program management (chosen endpoints) ---------------------------------------------------

# The third-party platform's APIs for the authorized mini-program (fixtures basic_info and
# package_*): err_no envelope, the access-token header. The audit and release replies are the
# bare envelope.

@bp.get("/api/apps/v2/basic_info/get_info/")
@endpoint("trade_basic", token="authorizer", query=Obj())
def basic_info(app):
    account = g.db.scalar(select(Account).where(Account.account_id == app.account_id)) if app.account_id else None
    return {
        "app_id": app.appid, "app_name": app.name, "app_intro": "", "app_icon": "",
        "app_state": 0,  # the reference sample's value; no reference names the states
        "subject_audit_info": {"subject_name": account.account_name if account else app.name, "subject_type": 1},
    }


@bp.get("/api/apps/v1/package_version/get_audit_hosts/")
@endpoint("trade_basic", token="authorizer", query=Obj())
def package_audit_hosts(app):
    released = sv.app_status(g.db, app) == "ONLINE"
    return {"host_names": list(sv.AUDIT_HOSTS), "released_host_names": list(sv.AUDIT_HOSTS) if released else []}


@bp.get("/api/apps/v1/package_version/versions/")
@endpoint("trade_basic", token="authorizer", query=Obj())
def package_versions(app):
    return sv.versions_view(g.db, app)


@bp.post("/api/apps/v1/package_version/audit/")
@endpoint("trade_basic", token="authorizer", body=Obj(host_names=Arr(STR), audit_note=opt(STR), audit_way=opt(INT), tag=opt(STR)))
def package_audit(app):
    body = g.body
    sv.submit_package(g.db, store(), app, list(body["host_names"]), body.get("audit_note"), body.get("audit_way"), body.get("tag"))


@bp.post("/api/apps/v1/package_version/release/")
@endpoint("trade_basic", token="authorizer", body=Obj())
def package_release(app):
    sv.release_package(g.db, store(), app)


# Subscription message (tests/contracts/fixtures/notify_user.json): err_no envelope, no data.
@bp.post("/api/notification/v2/subscription/notify_user/")
@endpoint("trade_basic", body=Obj(msg_id=STR, open_id=STR, data=Map(STR), page=opt(STR)))
def notify_user(app):
    sv.notify_user(g.db, store(), app, _plain(g.body))
    return None


# ecpay SaaS: 进件 state, balance, withdrawals (err_no envelope, access-token; SK AppsECPay) ----

_ECPAY_APP = {"app_id": opt(STR), "thirdparty_id": opt(STR)}


@bp.post("/api/apps/ecpay/v3/saas/query_merchant_status/")
@endpoint("trade_basic", body=Obj(merchant_id=STR, sub_merchant_id=opt(STR), **_ECPAY_APP))
def query_merchant_status(app):
    return sv.merchant_status_view(g.db, app, g.body)


_ECPAY_MERCHANT = dict(_ECPAY_APP, merchant_uid=STR, channel_type=STR)


@bp.post("/api/apps/ecpay/saas/query_merchant_balance/")
@endpoint("trade_basic", body=Obj(merchant_entity=opt(INT), **_ECPAY_MERCHANT))
def query_merchant_balance(app):
    sv.ecpay_merchant(app, g.body)
    return sv.balance_view(g.db, app)


@bp.post("/api/apps/ecpay/saas/merchant_withdraw/")
@endpoint("trade_basic", body=Obj(withdraw_amount=INT, out_order_id=STR, callback=opt(STR), cp_extra=opt(STR),
                                  merchant_entity=opt(INT), **_ECPAY_MERCHANT))
def merchant_withdraw(app):
    sv.ecpay_merchant(app, g.body)
    w = sv.create_withdrawal(g.db, store(), app, g.body["out_order_id"], g.body["withdraw_amount"])
    return {"order_id": w.withdraw_id, "merchant_entity": 1}


@bp.post("/api/apps/ecpay/saas/query_withdraw_order/")
@endpoint("trade_basic", body=Obj(out_order_id=STR, **_ECPAY_MERCHANT))
def query_withdraw_order(app):
    sv.ecpay_merchant(app, g.body)
    w = g.db.scalar(select(Withdrawal).where(Withdrawal.appid == app.appid,
                                             Withdrawal.out_withdraw_no == g.body["out_order_id"]))
    if w is None:
        raise params_error("提现单不存在")
    return {"status": w.status, "status_msg": w.reason}


# trade_basic (access-token only, as every reference shows) ------------------------------------

TB = "/api/trade_basic/v1/developer/"


ORDER_QUERY_BODY = Obj(order_id=opt(STR), out_order_no=opt(STR))


@bp.post(TB + "order_query/")
@endpoint("trade_basic", body=ORDER_QUERY_BODY)
def order_query(app):
    order = sv.find_order(g.db, app, g.body.get("order_id"), g.body.get("out_order_no"))
    if order is None:
        raise SandboxError(10000, "订单不存在")
    return dict(sv.order_query_view(order), merchant_uid=app.merchant_uid)


REFUND_CREATE_BODY = Obj(
    order_id=STR, out_refund_no=STR, refund_total_amount=INT, refund_reason=Arr(Obj(code=INT, text=STR)),
    item_order_detail=opt(Arr(Obj(item_order_id=STR, refund_amount=INT))), refund_all=opt(BOOL),
    cp_extra=opt(STR), notify_url=opt(STR), order_entry_schema=opt(Obj(path=STR, params=opt(STR))),
)


@bp.post(TB + "refund_create/")
@endpoint("trade_basic", body=REFUND_CREATE_BODY)
def refund_create(app):
    r = sv.merchant_refund(g.db, store(), app, g.body)
    return {"refund_id": r.refund_id, "refund_audit_deadline": r.audit_deadline_ms or 0}


@bp.post(TB + "refund_query/")
@endpoint("trade_basic", body=Obj(refund_id=opt(STR), out_refund_no=opt(STR), order_id=opt(STR)))
def refund_query(app):
    body = g.body
    q = select(Refund).where(Refund.appid == app.appid).order_by(Refund.id)
    if body.get("refund_id"):
        q = q.where(Refund.refund_id == body["refund_id"])
    elif body.get("out_refund_no"):
        q = q.where(Refund.out_refund_no == body["out_refund_no"])
    elif body.get("order_id"):
        q = q.where(Refund.order_id == body["order_id"])
    else:
        raise params_error("refund_id / out_refund_no / order_id 至少填一个")
    return {"refund_list": [sv.refund_view(r) for r in g.db.scalars(q.limit(50))]}


@bp.post(TB + "refund_audit_callback/")
@endpoint("trade_basic", body=Obj(refund_id=STR, refund_audit_status=INT, deny_message=opt(STR)))
def refund_audit_callback(app):
    sv.audit_refund(g.db, store(), app, g.body)
    return None


SETTLE_PARAMS = JsonStr(Arr(Obj(merchant_uid=STR, amount=INT)))


@bp.post(TB + "settle_create/")
@endpoint("trade_basic", body=Obj(out_order_no=STR, out_settle_no=STR, settle_desc=STR, settle_params=opt(SETTLE_PARAMS),
                                  app_id=opt(STR), item_order_id=opt(STR), ext=opt(STR), notify_url=opt(STR)))
def settle_create(app):
    x = sv.settle_create(g.db, store(), app, g.body)
    return {"settle_id": x.settle_id, "wallet_settle_id": "w" + x.settle_id}


@bp.post(TB + "settle_query/")
@endpoint("trade_basic", body=Obj(app_id=opt(STR), out_order_no=opt(STR), order_id=opt(STR), out_settle_no=opt(STR),
                                  settle_id=opt(STR)))
def settle_query(app):
    return [sv.settle_view(x) for x in sv.settle_query(g.db, app, g.body)]


@bp.post(TB + "tag_query/")
@endpoint("trade_basic", body=Obj(goods_type=opt(INT)))
def tag_query(app):
    return {"tag_detail_list": sv.tag_groups(g.body.get("goods_type"))}


# Goods fulfilment state (tests/contracts/fixtures/fulfill_push_status*.json): err_no envelope, no data.
@bp.post(TB + "fulfill_push_status")
@endpoint("trade_basic", body=Obj(order_id=STR, item_order_id_list=Arr(STR), to_status=STR))
def fulfill_push_status(app):
    sv.push_fulfil_status(g.db, store(), app, g.body)
    return None
