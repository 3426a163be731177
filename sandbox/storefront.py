"""Store pages and Douyin accounts bound to an app, as the platform treats them.

- poi/supplier/sync and poi/supplier/query (tests/contracts/fixtures/poi_supplier_*.json): a
  pushed page waits for review; approving it makes it live and renames / re-addresses the POI.
- aweme bind (fixtures aweme_*.json): a QR valid 5 minutes opens the owner's authorization page
  (/consumer/aweme-bind/<ticket>); once agreed, the account appears in the relation list under
  review (bind_status 1), the only place Douyin tells who agreed. There is no call for the QR's own
  state, and nothing returns the owner's avatar or phone. unbind_aweme_relation removes a relation.
- Operator decisions: /console/storefront (HTML) and /sandbox/control/... (JSON, for tests).
"""
from __future__ import annotations

import functools
import re
import secrets

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from . import services as sv
from .api import check_request, endpoint
from .models import App, AwemeBindQrcode, AwemeRelation, Poi, SupplierPage
from .services import SandboxError, params_error
from .store import log_id, new_id19
from .views_util import qr_svg
from portal.douyin.shapes import ANY_JSON, INT, NUM, QINT, QLIST, STR, Arr, Obj, opt

bp = Blueprint("storefront", __name__, template_folder="templates")

QR_TTL_MS = 5 * 60 * 1000
BIND_TYPES = {"brand": "官方账号", "cooperation": "渠道账号", "employee": "员工账号"}
_RANGE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def store():
    return current_app.extensions["sandbox"]


# --- store pages: /poi/supplier/* ---------------------------------------------------------------

SUPPLIER_SYNC_BODY = Obj(
    poi_id=STR, name=STR, supplier_ext_id=STR, type=INT, status=INT, description=opt(STR), type_code=opt(STR),
    type_name=opt(STR), longitude=opt(NUM), latitude=opt(NUM), address=opt(STR), contact_tel=opt(STR),
    contact_phone=opt(STR), avg_cost=opt(INT), customer_info=opt(ANY_JSON), service_provider=opt(ANY_JSON),
    attributes=opt(ANY_JSON), recommends=opt(ANY_JSON), services=opt(ANY_JSON), open_time=opt(Arr(STR)),
    tags=opt(Arr(STR)), images=opt(Arr(STR)),
)
SUPPLIER_QUERY = Obj(supplier_ext_id=STR)


def _poi_reply(data: dict | None = None, code: int = 0, message: str = ""):
    # The reference answers {data:{error_code (a string), description, …}} with no `extra`.
    inner = {"error_code": str(code), "description": message}
    if code == 0 and data:
        inner.update(data)
    resp = jsonify({"data": inner})
    resp.headers["x-tt-logid"] = log_id(store().now_ms(g.db))
    return resp


def poi_endpoint(*, query=None, body=None):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                check_request(query, body)
                app = sv.resolve_token(g.db, store(), request.headers.get("access-token"))
                data = fn(app, *args, **kwargs)
            except SandboxError as exc:
                g.db.rollback()
                return _poi_reply(code=exc.code, message=exc.message)
            g.db.commit()
            return _poi_reply(data)
        return wrapper
    return deco


def mask_phone(value: str) -> str:
    """Douyin shows a page's phones masked, as in the reference: 189xxxx8929, 021-58xxxx95."""
    if _MOBILE.match(value or ""):
        return value[:3] + "xxxx" + value[-4:]
    if "-" in (value or ""):
        area, _, number = value.partition("-")
        return f"{area}-{number[:2]}{'x' * max(len(number) - 4, 0)}{number[-2:]}"
    return value or ""


@bp.post("/poi/supplier/sync")
@poi_endpoint(body=SUPPLIER_SYNC_BODY)
def supplier_sync(app):
    b = g.body
    poi = g.db.scalar(select(Poi).where(Poi.poi_id == b["poi_id"]))
    if poi is None or poi.account_id != app.account_id:
        raise SandboxError(2100004, "门店（POI）不存在或不属于该小程序的来客账户")
    if not b["name"].strip():
        raise params_error("name 不能为空")
    for window in b.get("open_time") or []:
        if not _RANGE.match(window):
            raise params_error(f"open_time 格式应为 HH:mm-HH:mm：{window}")
    if b.get("contact_phone") and not _MOBILE.match(b["contact_phone"]):
        raise params_error("contact_phone 应为 11 位手机号")
    if b.get("contact_tel") and not _LANDLINE.match(b["contact_tel"]):
        raise params_error("contact_tel 应为带区号的座机号")
    pushed = {k: b.get(k) for k in ("poi_id", "name", "address", "contact_phone", "contact_tel", "open_time", "images")}
    now = store().now_ms(g.db)
    page = g.db.scalar(select(SupplierPage).where(SupplierPage.appid == app.appid,
                                                  SupplierPage.supplier_ext_id == b["supplier_ext_id"]))
    if page is None:
        page = SupplierPage(appid=app.appid, supplier_ext_id=b["supplier_ext_id"], supplier_id=new_id19(),
                            poi_id=b["poi_id"], pushed=pushed, pushed_ms=now)
        g.db.add(page)
    page.poi_id, page.pushed, page.pushed_ms = b["poi_id"], pushed, now
    page.last_sync_status, page.fail_reason, page.decided_ms = 0, "", None
    g.db.flush()
    return {"supplier_id": page.supplier_id}


def page_detail(page: SupplierPage) -> dict:
    shown = page.live or {}
    detail = {"poi_id": page.poi_id, "supplier_ext_id": page.supplier_ext_id, "type": 1, "status": "1",
              "description": "", "name": shown.get("name") or "", "address": shown.get("address") or "",
              "contact_phone": mask_phone(shown.get("contact_phone") or ""),
              "contact_tel": mask_phone(shown.get("contact_tel") or ""), "images": shown.get("images") or []}
    return detail


@bp.get("/poi/supplier/query")
@poi_endpoint(query=SUPPLIER_QUERY)
def supplier_query(app):
    page = g.db.scalar(select(SupplierPage).where(SupplierPage.appid == app.appid,
                                                  SupplierPage.supplier_ext_id == g.query["supplier_ext_id"]))
    if page is None:
        raise SandboxError(2100004, "门店信息不存在")
    reply = {"sync_status": {"last_sync_status": page.last_sync_status, "fail_reason": page.fail_reason}}
    if page.live is not None:
        reply["data_detail"] = page_detail(page)
    return reply


def review_page(s, now_ms: int, page: SupplierPage, approve: bool, reason: str = "") -> None:
    """Decide a pushed page: approved goes live (the POI takes its name and address); rejected keeps
    the live page and says why."""
    if page.last_sync_status != 0:
        raise params_error("该门店信息不在审核中")
    if not approve and not reason.strip():
        raise params_error("驳回必须填写原因")
    page.decided_ms = now_ms
    if approve:
        page.live, page.last_sync_status, page.fail_reason = dict(page.pushed), 1, ""
        poi = s.scalar(select(Poi).where(Poi.poi_id == page.poi_id))
        poi.poi_name = page.pushed["name"]
        poi.address = page.pushed.get("address") or poi.address
    else:
        page.last_sync_status, page.fail_reason = 2, reason.strip()[:200]


# --- Douyin accounts: /api/apps/v1/capacity/*aweme* ---------------------------------------------

QRCODE_QUERY = Obj(type=STR, capacity_list=QLIST, is_co_subject=opt(STR))
RELATION_QUERY = Obj(type=STR, page_num=opt(QINT), page_size=opt(QINT))
UNBIND_BODY = Obj(aweme_id=STR, type=STR)


def _type(value: str) -> str:
    if value not in BIND_TYPES:
        raise params_error(f"type 不合法：{value}")
    return value


@bp.get("/api/apps/v1/capacity/get_aweme_relation_bind_qrcode/")
@endpoint("trade_basic", query=QRCODE_QUERY)
def aweme_bind_qrcode(app):
    kind = _type(g.query["type"])
    now = store().now_ms(g.db)
    ticket = secrets.token_urlsafe(12)
    content = url_for("storefront.authorize", ticket=ticket, _external=True)
    g.db.add(AwemeBindQrcode(appid=app.appid, ticket=ticket, content=content, type=kind, created_ms=now,
                             expires_ms=now + QR_TTL_MS))
    return {"qrcode_url": url_for("storefront.qrcode_image", ticket=ticket, _external=True), "qrcode_parse_content": content}


def _qr_state(qr: AwemeBindQrcode, now_ms: int) -> str:
    if qr.agreed_ms is not None:
        return "agreed"
    return "expired" if now_ms >= qr.expires_ms else "waiting"


@bp.get("/api/apps/v1/capacity/query_aweme_relation_list/")
@endpoint("trade_basic", query=RELATION_QUERY)
def aweme_relation_list(app):
    kind = _type(g.query["type"])
    page, size = g.query.get("page_num", 1), g.query.get("page_size", 10)
    if page < 1 or not 1 <= size <= 50:
        raise params_error("page_num 从 1 开始，page_size 必须在 1～50 之间")
    rows = list(g.db.scalars(select(AwemeRelation).where(AwemeRelation.appid == app.appid, AwemeRelation.type == kind)
                             .order_by(AwemeRelation.id)))
    return {"total_count": len(rows), "list": [
        {"aweme_id": int(r.aweme_id), "user_name": r.user_name, "bind_status": r.bind_status, "reason": r.reason,
         "account_type": 1, "capacity_list": [{"capacity_key": "video_self_mount", "status": r.bind_status, "fail_reason": r.reason}]}
        for r in rows[(page - 1) * size: page * size]]}


@bp.post("/api/apps/v1/capacity/unbind_aweme_relation/")
@endpoint("trade_basic", body=UNBIND_BODY)
def aweme_unbind(app):
    """Remove the account's relation under the type: it leaves the list, and the same account
    agreeing on a later QR is listed anew (under review)."""
    kind = _type(g.body["type"])
    rel = g.db.scalar(select(AwemeRelation).where(AwemeRelation.appid == app.appid, AwemeRelation.type == kind,
                                                  AwemeRelation.aweme_id == g.body["aweme_id"]))
    if rel is None:
        raise params_error(f"该抖音号未以 {kind} 类型绑定：{g.body['aweme_id']}")
    g.db.delete(rel)
    return None


def aweme_id_of(phone: str) -> str:
    """The sandbox's Douyin user behind a phone number: one numeric account id per phone."""
    return "57" + phone


def agree(s, now_ms: int, qr: AwemeBindQrcode, *, user_name: str, phone: str) -> AwemeRelation:
    """The owner (the Douyin user of `phone`) authorized on the QR's page: the binding goes to
    review (bind_status 1)."""
    state = _qr_state(qr, now_ms)
    if state == "expired":
        raise params_error("二维码已过期，请让商家刷新二维码后重新扫码")
    if state == "agreed":
        raise params_error("该二维码已授权")
    if not user_name.strip():
        raise params_error("请输入昵称")
    if not _MOBILE.match(phone or ""):
        raise params_error("请输入 11 位手机号")
    aweme_id = aweme_id_of(phone)
    qr.agreed_ms, qr.aweme_id, qr.user_name, qr.phone = now_ms, aweme_id, user_name.strip()[:100], phone
    rel = s.scalar(select(AwemeRelation).where(AwemeRelation.appid == qr.appid, AwemeRelation.type == qr.type,
                                               AwemeRelation.aweme_id == aweme_id))
    if rel is None:
        rel = AwemeRelation(appid=qr.appid, type=qr.type, aweme_id=aweme_id, created_ms=now_ms)
        s.add(rel)
    rel.user_name, rel.bind_status, rel.reason, rel.decided_ms = qr.user_name, 1, "", None
    s.flush()
    return rel


def review_relation(now_ms: int, rel: AwemeRelation, approve: bool, reason: str = "") -> None:
    if rel.bind_status != 1:
        raise params_error("该绑定不在审核中")
    if not approve and not reason.strip():
        raise params_error("驳回必须填写原因")
    rel.decided_ms = now_ms
    rel.bind_status, rel.reason = (2, "") if approve else (3, reason.strip()[:200])


# --- the owner's authorization page (what scanning the QR opens in Douyin) -----------------------

def _qr_or_404(ticket: str) -> AwemeBindQrcode:
    qr = g.db.scalar(select(AwemeBindQrcode).where(AwemeBindQrcode.ticket == ticket))
    if qr is None:
        abort(404)
    return qr


@bp.get("/consumer/aweme-bind/<ticket>/qr.svg")
def qrcode_image(ticket):
    qr = _qr_or_404(ticket)
    return str(qr_svg(qr.content)), 200, {"Content-Type": "image/svg+xml"}


@bp.route("/consumer/aweme-bind/<ticket>", methods=["GET", "POST"])
def authorize(ticket):
    qr = _qr_or_404(ticket)
    app = g.db.scalar(select(App).where(App.appid == qr.appid))
    now = store().now_ms(g.db)
    form = {"user_name": "", "phone": "13800000000"}
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in form}
        if request.form.get("agree") != "on":
            flash("请先勾选“我已阅读并同意《抖音号绑定协议》”", "error")
        else:
            try:
                agree(g.db, now, qr, **form)
                g.db.commit()
                flash("已授权，等待平台审核绑定", "ok")
                return redirect(url_for("storefront.authorize", ticket=ticket), code=303)
            except SandboxError as exc:
                g.db.rollback()
                flash(exc.message, "error")
    return render_template("consumer/aweme_bind.html", qr=qr, app=app, state=_qr_state(qr, now),
                           kind=BIND_TYPES.get(qr.type, qr.type), form=form,
                           seconds_left=max(0, (qr.expires_ms - now) // 1000))


# --- operator decisions -------------------------------------------------------------------------

@bp.get("/console/storefront")
def console():
    pages = list(g.db.scalars(select(SupplierPage).order_by(SupplierPage.id.desc())))
    relations = list(g.db.scalars(select(AwemeRelation).order_by(AwemeRelation.id.desc())))
    return render_template("console/storefront.html", pages=pages, relations=relations, kinds=BIND_TYPES)


@bp.post("/console/storefront/pages/<supplier_id>")
def console_page(supplier_id):
    page = g.db.scalar(select(SupplierPage).where(SupplierPage.supplier_id == supplier_id))
    _decide(lambda: review_page(g.db, store().now_ms(g.db), page, request.form.get("approve") == "1",
                                request.form.get("reason", "")), "门店信息审核结果已保存")
    return redirect(url_for("storefront.console"), code=303)


@bp.post("/console/storefront/relations/<int:rel_id>")
def console_relation(rel_id):
    rel = g.db.get(AwemeRelation, rel_id)
    _decide(lambda: review_relation(store().now_ms(g.db), rel, request.form.get("approve") == "1",
                                    request.form.get("reason", "")), "绑定审核结果已保存")
    return redirect(url_for("storefront.console"), code=303)


def _decide(fn, ok: str) -> None:
    try:
        fn()
        g.db.commit()
        flash(ok, "ok")
    except (SandboxError, AttributeError) as exc:
        g.db.rollback()
        flash(getattr(exc, "message", "不存在"), "error")


def _json_body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _control(fn):
    try:
        result = fn()
        g.db.commit()
        return jsonify(result)
    except SandboxError as exc:
        g.db.rollback()
        return jsonify({"error": exc.message}), 400


@bp.post("/sandbox/control/supplier_pages/<supplier_ext_id>/review")
def control_page(supplier_ext_id):
    data = _json_body()

    def do():
        page = g.db.scalar(select(SupplierPage).where(SupplierPage.supplier_ext_id == supplier_ext_id))
        if page is None:
            raise params_error("门店信息不存在")
        review_page(g.db, store().now_ms(g.db), page, bool(data.get("approve")), str(data.get("reason") or ""))
        return {"last_sync_status": page.last_sync_status, "fail_reason": page.fail_reason}
    return _control(do)


@bp.post("/sandbox/control/aweme_bind/<ticket>/agree")
def control_agree(ticket):
    data = _json_body()

    def do():
        rel = agree(g.db, store().now_ms(g.db), _qr_or_404(ticket), user_name=str(data.get("user_name") or "抖音用户"),
                    phone=str(data.get("phone") or "13800000000"))
        return {"aweme_id": rel.aweme_id, "bind_status": rel.bind_status}
    return _control(do)


@bp.post("/sandbox/control/aweme_relations/<aweme_id>/review")
def control_relation(aweme_id):
    data = _json_body()

    def do():
        rel = g.db.scalar(select(AwemeRelation).where(AwemeRelation.aweme_id == aweme_id, AwemeRelation.bind_status == 1))
        if rel is None:
            raise params_error("没有审核中的绑定")
        review_relation(store().now_ms(g.db), rel, bool(data.get("approve")), str(data.get("reason") or ""))
        return {"bind_status": rel.bind_status, "reason": rel.reason}
    return _control(do)
