"""The third-party platform (服务商) side of Douyin: component tickets and tokens, the authorization
page, authorization codes, authorizer tokens and the pushes (fixtures component_*, tpapp_auth_*).

Choices where the references are silent (see README): a ticket is pushed when the sandbox starts,
every `COMPONENT_TICKET_INTERVAL` seconds (600) and on demand (control API, console); a ticket is
good for 12 hours; a component token for 2 hours (the sample's 3600 s is a sample); an
authorization code for an hour and once; an authorizer token for 2 hours, its refresh token for
30 days, and a refresh issues a new pair without ending the old refresh token early. The
authorization page sends the browser to `redirect_uri?authorization_code=…&expires_in=…`.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from . import services as sv
from .models import (App, Component, ComponentTicket, ComponentToken, Token, TpAuthCode, TpAuthLink,
                     TpAuthorization, TpAuthorizerToken)
from .services import SandboxError, params_error
from .store import log_id
from portal.douyin.shapes import INT, STR, DouyinContractError, Obj, opt, read

log = logging.getLogger("sandbox.tpapp")
bp = Blueprint("tpapp", __name__)
control_bp = Blueprint("tpapp_control", __name__, url_prefix="/sandbox/control/component")

TICKET_TTL_MS = 12 * 3600 * 1000
COMPONENT_TOKEN_TTL_S = 7200
AUTH_CODE_TTL_S = 3600
AUTHORIZER_TTL_S = 7200
REFRESH_TTL_S = 30 * 86400
LINK_TTL_MS = 3600 * 1000
TOKEN_INVALID, TOKEN_EXPIRED = 28001003, 28001008
# The permissions the sandbox's authorization grants (SK OpenTpAppAuthGetAuthTokenV2Response sample).
PERMISSIONS = [
    {"category": "开发管理权限", "description": "帮助小程序进行基础功能开发及配置开发所需信息", "id": 1},
    {"category": "基本信息设置权限", "description": "帮助小程序管理名称、头像、简介、服务类目等信息", "id": 2},
]


def store():
    return current_app.extensions["sandbox"]


def _now(s) -> int:
    return store().now_ms(s)


def _reply(body: dict, status: int = 200):
    lid = log_id(int(time.time() * 1000))
    body = {"err_no": body.pop("err_no", 0), "err_msg": body.pop("err_msg", "success"), "log_id": lid, **body}
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["x-tt-logid"] = lid
    return resp


def _check(query=None, body=None) -> None:
    try:
        if query is not None:
            g.query = read(query, request.args.to_dict(), strict=True)
        if body is not None:
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                raise params_error("请求体必须是 JSON 对象")
            g.body = read(body, data, strict=True)
    except DouyinContractError as exc:
        raise params_error(f"参数不合法: {exc.path} {exc.problem}") from exc


def _component_by_token(s, value: str | None) -> Component:
    if not value:
        raise SandboxError(TOKEN_INVALID, "access_token 无效：缺少 component_access_token")
    tok = s.scalar(select(ComponentToken).where(ComponentToken.token == value))
    if tok is None:
        raise SandboxError(TOKEN_INVALID, "access_token 无效：不是第三方平台的 component_access_token")
    if _now(s) >= tok.expires_ms:
        raise SandboxError(TOKEN_EXPIRED, "access_token 已过期")
    return s.scalar(select(Component).where(Component.component_appid == tok.component_appid))


def component_endpoint(*, query=None, body=None, token: bool = True):
    """A tpapp API view: strict request check, the component token when `token`, err_no envelope."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            s = g.db
            try:
                _check(query, body)
                component = _component_by_token(s, request.headers.get("access-token")) if token else None
                data = fn(component, *args, **kwargs)
            except SandboxError as exc:
                s.rollback()
                return _reply({"err_no": exc.code, "err_msg": exc.message}, exc.http_status)
            s.commit()
            # component_token answers flat (SK OpenAuthThirdPartyTokenV2Response), the others in `data`.
            return _reply({"data": data} if token else dict(data))
        return wrapper
    return deco


def resolve_authorizer(s, value: str | None) -> App:
    """The app behind an authorizer access token (package_version APIs); its own client token is
    refused, as are expired, superseded-by-unauthorization or unknown tokens."""
    if not value:
        raise SandboxError(TOKEN_INVALID, "access_token 无效")
    tok = s.scalar(select(TpAuthorizerToken).where(TpAuthorizerToken.access_token == value))
    if tok is None:
        if s.scalar(select(Token.id).where(Token.token == value)) is not None:
            raise SandboxError(TOKEN_INVALID, "access_token 无效：此接口需第三方平台代小程序调用（authorizer_access_token），不接受小程序自己的 access_token")
        raise SandboxError(TOKEN_INVALID, "access_token 无效")
    if tok.revoked:
        raise SandboxError(TOKEN_INVALID, "access_token 无效：小程序已取消授权")
    if _now(s) >= tok.expires_ms:
        raise SandboxError(TOKEN_EXPIRED, "access_token 已过期")
    return sv.get_app(s, tok.appid)


# --- the API ---------------------------------------------------------------------------------

@bp.get("/openapi/v2/auth/token")
@component_endpoint(query=Obj(component_appid=STR, component_appsecret=STR, component_ticket=STR), token=False)
def component_token(_):
    q, s = g.query, g.db
    component = s.scalar(select(Component).where(Component.component_appid == q["component_appid"]))
    if component is None or component.component_appsecret != q["component_appsecret"]:
        raise SandboxError(40001, "component_appid 或 component_appsecret 错误")
    now = _now(s)
    ticket = s.scalar(select(ComponentTicket).where(ComponentTicket.component_appid == component.component_appid,
                                                    ComponentTicket.ticket == q["component_ticket"]))
    if ticket is None or now - ticket.issued_ms > TICKET_TTL_MS:
        raise SandboxError(40002, "component_ticket 无效或已过期")
    token = ComponentToken(component_appid=component.component_appid, token="cmpt." + secrets.token_hex(16),
                           issued_ms=now, expires_ms=now + COMPONENT_TOKEN_TTL_S * 1000)
    s.add(token)
    return {"component_access_token": token.token, "expires_in": COMPONENT_TOKEN_TTL_S}


@bp.post("/api/tpapp/v3/auth/gen_link")
@component_endpoint(body=Obj(link_type=INT, app_icon=opt(STR), app_name=opt(STR), redirect_uri=opt(STR)))
def gen_link(component):
    b, s = g.body, g.db
    if b["link_type"] not in (1, 2):
        raise params_error("link_type 必须是 1 或 2")
    uri = b.get("redirect_uri") or ""
    if uri and urlsplit(uri).scheme not in ("http", "https"):
        raise params_error("redirect_uri 必须是 http(s) 地址")
    link = TpAuthLink(link_id=secrets.token_urlsafe(16), component_appid=component.component_appid,
                      link_type=b["link_type"], redirect_uri=uri, expires_ms=_now(s) + LINK_TTL_MS)
    s.add(link)
    return {"link": request.host_url.rstrip("/") + f"/tpapp/authorize/{link.link_id}"}


def _issue_tokens(s, appid: str, component_appid: str) -> dict:
    now = _now(s)
    tok = TpAuthorizerToken(appid=appid, component_appid=component_appid, access_token="isvact." + secrets.token_hex(20),
                            refresh_token="isvrft." + secrets.token_hex(20), expires_ms=now + AUTHORIZER_TTL_S * 1000,
                            refresh_expires_ms=now + REFRESH_TTL_S * 1000)
    s.add(tok)
    return {"authorizer_access_token": tok.access_token, "authorizer_appid": appid, "authorizer_refresh_token": tok.refresh_token,
            "expires_in": AUTHORIZER_TTL_S, "refresh_expires_in": REFRESH_TTL_S, "authorize_permission": PERMISSIONS}


def _authorization(s, appid: str, component_appid: str) -> TpAuthorization | None:
    return s.scalar(select(TpAuthorization).where(TpAuthorization.appid == appid, TpAuthorization.component_appid == component_appid))


@bp.get("/api/tpapp/v2/auth/get_auth_token")
@component_endpoint(query=Obj(grant_type=STR, authorization_code=opt(STR), authorizer_refresh_token=opt(STR)))
def get_auth_token(component):
    q, s = g.query, g.db
    now = _now(s)
    if q["grant_type"] == "app_to_tp_authorization_code":
        code = s.scalar(select(TpAuthCode).where(TpAuthCode.code == (q.get("authorization_code") or "")))
        if code is None or code.component_appid != component.component_appid or code.used or now >= code.expires_ms:
            raise SandboxError(40003, "authorization_code 无效、已使用或已过期")
        code.used = True
        appid = code.appid
    elif q["grant_type"] == "app_to_tp_refresh_token":
        old = s.scalar(select(TpAuthorizerToken).where(TpAuthorizerToken.refresh_token == (q.get("authorizer_refresh_token") or "")))
        if old is None or old.component_appid != component.component_appid or old.revoked or now >= old.refresh_expires_ms:
            raise SandboxError(40004, "authorizer_refresh_token 无效或已过期")
        appid = old.appid
    else:
        raise params_error("grant_type 必须是 app_to_tp_authorization_code 或 app_to_tp_refresh_token")
    auth = _authorization(s, appid, component.component_appid)
    if auth is None or auth.status != "authorized":
        raise SandboxError(40005, "小程序未授权该第三方平台")
    return _issue_tokens(s, appid, component.component_appid)


def _new_code(s, appid: str, component_appid: str) -> TpAuthCode:
    code = TpAuthCode(code=secrets.token_hex(16), appid=appid, component_appid=component_appid,
                      expires_ms=_now(s) + AUTH_CODE_TTL_S * 1000)
    s.add(code)
    return code


@bp.post("/api/tpapp/v2/auth/retrieve_auth_code")
@component_endpoint(body=Obj(authorization_appid=STR))
def retrieve_auth_code(component):
    s = g.db
    auth = _authorization(s, g.body["authorization_appid"], component.component_appid)
    if auth is None or auth.status != "authorized":
        raise SandboxError(40005, "小程序未授权该第三方平台")
    return {"authorization_code": _new_code(s, auth.appid, component.component_appid).code, "expires_in": AUTH_CODE_TTL_S}


# --- authorizing and withdrawing (the page, the console and the control API) ------------------

def authorize(s, appid: str, component: Component) -> TpAuthCode:
    """The mini-program authorizes the platform: a code, and the AUTHORIZED (or, when it already
    was, UPDATE_AUTHORIZED) push."""
    sv.get_app(s, appid)
    now = _now(s)
    auth = _authorization(s, appid, component.component_appid)
    event = "UPDATE_AUTHORIZED" if auth is not None and auth.status == "authorized" else "AUTHORIZED"
    if auth is None:
        auth = TpAuthorization(appid=appid, component_appid=component.component_appid, authorized_ms=now)
        s.add(auth)
    auth.status, auth.authorized_ms, auth.unauthorized_ms = "authorized", now, None
    code = _new_code(s, appid, component.component_appid)
    s.flush()
    queue_push(component, {"AppId": appid, "TpAppId": component.component_appid, "EventTime": _event_time(now),
                           "Event": event, "AuthorizationCode": code.code, "AuthorizationCodeExpiresIn": AUTH_CODE_TTL_S})
    return code


def unauthorize(s, appid: str, component: Component) -> None:
    """The mini-program withdraws the authorization: its authorizer tokens stop working, UNAUTHORIZED is pushed."""
    auth = _authorization(s, appid, component.component_appid)
    if auth is None or auth.status != "authorized":
        raise SandboxError(40005, "小程序未授权该第三方平台")
    now = _now(s)
    auth.status, auth.unauthorized_ms = "unauthorized", now
    for tok in s.scalars(select(TpAuthorizerToken).where(TpAuthorizerToken.appid == appid,
                                                         TpAuthorizerToken.component_appid == component.component_appid)):
        tok.revoked = True
    queue_push(component, {"AppId": appid, "TpAppId": component.component_appid, "EventTime": _event_time(now), "Event": "UNAUTHORIZED"})


def _event_time(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


@bp.route("/tpapp/authorize/<link_id>", methods=["GET", "POST"])
def authorize_page(link_id):
    """Stands in for Douyin's authorization page: the merchant picks its mini-program and agrees."""
    s = g.db
    link = s.scalar(select(TpAuthLink).where(TpAuthLink.link_id == link_id))
    if link is None or _now(s) >= link.expires_ms:
        abort(404)
    component = s.scalar(select(Component).where(Component.component_appid == link.component_appid))
    apps = list(s.scalars(select(App).order_by(App.id.desc())))
    error = None
    if request.method == "POST":
        appid = request.form.get("appid", "")
        if not any(a.appid == appid for a in apps):
            error = "请选择要授权的小程序"
        elif request.form.get("agree") != "1":
            error = "请阅读并同意授权协议"
        else:
            code = authorize(s, appid, component)
            s.commit()
            if not link.redirect_uri:
                return render_template("tpapp/authorized.html", code=code)
            parts = urlsplit(link.redirect_uri)
            query = urlencode([*parse_qsl(parts.query), ("authorization_code", code.code), ("expires_in", AUTH_CODE_TTL_S)])
            return redirect(urlunsplit(parts._replace(query=query)), 302)
    selected = request.form.get("appid") or request.args.get("appid") or ""
    return render_template("tpapp/authorize.html", link=link, component=component, apps=apps, error=error,
                           selected=selected), 422 if error else 200


# --- pushes -------------------------------------------------------------------------------------

def encrypt(component: Component, event: dict, timestamp: str) -> dict:
    key = base64.b64decode(component.encoding_aes_key + "=")
    message = json.dumps(event, ensure_ascii=False).encode()
    plain = os.urandom(32) + len(message).to_bytes(4, "big") + message + component.component_appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypted = base64.b64encode(enc.update(plain) + enc.finalize()).decode()
    nonce = secrets.token_hex(8)
    signature = hashlib.sha1("".join(sorted([component.push_token, timestamp, nonce, encrypted])).encode()).hexdigest()
    return {"Encrypt": encrypted, "TimeStamp": timestamp, "Nonce": nonce, "MsgSignature": signature}


# What was pushed, newest last (platform, plaintext and envelope), for the console and the tests.
PUSHED: list[dict] = []


def queue_push(component: Component, event: dict) -> None:
    """Deliver one push after the current request (in a thread: never under the store lock)."""
    envelope = encrypt(component, event, str(int(time.time())))
    PUSHED.append({"component_appid": component.component_appid, "event": event, "envelope": envelope, "url": component.push_url})
    del PUSHED[:-50]
    if component.push_url:
        threading.Thread(target=_post, args=(component.push_url, envelope), daemon=True).start()


def _post(url: str, envelope: dict, attempts: int = 5) -> bool:
    for attempt in range(attempts):
        try:
            resp = requests.post(url, json=envelope, timeout=10)
            if resp.status_code == 200 and resp.text.strip() == "success":
                return True
            log.warning("push to %s answered %s %r", url, resp.status_code, resp.text[:100])
        except requests.RequestException as exc:
            log.warning("push to %s failed: %s", url, exc)
        time.sleep(min(5.0, 0.5 * 2 ** attempt))
    return False


def push_ticket(s, component: Component) -> ComponentTicket:
    ticket = ComponentTicket(component_appid=component.component_appid, ticket=secrets.token_hex(16), issued_ms=_now(s))
    s.add(ticket)
    s.flush()
    queue_push(component, {"Ticket": ticket.ticket, "FromUserName": "ByteDanceMicroApp",
                           "CreateTime": _event_time(ticket.issued_ms), "MsgType": "Ticket", "Event": "PUSH"})
    return ticket


def the_component(s) -> Component:
    component = s.scalar(select(Component).order_by(Component.id).limit(1))
    if component is None:  # after a reset: registered again from the configuration
        _register(s, store(), dict(current_app.config))
        s.flush()
        component = s.scalar(select(Component).order_by(Component.id).limit(1))
    return component


def ensure_component(store_, config: dict) -> None:
    """Register the third-party platform from COMPONENT_* (config or environment), or a generated
    one when none exists: the portal of `flask dev` hands the sandbox its own."""
    with store_.session() as s:
        _register(s, store_, config)
        s.commit()


def _register(s, store_, config: dict) -> None:
    def setting(name):
        return config.get(name) or os.environ.get(name) or ""

    appid = setting("COMPONENT_APPID")
    component = s.scalar(select(Component).where(Component.component_appid == appid)) if appid else \
        s.scalar(select(Component).order_by(Component.id).limit(1))
    if component is None:
        component = Component(
            component_appid=appid or "tt" + secrets.token_hex(8),
            component_appsecret=setting("COMPONENT_APPSECRET") or secrets.token_hex(20),
            push_token=setting("COMPONENT_PUSH_TOKEN") or secrets.token_hex(16),
            encoding_aes_key=setting("COMPONENT_ENCODING_AES_KEY") or base64.b64encode(os.urandom(32)).decode().rstrip("="),
            created_ms=store_.now_ms(s))
        s.add(component)
    else:
        component.component_appsecret = setting("COMPONENT_APPSECRET") or component.component_appsecret
        component.push_token = setting("COMPONENT_PUSH_TOKEN") or component.push_token
        component.encoding_aes_key = setting("COMPONENT_ENCODING_AES_KEY") or component.encoding_aes_key
    component.push_url = setting("COMPONENT_PUSH_URL") or component.push_url or ""


class TicketPusher(threading.Thread):
    """Pushes a fresh component_ticket at start and every `interval` seconds, while a push URL is set."""

    def __init__(self, store_, interval: float):
        super().__init__(name="sandbox-ticket-pusher", daemon=True)
        self.store, self.interval = store_, interval
        self.stopped = threading.Event()

    def run(self):
        delay = 1.0
        while not self.stopped.wait(delay):
            delay = self.interval
            try:
                with self.store.session() as s:
                    component = s.scalar(select(Component).where(Component.push_url != "").order_by(Component.id).limit(1))
                    if component is None:
                        continue
                    ticket = ComponentTicket(component_appid=component.component_appid, ticket=secrets.token_hex(16),
                                             issued_ms=self.store.now_ms(s))
                    s.add(ticket)
                    s.commit()
                    event = {"Ticket": ticket.ticket, "FromUserName": "ByteDanceMicroApp",
                             "CreateTime": _event_time(ticket.issued_ms), "MsgType": "Ticket", "Event": "PUSH"}
                    envelope, url = encrypt(component, event, str(int(time.time()))), component.push_url
                if not _post(url, envelope, attempts=3):
                    delay = 5.0  # the portal is not up yet: try again soon
            except Exception:  # keep pushing after a failure; the log shows it
                log.exception("ticket push failed")

    def stop(self):
        self.stopped.set()


# --- console (the operator's page) ---------------------------------------------------------------

def authorization_rows(s, component: Component) -> list[dict]:
    """Every app that ever authorized the platform, newest first, with its current authorizer
    token (None when revoked or never issued)."""
    names = {a.appid: a.name for a in s.scalars(select(App))}
    rows = []
    for auth in s.scalars(select(TpAuthorization).where(TpAuthorization.component_appid == component.component_appid)
                          .order_by(TpAuthorization.authorized_ms.desc(), TpAuthorization.id.desc())):
        token = s.scalar(select(TpAuthorizerToken).where(
            TpAuthorizerToken.appid == auth.appid, TpAuthorizerToken.component_appid == component.component_appid,
            TpAuthorizerToken.revoked.is_(False)).order_by(TpAuthorizerToken.id.desc()).limit(1))
        rows.append({"auth": auth, "name": names.get(auth.appid, ""), "token": token})
    return rows


@bp.get("/console/component")
def console():
    s = g.db
    component = the_component(s)
    s.commit()
    ticket = s.scalar(select(ComponentTicket).where(ComponentTicket.component_appid == component.component_appid)
                      .order_by(ComponentTicket.id.desc()).limit(1))
    pushes = [p for p in reversed(PUSHED) if p["component_appid"] == component.component_appid]
    return render_template("console/component.html", component=component, ticket=ticket, now=_now(s),
                           rows=authorization_rows(s, component), pushes=pushes[:10])


def _console_do(fn, ok: str):
    s = g.db
    try:
        fn(s, the_component(s))
        s.commit()
        flash(ok, "ok")
    except SandboxError as exc:
        s.rollback()
        flash(exc.message, "error")
    return redirect(url_for("tpapp.console"), code=303)


@bp.post("/console/component/push_ticket")
def console_push_ticket():
    return _console_do(push_ticket, "已推送新的 component_ticket")


@bp.post("/console/component/apps/<appid>/unauthorize")
def console_unauthorize(appid):
    """Stands in for the merchant cancelling on Douyin: the tokens stop working, UNAUTHORIZED is pushed."""
    return _console_do(lambda s, component: unauthorize(s, appid, component), f"已取消 {appid} 的授权并推送 UNAUTHORIZED")


@bp.post("/console/component/authorize_link")
def console_authorize_link():
    """A fresh authorization page (no way back: the code reaches the platform in the AUTHORIZED push)."""
    s = g.db
    component = the_component(s)
    link = TpAuthLink(link_id=secrets.token_urlsafe(16), component_appid=component.component_appid, link_type=1,
                      redirect_uri="", expires_ms=_now(s) + LINK_TTL_MS)
    s.add(link)
    s.commit()
    appid = request.form.get("appid") or ""
    return redirect(url_for("tpapp.authorize_page", link_id=link.link_id, **({"appid": appid} if appid else {})), code=303)


# --- control API (tests, scripts; 127.0.0.1 only) -------------------------------------------------

@control_bp.errorhandler(SandboxError)
def _control_error(exc: SandboxError):
    g.db.rollback()
    return jsonify({"error": exc.message, "code": exc.code}), 400


def component_json(component: Component) -> dict:
    return {"component_appid": component.component_appid, "component_appsecret": component.component_appsecret,
            "push_token": component.push_token, "encoding_aes_key": component.encoding_aes_key, "push_url": component.push_url}


@control_bp.route("", methods=["GET", "POST"])
def component_():
    """The platform's keys; POST {push_url} sets where pushes go."""
    s = g.db
    component = the_component(s)
    data = request.get_json(silent=True) or {}
    if request.method == "POST" and "push_url" in data:
        component.push_url = str(data["push_url"] or "")
        s.commit()
    return jsonify(component_json(component))


@control_bp.post("/push_ticket")
def push_ticket_now():
    s = g.db
    ticket = push_ticket(s, the_component(s))
    s.commit()
    return jsonify({"ticket": ticket.ticket})


@control_bp.post("/authorize")
def authorize_now():
    """{appid}: the app authorizes the platform (as on the page); returns the code."""
    s = g.db
    code = authorize(s, str((request.get_json(silent=True) or {}).get("appid") or ""), the_component(s))
    s.commit()
    return jsonify({"authorization_code": code.code, "expires_in": AUTH_CODE_TTL_S})


@control_bp.post("/unauthorize")
def unauthorize_now():
    """{appid}: the app withdraws its authorization (UNAUTHORIZED is pushed)."""
    s = g.db
    unauthorize(s, str((request.get_json(silent=True) or {}).get("appid") or ""), the_component(s))
    s.commit()
    return jsonify({"ok": True})


@control_bp.get("/pushes")
def pushes():
    return jsonify(PUSHED)
