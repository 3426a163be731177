"""What Douyin does, as plain functions over a session. They flush; the caller commits.

Errors are SandboxError(code, message); the API layer turns them into the family's envelope.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import datetime, timedelta, timezone

import requests

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import crypto
from .callbacks import enqueue_trade, enqueue_webhook
from .models import (GOODS_DELIVERY_TYPE, REFUNDED, REFUNDING, UNUSED, VERIFIED, Account, App, FulfilState, ItemOrder,
                     Order, PackageAudit, Poi, Product, Refund, Settlement, SubscriptionMessage, Token, TradeBook,
                     TokenCall, VerifyRecord, VerifyToken, Withdrawal)
from .store import Store, new_id19, rand_digits

UNPAID = 0
TOKEN_TTL_S = 7200
TOKEN_GRACE_S = 300
CANCEL_WINDOW_MS = 3600 * 1000
LEDGER_DELAY_MS = 3600 * 1000
DAY_MS = 86400 * 1000
ONBOARDING = ("NOT_STARTED", "REVIEWING", "APPROVED", "REJECTED")
CHANNELS = ("short_video", "live", "search")
ORDER_SOURCES = ("ad", "normal", "alliance")
SIGNATURE_ERROR = 28001001  # the sandbox's own code for a bad byteAuthorization (no reference names one)


class SandboxError(Exception):
    def __init__(self, code: int, message: str, sub_code: int = 0, http_status: int = 200):
        super().__init__(message)
        self.code, self.message, self.sub_code, self.http_status = code, message, sub_code, http_status


def params_error(message: str) -> SandboxError:
    return SandboxError(10000, message)


def fen_part(amount: int, bp: int) -> int:
    """amount * bp / 10000, rounded half up, in integer fen."""
    return (amount * bp + 5000) // 10000


# apps, accounts, POIs -----------------------------------------------------------------------

def create_app(s: Session, store: Store, name: str, appid: str | None = None,
               app_secret: str | None = None) -> App:
    private_pem, public_pem = crypto.generate_keypair()
    app = App(appid=appid or "tt" + secrets.token_hex(8), name=name or "沙箱小程序",
              app_secret=app_secret or secrets.token_hex(20), platform_private_pem=private_pem,
              platform_public_pem=public_pem, key_version=0, created_ms=store.now_ms(s),
              onboarding_status="NOT_STARTED", onboarding_reason="", merchant_uid="",
              refund_needs_audit=True)
    s.add(app)
    s.flush()
    return app


def get_app(s: Session, appid: str) -> App:
    app = s.scalar(select(App).where(App.appid == appid))
    if app is None:
        raise SandboxError(2100005, "小程序不存在")
    return app


def set_app_public_key(s: Session, app: App, pem: str) -> None:
    """Validate (RSA-2048) and store the app public key; each upload bumps key_version."""
    try:
        app.app_public_key_pem = crypto.normalize_public_key(pem)
    except crypto.KeyError_ as exc:
        raise params_error(str(exc)) from exc
    app.key_version = (app.key_version or 0) + 1


def set_onboarding(s: Session, app: App, status: str, reason: str = "") -> None:
    if status not in ONBOARDING:
        raise params_error("进件状态无效")
    app.onboarding_status = status
    app.onboarding_reason = reason if status == "REJECTED" else ""
    # Douyin gives the merchant id when the 进件 is filed; the merchant queries its state with it.
    if status != "NOT_STARTED" and not app.merchant_uid:
        app.merchant_uid = rand_digits(20, "7")


def create_account(s: Session, account_name: str, account_id: str | None = None) -> Account:
    if not account_name:
        raise params_error("account_name 必填")
    acc = Account(account_id=account_id or new_id19(), account_name=account_name)
    s.add(acc)
    s.flush()
    return acc


def get_account(s: Session, account_id: str) -> Account:
    acc = s.scalar(select(Account).where(Account.account_id == str(account_id or "")))
    if acc is None:
        raise SandboxError(2100004, "账户不存在")
    return acc


def create_poi(s: Session, account_id: str, poi_name: str, address: str = "",
               poi_id: str | None = None) -> Poi:
    get_account(s, account_id)
    if not poi_name:
        raise params_error("poi_name 必填")
    poi = Poi(poi_id=poi_id or new_id19(), account_id=account_id, poi_name=poi_name, address=address)
    s.add(poi)
    s.flush()
    return poi


def bind_account(s: Session, app: App, account_id: str | None) -> None:
    if account_id:
        get_account(s, account_id)
    app.account_id = account_id or None


def app_for_account(s: Session, account_id: str) -> App | None:
    return s.scalar(select(App).where(App.account_id == account_id).order_by(App.id))


# client_token -------------------------------------------------------------------------------

def issue_client_token(s: Session, store: Store, client_key: str, client_secret: str,
                       grant_type: str) -> Token:
    """Douyin §1.1: 7200 s tokens; the previous one lives 5 more minutes; 500 calls / 5 min."""
    if not client_key or not client_secret or grant_type != "client_credential":
        raise SandboxError(10002, "参数错误")
    app = s.scalar(select(App).where(App.appid == client_key))
    if app is None:
        raise SandboxError(10003, "client_key不存在")
    now = store.now_ms(s)
    limit = store.settings(s)["client_token_limit"]
    recent = s.scalar(select(func.count(TokenCall.id)).where(
        TokenCall.appid == app.appid, TokenCall.at_ms > now - 300_000))
    s.add(TokenCall(appid=app.appid, at_ms=now))
    if recent >= limit:
        raise SandboxError(10020, "请求太频繁，请稍后再试")
    if not secrets.compare_digest(client_secret, app.app_secret):
        raise SandboxError(10013, "client_key或client_secret错误")
    tok = Token(appid=app.appid, token="clt." + secrets.token_hex(32), issued_ms=now,
                expires_ms=now + TOKEN_TTL_S * 1000)
    s.add(tok)
    s.flush()
    return tok


def resolve_token(s: Session, store: Store, value: str | None) -> App:
    """The app behind an access-token, or 2190002 (unknown) / 2190008 (expired or superseded)."""
    if not value:
        raise SandboxError(2190002, "access_token无效")
    tok = s.scalar(select(Token).where(Token.token == value))
    if tok is None:
        raise SandboxError(2190002, "access_token无效")
    now = store.now_ms(s)
    if now >= tok.expires_ms:
        raise SandboxError(2190008, "access_token已过期")
    newer = list(s.scalars(select(Token).where(Token.appid == tok.appid, Token.id > tok.id)
                           .order_by(Token.id)))
    if len(newer) >= 2:
        raise SandboxError(2190008, "access_token已过期（已有两个更新的token）")
    if newer and now >= newer[0].issued_ms + TOKEN_GRACE_S * 1000:
        raise SandboxError(2190008, "access_token已过期（已被新token替换）")
    return get_app(s, tok.appid)


def require_account(s: Session, app: App, account_id) -> Account:
    acc = get_account(s, str(account_id or ""))
    if app.account_id != acc.account_id:
        raise SandboxError(10004, "无权限：该来客账户未授权给此小程序")
    return acc


# products -----------------------------------------------------------------------------------

def _attrs(part: dict) -> dict:
    return part.get("attr_key_value_map") or {}


def _attr_json(part: dict, key: str):
    """A structured attr (Douyin sends JSON-encoded strings); None when absent."""
    raw = _attrs(part).get(key)
    if raw in (None, ""):
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise params_error(f"attr_key_value_map.{key} 必须是 JSON 字符串") from exc


# goods/product/save product_type of goods sent by courier (快递商品): no public reference names
# Douyin's value (the known ones are 1, 3, 4, 5, 7, 8, 11, 12, 15); the portal and this sandbox agree on it.
COURIER_PRODUCT_TYPE = 2
FULFIL_STATUSES = ("fulfilling", "fulfilled")


def _delivery_type(sku: dict, product: dict | None = None) -> int:
    """Courier goods (COURIER_PRODUCT_TYPE) have no codes at all (2); otherwise sku attr
    code_source_type 1 (抖音码) gives Douyin certificates (1); 2/3 (三方码, 预导码) and an absent
    value give merchant codes pushed by the developer (0)."""
    if product is not None and product.get("product_type") == COURIER_PRODUCT_TYPE:
        return GOODS_DELIVERY_TYPE
    return 1 if str(_attrs(sku).get("code_source_type") or "") == "1" else 0


def _expire_ms(product: dict, now: int, default_days: int) -> int:
    """Voucher expiry from the product's use_date attr: use_date_type 1 runs to use_end_date
    (end of that day, Beijing time), 2 for day_duration days from purchase; else the default."""
    use_date = _attr_json(product, "use_date") or {}
    if use_date.get("use_date_type") == 2 and int(use_date.get("day_duration") or 0) > 0:
        return now + int(use_date["day_duration"]) * DAY_MS
    if use_date.get("use_date_type") == 1 and use_date.get("use_end_date"):
        end = datetime.strptime(str(use_date["use_end_date"]), "%Y-%m-%d").replace(tzinfo=timezone(timedelta(hours=8)))
        return int(end.timestamp() * 1000) + DAY_MS - 1
    return now + default_days * DAY_MS


def save_product(s: Session, store: Store, app: App, account_id, product: dict, sku: dict) -> Product:
    """Create or update (by product_id, then out_id) and send to review: draft_status 10.

    `product` and `sku` have the shape api.SAVE_BODY checked; their structured attrs must decode.
    """
    acc = require_account(s, app, account_id)
    if not product["product_name"].strip():
        raise params_error("product.product_name 必填")
    actual = sku["actual_amount"]
    origin = sku.get("origin_amount", actual)
    if product["product_type"] <= 0 or actual <= 0 or origin < actual:
        raise params_error("product_type 必填；actual_amount 必须大于0且不大于 origin_amount")
    if str(_attrs(sku).get("code_source_type") or "1") not in ("1", "2", "3"):
        raise params_error("sku.attr_key_value_map.code_source_type 必须是 1、2 或 3")
    _expire_ms(product, 0, 0)
    for poi in product["pois"]:
        if not s.scalar(select(Poi).where(Poi.poi_id == poi["poi_id"], Poi.account_id == acc.account_id)):
            raise params_error(f"poi_id {poi['poi_id']} 不属于该账户")
    now = store.now_ms(s)
    row = None
    if product.get("product_id"):
        row = s.scalar(select(Product).where(Product.product_id == product["product_id"],
                                             Product.account_id == acc.account_id))
        if row is None:
            raise params_error("product_id 不存在")
    elif product.get("out_id"):
        row = s.scalar(select(Product).where(Product.out_id == product["out_id"],
                                             Product.account_id == acc.account_id))
    if row is None:
        row = Product(product_id=new_id19(), account_id=acc.account_id, submitted_ms=now,
                      update_ms=now, draft={"create_time": now // 1000})
        s.add(row)
    sku = dict(sku, origin_amount=origin)
    old_sku_id = ((row.draft or {}).get("sku") or {}).get("sku_id")
    sku["sku_id"] = str(sku.get("sku_id") or old_sku_id or new_id19())
    product = dict(product, product_id=row.product_id, account_name=acc.account_name)
    row.out_id = product.get("out_id") or None
    row.draft = {"product": product, "sku": sku, "create_time": (row.draft or {}).get("create_time", now // 1000)}
    row.draft_status = 10
    row.audit_msg = ""
    row.submitted_ms = now
    row.update_ms = now
    row.decided_ms = None
    s.flush()
    return row


def review_product(s: Session, store: Store, row: Product, approve: bool, reason: str = "") -> None:
    """Decide a pending review and send life_product_audit (PASS | REJECT)."""
    if row.draft_status != 10:
        raise params_error("该商品不在审核中")
    if not approve and not reason.strip():
        raise params_error("驳回必须填写原因")
    now = store.now_ms(s)
    row.decided_ms = now
    row.update_ms = now
    if approve:
        row.draft_status = 1
        row.audit_msg = ""
        row.online = row.draft
        if row.online_status is None:
            row.online_status = 1
    else:
        row.draft_status = 12
        row.audit_msg = reason.strip()
    app = app_for_account(s, row.account_id)
    if app is not None:
        enqueue_webhook(s, store, app.appid, "life_product_audit", {
            "product_id": row.product_id,
            "status": "PASS" if approve else "REJECT", "reason": row.audit_msg,
        }, ref=row.product_id)


def operate_product(s: Session, store: Store, app: App, account_id, product_id, out_id, op_type) -> Product:
    acc = require_account(s, app, account_id)
    q = select(Product).where(Product.account_id == acc.account_id)
    if product_id:
        q = q.where(Product.product_id == str(product_id))
    elif out_id:
        q = q.where(Product.out_id == str(out_id))
    else:
        raise params_error("product_id 或 out_id 必填")
    row = s.scalar(q)
    if row is None:
        raise params_error("商品不存在")
    if op_type not in (1, 2, "1", "2"):
        raise params_error("op_type 必须是 1（上线）或 2（下线）")
    if row.online is None:
        raise SandboxError(10000, "商品未审核通过，不能上下线")
    row.online_status = 1 if int(op_type) == 1 else 0
    row.update_ms = store.now_ms(s)
    return row


def _numeric(value):
    """Ids as the goods replies carry them: digit strings as numbers (Douyin's samples do)."""
    return int(value) if str(value).isdigit() else value


def product_view(row: Product, which: str = "online") -> dict:
    """An entry of online/query ({online_status, product, sku} with create/update times) or of
    draft/query, draft/get ({draft_status, audit_msg, product, sku})."""
    version = (row.online if which == "online" else row.draft) or row.draft
    product = dict(version.get("product", {}))
    product["pois"] = [dict(p, poi_id=_numeric(p.get("poi_id"))) for p in product.get("pois") or []]
    sku = dict(version.get("sku", {}))
    if which != "online":
        return {"draft_status": row.draft_status, "audit_msg": row.audit_msg, "product": product, "sku": sku}
    times = {"create_time": int(version.get("create_time") or row.submitted_ms // 1000),
             "update_time": row.update_ms // 1000}
    return {"online_status": row.online_status if row.online_status is not None else 0,
            "product": dict(product, **times), "sku": dict(sku, **times)}


def product_pois(s: Session, row: Product) -> list[Poi]:
    listed = [str(p.get("poi_id")) for p in (row.online or {}).get("product", {}).get("pois") or []]
    q = select(Poi).where(Poi.account_id == row.account_id)
    if listed:
        q = q.where(Poi.poi_id.in_(listed))
    return list(s.scalars(q))


# orders -------------------------------------------------------------------------------------

def open_id_for(appid: str, phone: str) -> str:
    return "sbx_" + hashlib.sha1(f"{appid}:{phone}".encode()).hexdigest()[:28]


def merchant_orders_url(app: App) -> str | None:
    """The merchant back end's order endpoint, derived from the trade callback URL the merchant
    configured (…/douyin/callbacks/<token>/trade → …/mp/<token>/orders)."""
    url = app.trade_callback_url or ""
    marker = "/douyin/callbacks/"
    if marker not in url or not url.endswith("/trade"):
        return None
    base, _, rest = url.partition(marker)
    return f"{base}/mp/{rest[: -len('/trade')]}/orders"


def ask_merchant(app: App, payload: dict) -> dict:
    """What the mini-program front end does first: ask the merchant's back end to place the
    order; it answers tt.requestOrder's arguments {data, byteAuthorization}."""
    url = merchant_orders_url(app)
    if url is None:
        raise params_error("小程序未配置商家后端（交易回调地址不是 …/douyin/callbacks/<token>/trade）")
    return post_to_merchant(url, payload, refused="商家后端拒绝下单：")


def merchant_order(app: App, out_order_no: str, open_id: str) -> dict | None:
    """The merchant back end's view of an order (its own codes, 三方码), or None."""
    url = merchant_orders_url(app)
    if url is None:
        return None
    try:
        resp = requests.get(f"{url}/{out_order_no}", params={"open_id": open_id}, timeout=5)
    except requests.RequestException:
        return None
    return resp.json() if resp.status_code == 200 else None


def purchase(s: Session, store: Store, *, product_id: str, poi_id: str, quantity: int = 1,
             channel: str = "short_video", tracking_code: str = "", order_source: str = "normal",
             phone: str = "13800000000", pay_channel: int = 10, pay: bool = True) -> Order:
    """A consumer buys an online product in the merchant's mini-program: the front end asks the
    merchant's back end for the order, then calls tt.requestOrder (`request_order`)."""
    row = s.scalar(select(Product).where(Product.product_id == str(product_id)))
    if row is None or row.online is None or row.online_status != 1:
        raise params_error("商品不存在或未上线")
    if channel not in CHANNELS or order_source not in ORDER_SOURCES:
        raise params_error("channel / order_source 无效")
    if poi_id not in {p.poi_id for p in product_pois(s, row)}:
        raise params_error("该门店不售卖此商品")
    app = app_for_account(s, row.account_id)
    if app is None:
        raise params_error("该商户未绑定小程序")
    open_id = open_id_for(app.appid, phone)
    reply = ask_merchant(app, {
        "open_id": open_id, "phone": phone, "sku_id": row.out_id or row.product_id, "poi_id": poi_id,
        "quantity": int(quantity), "channel": channel, "tracking_code": tracking_code, "order_source": order_source})
    return request_order(s, store, data=reply.get("data") or "", byte_authorization=reply.get("byteAuthorization") or "",
                         poi_id=poi_id, phone=phone, channel=channel, tracking_code=tracking_code,
                         order_source=order_source, pay_channel=pay_channel, pay=pay)


def laike_purchase(s: Session, store: Store, *, product_id: str, poi_id: str, quantity: int = 1,
                   phone: str = "13800000000") -> Order:
    """A consumer buys an online product on Douyin's own merchant channel (来客), not in the
    mini-program: the order carries Douyin certificates, nothing is asked of the merchant, no
    trade `payment` callback is sent; the paid order is told by `life_trade_order_notify`
    (SK EventSamples/GoodLife/LifeTradeOrderNotifyEvent.json)."""
    row = s.scalar(select(Product).where(Product.product_id == str(product_id)))
    if row is None or row.online is None or row.online_status != 1:
        raise params_error("商品不存在或未上线")
    if poi_id not in {p.poi_id for p in product_pois(s, row)}:
        raise params_error("该门店不售卖此商品")
    if not 1 <= int(quantity) <= 10:
        raise params_error("每单 1～10 张券")
    app = app_for_account(s, row.account_id)
    now = store.now_ms(s)
    sku = row.online.get("sku") or {}
    price = int(sku.get("actual_amount") or 0)
    origin = int(sku.get("origin_amount") or price)
    quantity = int(quantity)
    order_id = "ot" + new_id19()
    order = Order(order_id=order_id, out_order_no="lk" + order_id[2:], appid=app.appid if app else "",
                  account_id=row.account_id, poi_id=poi_id, product_id=row.product_id,
                  out_product_id=row.out_id or "", sku_id=str(sku.get("sku_id") or row.product_id),
                  title=str(row.online["product"].get("product_name") or ""), quantity=quantity,
                  unit_price=price, origin_price=origin, total_amount=price * quantity, discount_amount=0,
                  pay_status="SUCCESS", pay_channel=10, channel_pay_id=rand_digits(28, "4"),
                  open_id=open_id_for(app.appid if app else "", phone), phone=phone, channel="short_video",
                  tracking_code="", order_source="normal", delivery_type=1, trade_ms=now, pay_ms=now,
                  encrypted_data=secrets.token_urlsafe(24), short_code=secrets.token_urlsafe(6))
    s.add(order)
    s.flush()
    expire_ms = _expire_ms(row.online["product"], now, store.settings(s)["certificate_valid_days"])
    for _ in range(quantity):
        s.add(ItemOrder(item_order_id=new_id19(), order_pk=order.id, price=price, certificate_id=new_id19(),
                        code=rand_digits(12, "1"), encrypted_code="sbxenc" + secrets.token_urlsafe(24),
                        status=UNUSED, start_ms=now, expire_ms=expire_ms))
    s.flush()
    s.refresh(order)
    if app is not None:
        enqueue_webhook(s, store, app.appid, "life_trade_order_notify", {
            "action": "pay_success", "msg_time": now // 1000,
            "order": {"order_id": order.order_id, "pay_amount": order.total_amount - order.discount_amount,
                      "original_amount": origin * quantity, "account_id": order.account_id,
                      "create_time": now // 1000, "pay_time": now // 1000}}, ref=order.order_id)
    return order


def _request_order_data(data: str) -> dict:
    try:
        parsed = json.loads(data)
        sku = parsed["skuList"][0]
        out = {"sku_id": str(sku["skuId"]), "price": int(sku["price"]), "quantity": int(sku["quantity"]),
               "title": str(sku["title"]), "out_order_no": str(parsed["outOrderNo"]),
               "total_amount": int(parsed["totalAmount"])}
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise params_error(f"requestOrder data 格式错误：{exc}") from exc
    if len(parsed["skuList"]) != 1 or not 1 <= out["quantity"] <= 100 or out["price"] * out["quantity"] != out["total_amount"]:
        raise params_error("requestOrder data 无效：只支持一个 sku，totalAmount 必须等于 price × quantity")
    return out


def verify_item(s: Session, app: App, order: Order, item: ItemOrder, poi_id: str, now: int) -> VerifyRecord:
    """Mark one unused item order verified at `poi_id` and record the verify (its verify_id)."""
    rec = VerifyRecord(verify_id=new_id19(), appid=app.appid, account_id=order.account_id,
                       order_id=order.order_id, item_order_id=item.item_order_id,
                       certificate_id=item.certificate_id, poi_id=poi_id, amount=item.price,
                       verify_ms=now)
    s.add(rec)
    item.status = VERIFIED
    return rec


def check_byte_authorization(s: Session, store: Store, header: str, method: str, uri: str, body: str) -> App:
    """The app whose uploaded public key verifies this Byte-Authorization over method, URI and body.

    Raises SandboxError(SIGNATURE_ERROR) when the header is malformed, names an unknown app or an old
    key_version, has a timestamp that is not Unix seconds (or older than `signature_max_age_seconds`
    when that is set), or does not verify."""
    fields = crypto.parse_byte_authorization(header)
    if fields is None:
        raise SandboxError(SIGNATURE_ERROR, "byteAuthorization 格式不正确")
    app = s.scalar(select(App).where(App.appid == fields["appid"]))
    if app is None or not app.app_public_key_pem:
        raise SandboxError(SIGNATURE_ERROR, "byteAuthorization 无效：小程序不存在或未上传应用公钥")
    if fields.get("key_version") and fields["key_version"] != str(app.key_version):
        raise SandboxError(SIGNATURE_ERROR, f"key_version {fields['key_version']} 不是当前版本 {app.key_version}")
    ts = fields["timestamp"]
    if not (ts.isdigit() and len(ts) == 10):
        raise SandboxError(SIGNATURE_ERROR, "timestamp 必须是秒级 Unix 时间")
    max_age = store.settings(s)["signature_max_age_seconds"]
    if max_age and abs(store.now_ms(s) // 1000 - int(ts)) > max_age:
        raise SandboxError(SIGNATURE_ERROR, "timestamp 已过期")
    message = crypto.request_string(method, uri, ts, fields["nonce_str"], body)
    if not crypto.rsa_verify(app.app_public_key_pem, message, fields["signature"]):
        raise SandboxError(SIGNATURE_ERROR, "byteAuthorization 验签失败")
    return app


def request_order(s: Session, store: Store, *, data: str, byte_authorization: str, poi_id: str = "",
                  phone: str = "13800000000", channel: str = "", tracking_code: str = "", order_source: str = "normal",
                  pay_channel: int = 10, pay: bool = True) -> Order:
    """tt.requestOrder: check byteAuthorization (POST "/requestOrder" over `data`, with the app
    public key uploaded here), create the Douyin order and its item orders (one per unit) from the
    signed data, and on payment send the `payment` message with the reference fields only.

    `poi_id`, `phone`, channel, tracking code and source are what the consumer did on this page;
    the platform keeps them for the consumer's views and sends none of them to the merchant."""
    app = check_byte_authorization(s, store, byte_authorization, "POST", "/requestOrder", data)
    if app.onboarding_status != "APPROVED":
        raise params_error("商家未完成支付进件，暂不能下单")
    placed = _request_order_data(data)
    if find_order(s, app, out_order_no=placed["out_order_no"]) is not None:
        raise params_error("outOrderNo 已下过单")
    row = s.scalar(select(Product).where(Product.account_id == app.account_id, Product.out_id == placed["sku_id"])) or \
        s.scalar(select(Product).where(Product.account_id == app.account_id, Product.product_id == placed["sku_id"]))
    st = store.settings(s)
    now = store.now_ms(s)
    online = (row.online or row.draft) if row is not None else {}
    sku = online.get("sku") or {}
    delivery_type = _delivery_type(sku, online.get("product")) if sku else 0
    expire_ms = _expire_ms(online.get("product") or {}, now, st["certificate_valid_days"])
    quantity, price = placed["quantity"], placed["price"]
    order_id = "ot" + new_id19()
    order = Order(order_id=order_id, out_order_no=placed["out_order_no"], appid=app.appid,
                  account_id=app.account_id or "", poi_id=poi_id, product_id=row.product_id if row else "",
                  out_product_id=placed["sku_id"], sku_id=placed["sku_id"], title=placed["title"],
                  quantity=quantity, unit_price=price, origin_price=int(sku.get("origin_amount") or price),
                  total_amount=placed["total_amount"], discount_amount=0,
                  pay_status="PROCESS", pay_channel=int(pay_channel), channel_pay_id="",
                  open_id=open_id_for(app.appid, phone), phone=phone, channel=channel or "short_video",
                  tracking_code=tracking_code, order_source=order_source or "normal",
                  delivery_type=delivery_type, trade_ms=now,
                  encrypted_data=secrets.token_urlsafe(24) if delivery_type == 1 else None,
                  short_code=secrets.token_urlsafe(6) if delivery_type == 1 else None)
    s.add(order)
    s.flush()
    for _ in range(quantity):
        s.add(ItemOrder(item_order_id=new_id19(), order_pk=order.id, price=price,
                        certificate_id=new_id19(),
                        code=rand_digits(12, "1") if delivery_type == 1 else None,
                        encrypted_code="sbxenc" + secrets.token_urlsafe(24), status=UNPAID,
                        start_ms=now, expire_ms=expire_ms))
    s.flush()
    s.refresh(order)
    if pay:
        order.pay_status = "SUCCESS"
        order.pay_ms = now
        order.channel_pay_id = rand_digits(28, "4")
        for item in order.items:
            item.status = UNUSED
    else:
        order.pay_status = "FAIL"
    enqueue_trade(s, store, app.appid, "payment", payment_msg(order, app, now),
                  schedule="payment", ref=order.order_id)
    return order


def payment_msg(order: Order, app: App, now: int) -> dict:
    """The `payment` msg exactly as the platform sends it (PG GeneralTradeMsg): payment facts only."""
    paid = order.pay_status == "SUCCESS"
    msg = {
        "app_id": order.appid,
        "out_order_no": order.out_order_no,
        "order_id": order.order_id,
        "status": "SUCCESS" if paid else "CANCEL",
        "total_amount": order.total_amount,
        "discount_amount": order.discount_amount,
        "event_time": now,
    }
    if paid:
        msg.update(pay_channel=order.pay_channel, channel_pay_id=order.channel_pay_id,
                   user_bill_pay_id="DTPS" + order.channel_pay_id, merchant_uid=app.merchant_uid)
    else:
        msg["message"] = "USER_CANCEL"
    return msg


def find_order(s: Session, app: App, order_id=None, out_order_no=None) -> Order | None:
    q = select(Order).where(Order.appid == app.appid)
    if order_id:
        return s.scalar(q.where(Order.order_id == str(order_id)))
    if out_order_no:
        return s.scalar(q.where(Order.out_order_no == str(out_order_no)))
    return None


def order_query_view(order: Order) -> dict:
    """order_query's data (SK TradeBasicDeveloperOrderQueryV1Response sample): one item order per
    unit, `sku_id` as the merchant placed it in requestOrder."""
    view = {
        "app_id": order.appid, "order_id": order.order_id, "out_order_no": order.out_order_no,
        "pay_status": order.pay_status, "total_amount": order.total_amount,
        "discount_amount": order.discount_amount, "trade_time": order.trade_ms, "merchant_uid": "",
        "item_order_list": [{"item_order_id": i.item_order_id, "sku_id": order.sku_id,
                             "item_order_amount": i.price} for i in order.items],
    }
    if order.pay_status == "SUCCESS":
        view.update(pay_channel=order.pay_channel, channel_pay_id=order.channel_pay_id, pay_time=order.pay_ms or 0)
    return view


def push_delivery(s: Session, store: Store, app: App, body) -> list[dict]:
    """Third-party codes reported as used: the listed item orders (or all with use_all) of a
    delivery_type 0 order become verified. Idempotent: an item already verified answers its record."""
    order = find_order(s, app, out_order_no=body["out_order_no"])
    if order is None:
        raise params_error("订单不存在")
    if order.pay_status != "SUCCESS":
        raise params_error("订单未支付")
    if order.delivery_type != 0:
        raise params_error("该订单使用抖音券码（delivery_type 1），不能推送三方码核销")
    wanted = [i["item_order_id"] for i in body.get("item_order_list") or []]
    if body.get("use_all"):
        items = [i for i in order.items if i.status in (UNUSED, VERIFIED)]
    else:
        if not wanted:
            raise params_error("item_order_list 或 use_all 必填")
        by_id = {i.item_order_id: i for i in order.items}
        items = [by_id.get(w) for w in wanted]
        if any(i is None for i in items):
            raise params_error("item_order_id 不属于该订单")
    poi_id = (body.get("poi_info") or {}).get("valid_poi_id_str") or order.poi_id
    now = store.now_ms(s)
    results = []
    for item in items:
        if item.status == VERIFIED:
            rec = latest_verify(s, item)
        elif item.status == UNUSED:
            rec = verify_item(s, app, order, item, poi_id, now)
        else:
            raise params_error(f"子订单 {item.item_order_id} 已退款或退款中，不能核销")
        results.append({"item_order_id": item.item_order_id, "certificate_id": item.certificate_id,
                        "verify_id": rec.verify_id if rec else "", "verify_time": rec.verify_ms if rec else now})
    s.flush()
    return results


def push_fulfil_status(s: Session, store: Store, app: App, body: dict) -> FulfilState:
    """fulfill_push_status for a paid goods order of this app: "fulfilling" (shipped) then
    "fulfilled" (delivered, which completes its item orders so they can be settled). Pushing the
    state the order is already in changes nothing; going back is refused."""
    order = find_order(s, app, order_id=body["order_id"])
    if order is None:
        raise SandboxError(10000, "订单不存在")
    if order.pay_status != "SUCCESS":
        raise params_error("订单未支付")
    if order.delivery_type != GOODS_DELIVERY_TYPE:
        raise params_error("该订单不是快递商品订单，请用券码核销")
    if body["to_status"] not in FULFIL_STATUSES:
        raise params_error(f"to_status 必须是 {' 或 '.join(FULFIL_STATUSES)}")
    by_id = {i.item_order_id: i for i in order.items}
    if not body["item_order_id_list"] or any(i not in by_id for i in body["item_order_id_list"]):
        raise params_error("item_order_id_list 必须是该订单的商品单号")
    current = fulfil_status(s, order)
    if current and FULFIL_STATUSES.index(body["to_status"]) < FULFIL_STATUSES.index(current):
        raise params_error("履约状态不能回退")
    now = store.now_ms(s)
    row = FulfilState(appid=app.appid, order_id=order.order_id, to_status=body["to_status"],
                      item_order_ids=list(body["item_order_id_list"]), create_ms=now)
    s.add(row)
    if body["to_status"] == "fulfilled":
        for item_order_id in body["item_order_id_list"]:
            item = by_id[item_order_id]
            if item.status == UNUSED:
                verify_item(s, app, order, item, order.poi_id, now)
    s.flush()
    return row


def fulfil_status(s: Session, order: Order) -> str:
    """The latest fulfilment state a goods order was given ("" until the developer ships it)."""
    return s.scalar(select(FulfilState.to_status).where(FulfilState.order_id == order.order_id)
                    .order_by(FulfilState.id.desc()).limit(1)) or ""


def cancel_pushed_delivery(s: Session, store: Store, app: App, body) -> None:
    """verify_cancel: undo one push_delivery verify, under the same rules as a certificate cancel."""
    rec = s.scalar(select(VerifyRecord).where(VerifyRecord.verify_id == body["verify_id"],
                                              VerifyRecord.appid == app.appid))
    if rec is None or rec.order_id != body["order_id"]:
        raise params_error("核销记录不存在")
    cancel_verify(s, store, app, {"verify_id": body["verify_id"], "certificate_id": body["certificate_id"]})


TAG_GROUPS = [
    {"tag_group_id": "tag_group_7272625659887960076", "tag_list": [
        {"tag_id": "tag_7272625659887943692", "tag_name": "随时退", "tag_type": 1, "biz_line": 1,
         "goods_type": 1, "tag_descs": ["未使用的券可随时退款"]}]},
]


def tag_groups(goods_type) -> list[dict]:
    """tag_query: the trade rule tag groups (the sandbox has one, for every goods type)."""
    return [dict(g, tag_list=[dict(t, goods_type=goods_type or t["goods_type"]) for t in g["tag_list"]])
            for g in TAG_GROUPS]


# certificates -------------------------------------------------------------------------------

def _prepare_error(message: str) -> SandboxError:
    return SandboxError(13000, message, sub_code=13000)


def _usable(item: ItemOrder, now: int) -> bool:
    return item.status == UNUSED and item.expire_ms > now


def certificate_view(s: Session, order: Order, item: ItemOrder, now: int, *, with_code: bool) -> dict:
    """prepare's certificate (with_code=False: times in seconds, SK PrepareV1Response) or
    certificate/get's (with_code=True: code, verify{…certificate_id}, times in ms as SK's sample)."""
    original = order.origin_price
    if not with_code:
        return {
            "encrypted_code": item.encrypted_code, "start_time": item.start_ms // 1000,
            "expire_time": item.expire_ms // 1000,
            "amount": {"original_amount": original, "list_market_amount": original, "pay_amount": item.price,
                       "coupon_pay_amount": item.price, "merchant_ticket_amount": 0,
                       "payment_discount_amount": 0, "platform_discount_amount": 0},
            "sku": {"sku_id": order.sku_id, "title": order.title, "groupon_type": 1,
                    "market_price": original, "third_sku_id": order.out_product_id,
                    "account_id": order.account_id},
        }
    rec = latest_verify(s, item)
    out = {
        "encrypted_code": item.encrypted_code, "status": item.status, "expire_time": item.expire_ms,
        "amount": {"original_amount": original, "pay_amount": item.price, "merchant_ticket_amount": 0},
        "sku": {"sku_id": order.sku_id, "title": order.title, "market_price": original},
    }
    if item.code:
        out["code"] = item.code
    if rec is not None:
        out["verify"] = {
            "verify_id": rec.verify_id, "certificate_id": rec.certificate_id, "verify_type": 4,
            "verify_time": rec.verify_ms, "verifier_unique_id": "开放平台API",
            "can_cancel": now - rec.verify_ms <= CANCEL_WINDOW_MS and not item.settle_id}
    return out


def latest_verify(s: Session, item: ItemOrder) -> VerifyRecord | None:
    return s.scalar(select(VerifyRecord).where(VerifyRecord.item_order_id == item.item_order_id,
                                               VerifyRecord.cancel_ms.is_(None))
                    .order_by(VerifyRecord.id.desc()))


def prepare_certificates(s: Session, store: Store, app: App, code=None, encrypted_data=None) -> dict:
    now = store.now_ms(s)
    if encrypted_data:
        order = s.scalar(select(Order).where(Order.encrypted_data == str(encrypted_data)))
        if order is None or order.account_id != app.account_id:
            raise _prepare_error("二维码数据已失效")
        items = [i for i in order.items if _usable(i, now)]
    elif code:
        item = s.scalar(select(ItemOrder).join(Order).where(
            ItemOrder.code == str(code), Order.account_id == app.account_id))
        if item is None:
            raise _prepare_error("无券信息")
        order = item.order
        if order.delivery_type != 1:
            raise _prepare_error("非生活服务券码")
        items = [item] if _usable(item, now) else []
    else:
        raise params_error("code 或 encrypted_data 必填")
    if not items:
        raise _prepare_error("无券信息")
    ttl = store.settings(s)["verify_token_ttl_seconds"]
    token = VerifyToken(token=secrets.token_hex(16), order_id=order.order_id,
                        encrypted_codes=[i.encrypted_code for i in items], expires_ms=now + ttl * 1000)
    s.add(token)
    return {"verify_token": token.token, "order_id": order.order_id,
            "certificates": [certificate_view(s, order, i, now, with_code=False) for i in items]}


def verify_certificates(s: Session, store: Store, app: App, body: dict) -> list[dict]:
    """Verify the vouchers of ONE order. Per-voucher results; 1208 means already verified."""
    now = store.now_ms(s)
    poi_id = str(body.get("poi_id") or "")
    poi = s.scalar(select(Poi).where(Poi.poi_id == poi_id))
    if poi is None or poi.account_id != app.account_id:
        raise params_error("poi_id 无效或不属于该账户")
    encrypted_codes, codes = body.get("encrypted_codes"), body.get("codes")
    if encrypted_codes:
        token = s.scalar(select(VerifyToken).where(VerifyToken.token == str(body.get("verify_token") or "")))
        if token is None or token.expires_ms < now:
            raise params_error("verify_token 无效或已过期，请重新 prepare")
        order = s.scalar(select(Order).where(Order.order_id == token.order_id))
        wanted = [("encrypted_code", str(c)) for c in encrypted_codes]
    elif codes:
        order = find_order(s, app, body.get("order_id"))
        if order is None:
            raise params_error("三方券码核销需要有效的 order_id")
        wanted = [("code", str(c)) for c in codes]
    else:
        raise params_error("encrypted_codes 或 codes 必填")
    if order is None or order.account_id != app.account_id:
        raise params_error("订单不存在")
    allowed_pois = {p.poi_id for p in product_pois(s, s.scalar(
        select(Product).where(Product.product_id == order.product_id)))}
    results, verified_any = [], False
    for field, value in wanted:
        item = next((i for i in order.items if getattr(i, field) == value), None)
        base = {"account_id": order.account_id, "origin_code": value
                if field == "code" else "", "code": item.code if item else value,
                "certificate_id": item.certificate_id if item else "", "verify_id": ""}
        if item is None or item.status == UNPAID:
            results.append(dict(base, result=1204, msg="券码不存在"))
        elif item.status == VERIFIED:
            rec = latest_verify(s, item)
            results.append(dict(base, result=1208, msg="券码已核销", verify_id=rec.verify_id if rec else ""))
        elif item.status == REFUNDED:
            results.append(dict(base, result=1206, msg="券码已退款"))
        elif item.status == REFUNDING:
            results.append(dict(base, result=1207, msg="券码退款中"))
        elif item.expire_ms <= now:
            results.append(dict(base, result=1205, msg="券码已过期"))
        elif poi_id not in allowed_pois:
            results.append(dict(base, result=1301, msg="该门店不可核销此券"))
        else:
            rec = verify_item(s, app, order, item, poi_id, now)
            verified_any = True
            results.append(dict(base, result=0, msg="success", verify_id=rec.verify_id))
            enqueue_webhook(s, store, app.appid, "life_trade_certificate_notify", {
                "action": "verify", "msg_time": now // 1000,
                "certificate": {"certificate_id": item.certificate_id, "order_id": order.order_id,
                                "account_id": order.account_id}}, ref=item.certificate_id)
    if verified_any and order.delivery_type == 1:
        order.encrypted_data = secrets.token_urlsafe(24)  # a successful verify kills the QR
        order.short_code = secrets.token_urlsafe(6)
    s.flush()
    return results


def cancel_verify(s: Session, store: Store, app: App, body: dict) -> None:
    """Undo a verify within 1 h (sandbox clock); late: 3000001 / sub 2034000910."""
    now = store.now_ms(s)
    rec = s.scalar(select(VerifyRecord).where(VerifyRecord.verify_id == str(body.get("verify_id") or ""),
                                              VerifyRecord.appid == app.appid))
    if rec is None or rec.certificate_id != str(body.get("certificate_id") or ""):
        raise params_error("核销记录不存在")
    token = body.get("cancel_token")
    if rec.cancel_ms is not None:
        if token and rec.cancel_token == str(token):
            return
        raise SandboxError(3000002, "该核销记录已撤销")
    if now - rec.verify_ms > CANCEL_WINDOW_MS:
        raise SandboxError(3000001, "已超过可撤销时限", sub_code=2034000910)
    item = s.scalar(select(ItemOrder).where(ItemOrder.item_order_id == rec.item_order_id))
    if item.settle_id:
        raise SandboxError(3000003, "已结算，不可撤销")
    rec.cancel_ms = now
    rec.cancel_token = str(token) if token else None
    item.status = UNUSED


def get_certificates(s: Session, store: Store, app: App, args) -> list[dict]:
    now = store.now_ms(s)
    q = select(ItemOrder).join(Order).where(Order.account_id == app.account_id)
    if args.get("encrypted_code"):
        q = q.where(ItemOrder.encrypted_code == args["encrypted_code"])
    elif args.get("code"):
        q = q.where(ItemOrder.code == args["code"])
    elif args.get("order_id"):
        q = q.where(Order.order_id == args["order_id"])
    else:
        raise params_error("encrypted_code、code 或 order_id 必填")
    items = list(s.scalars(q.order_by(ItemOrder.id)))
    if not items:
        raise _prepare_error("无券信息")
    return [certificate_view(s, i.order, i, now, with_code=True) for i in items]


# refunds ------------------------------------------------------------------------------------

def _refund_detail(refund: Refund) -> dict:
    return {"item_order_quantity": len(refund.item_order_ids),
            "item_order_detail": [{"item_order_id": i, "refund_amount": refund.item_amounts[i]}
                                  for i in refund.item_order_ids]}


def _is_settled(s: Session, order: Order) -> bool:
    return any(i.settle_id for i in order.items)


def _new_refund(s, store, order, items, amounts, refund_type, reason, *, need_audit,
                out_refund_no=None, notify_url=None, cp_extra="") -> Refund:
    now = store.now_ms(s)
    refund = Refund(refund_id="motb" + new_id19(), out_refund_no=out_refund_no, appid=order.appid,
                    order_id=order.order_id, item_order_ids=[i.item_order_id for i in items],
                    item_amounts=amounts, amount=sum(amounts.values()), refund_type=refund_type,
                    reason=reason, status="PROCESSING", need_audit=need_audit,
                    audit_status="PENDING" if need_audit else None, deny_message="",
                    notify_url=notify_url or None, cp_extra=cp_extra or "", create_ms=now)
    if need_audit:
        hours = store.settings(s)["refund_audit_hours"]
        refund.audit_deadline_ms = now + int(hours * 3600 * 1000)
    for item in items:
        item.status = REFUNDING
    s.add(refund)
    s.flush()
    return refund


def _refundable_items(order: Order, item_ids) -> list[ItemOrder]:
    if order.pay_status != "SUCCESS":
        raise params_error("订单未支付")
    by_id = {i.item_order_id: i for i in order.items}
    if item_ids:
        items = []
        for iid in item_ids:
            item = by_id.get(str(iid))
            if item is None:
                raise params_error(f"子订单 {iid} 不存在")
            items.append(item)
    else:
        items = [i for i in order.items if i.status == UNUSED]
    if not items:
        raise params_error("没有可退款的券")
    for item in items:
        if item.status != UNUSED:
            raise params_error("只有未使用的券可以退款")
    return items


def request_user_refund(s: Session, store: Store, order: Order, item_ids=None,
                        reason_code: int = 101, reason_text: str = "不想要了") -> Refund:
    """A consumer asks for a refund. With audit on: pre_create_refund, then the merchant decides
    (72 h auto-agree). Without: it succeeds at once and `refund` is sent."""
    app = get_app(s, order.appid)
    items = _refundable_items(order, item_ids)
    reason = [{"code": int(reason_code), "text": reason_text}]
    refund = _new_refund(s, store, order, items, {i.item_order_id: i.price for i in items}, 1, reason,
                         need_audit=bool(app.refund_needs_audit))
    if refund.need_audit:
        now = store.now_ms(s)
        # The fields of pre_create_refund as the reference shows them (PG PreCreateRefundMsg).
        enqueue_trade(s, store, app.appid, "pre_create_refund", {
            "app_id": app.appid, "open_id": order.open_id, "refund_id": refund.refund_id,
            "order_id": order.order_id, "out_order_no": order.out_order_no,
            "refund_total_amount": refund.amount, "need_refund_audit": 1,
            "refund_audit_deadline": refund.audit_deadline_ms, "create_refund_time": now,
            "refund_source": 1, "refund_reason": [r["text"] for r in reason], "refund_description": "",
            "cp_extra": "", "refund_item_detail": _refund_detail(refund)}, schedule="pre_create_refund",
            ref=refund.refund_id)
    else:
        finish_refund(s, store, refund, True)
    return refund


def finish_refund(s: Session, store: Store, refund: Refund, success: bool, message: str = "") -> None:
    now = store.now_ms(s)
    order = s.scalar(select(Order).where(Order.order_id == refund.order_id))
    items = [i for i in order.items if i.item_order_id in refund.item_order_ids]
    refund.status = "SUCCESS" if success else "FAIL"
    refund.refund_ms = now if success else None
    for item in items:
        item.status = REFUNDED if success else UNUSED
    # The fields of the refund result as the reference shows them (PG RefundMsg).
    enqueue_trade(s, store, refund.appid, "refund", {
        "app_id": refund.appid, "status": refund.status, "order_id": order.order_id,
        "cp_extra": refund.cp_extra, "message": message, "event_time": now,
        "refund_id": refund.refund_id, "out_refund_no": refund.out_refund_no or "",
        "refund_total_amount": refund.amount, "is_all_settled": _is_settled(s, order),
        "refund_item_detail": _refund_detail(refund), "refund_type": refund.refund_type},
        schedule="refund", url_override=refund.notify_url, ref=refund.refund_id)


def merchant_refund(s: Session, store: Store, app: App, body: dict) -> Refund:
    """refund_create: a developer refund of unused vouchers; idempotent on out_refund_no."""
    out_refund_no = str(body.get("out_refund_no") or "")
    if not out_refund_no:
        raise params_error("out_refund_no 必填")
    existing = s.scalar(select(Refund).where(Refund.appid == app.appid,
                                             Refund.out_refund_no == out_refund_no))
    if existing is not None:
        return existing
    order = find_order(s, app, body.get("order_id"))
    if order is None:
        raise params_error("订单不存在")
    detail = body.get("item_order_detail") or []
    if body.get("refund_all"):
        items = _refundable_items(order, None)
        amounts = {i.item_order_id: i.price for i in items}
    else:
        if not isinstance(detail, list) or not detail:
            raise params_error("item_order_detail 或 refund_all 必填")
        items = _refundable_items(order, [d.get("item_order_id") for d in detail])
        amounts = {}
        for d, item in zip(detail, items):
            amt = int(d.get("refund_amount", item.price))
            if not 0 < amt <= item.price:
                raise params_error("refund_amount 超出子订单金额")
            amounts[item.item_order_id] = amt
    total = body.get("refund_total_amount")
    if total is not None and int(total) != sum(amounts.values()):
        raise params_error("refund_total_amount 与明细合计不一致")
    reason = body.get("refund_reason") or [{"code": 999, "text": "其他"}]
    refund = _new_refund(s, store, order, items, amounts, 2, reason, need_audit=False,
                         out_refund_no=out_refund_no, notify_url=body.get("notify_url"),
                         cp_extra=str(body.get("cp_extra") or ""))
    finish_refund(s, store, refund, True)
    return refund


def audit_refund(s: Session, store: Store, app: App, body: dict) -> Refund:
    refund = s.scalar(select(Refund).where(Refund.appid == app.appid, Refund.refund_id == str(body["refund_id"])))
    if refund is None:
        raise params_error("退款单不存在")
    if not refund.need_audit or refund.audit_status != "PENDING":
        raise params_error("该退款单无需审核或已审核")
    status = int(body.get("refund_audit_status") or 0)
    if status not in (1, 2):
        raise params_error("refund_audit_status 必须是 1 或 2")
    deny = str(body.get("deny_message") or "")
    if status == 2 and not deny:
        raise params_error("拒绝退款需填写 deny_message")
    if len(deny.encode()) > 512:
        raise params_error("deny_message 不能超过 512 字节")
    refund.audit_status = "AGREE" if status == 1 else "DENY"
    refund.deny_message = deny
    finish_refund(s, store, refund, status == 1, deny)
    return refund


def refund_view(r: Refund) -> dict:
    return {"refund_id": r.refund_id, "out_refund_no": r.out_refund_no or "", "order_id": r.order_id,
            "refund_status": r.status, "refund_total_amount": r.amount,
            "item_order_detail": [{"item_order_id": i, "refund_amount": r.item_amounts[i]}
                                  for i in r.item_order_ids],
            "merchant_audit_detail": {"audit_status": r.audit_status or "",
                                      "need_refund_audit": 1 if r.need_audit else 2,
                                      "refund_audit_deadline": r.audit_deadline_ms or 0},
            "create_at": r.create_ms, "refund_at": r.refund_ms or 0}


# settlement, ledger, withdrawals --------------------------------------------------------------

def _fees(st: dict, order: Order, amount: int) -> tuple[int, int]:
    rake = fen_part(amount, st["rake_bp"])
    commission = fen_part(amount, st["commission_bp"]) if order.order_source == "alliance" else 0
    return rake, commission


def settle_create(s: Session, store: Store, app: App, body: dict) -> Settlement:
    """Settle a finished order (or one voucher). 23107 unfinished, 23111 duplicate out_settle_no."""
    st = store.settings(s)
    now = store.now_ms(s)
    out_settle_no = str(body.get("out_settle_no") or "")
    if not out_settle_no or not body.get("out_order_no"):
        raise SandboxError(23001, "out_order_no 和 out_settle_no 必填")
    if s.scalar(select(Settlement).where(Settlement.appid == app.appid,
                                         Settlement.out_settle_no == out_settle_no)):
        raise SandboxError(23111, "out_settle_no 已存在，请查询结算结果")
    order = find_order(s, app, out_order_no=body.get("out_order_no"))
    if order is None:
        raise SandboxError(23101, "订单不存在")
    if order.pay_status != "SUCCESS":
        raise SandboxError(23102, "订单未支付")
    params = body.get("settle_params")
    if params:
        try:
            parsed = json.loads(params) if isinstance(params, str) else params
            assert isinstance(parsed, list) and all("merchant_uid" in p and "amount" in p for p in parsed)
        except (ValueError, AssertionError, TypeError) as exc:
            raise SandboxError(23002, "settle_params 格式错误") from exc
        params = params if isinstance(params, str) else json.dumps(params, ensure_ascii=False)
    item_order_id = body.get("item_order_id")
    settles = list(s.scalars(select(Settlement).where(Settlement.order_id == order.order_id)))
    if item_order_id:
        targets = [i for i in order.items if i.item_order_id == str(item_order_id)]
        if not targets:
            raise SandboxError(23003, "item_order_id 不属于该订单")
        if any(x.item_order_id is None for x in settles):
            raise SandboxError(23112, "订单已整单结算")
    else:
        targets = list(order.items)
        if any(x.item_order_id for x in settles):
            raise SandboxError(23118, "已按券结算，不允许整单结算")
    if all(i.settle_id for i in targets if i.status == VERIFIED) and any(i.settle_id for i in targets):
        raise SandboxError(23112, "无可结算金额（已结算）")
    for item in targets:
        if item.status not in (VERIFIED, REFUNDED):
            raise SandboxError(23107, "订单未完成（存在未核销的券）")
        if item.status == VERIFIED and st["settle_min_days"] > 0:
            rec = latest_verify(s, item)
            if rec and rec.verify_ms + st["settle_min_days"] * DAY_MS > now:
                raise SandboxError(23107, f"核销后 {st['settle_min_days']} 天方可结算")
    payable = [i for i in targets if i.status == VERIFIED and not i.settle_id]
    if not payable:
        raise SandboxError(23113, "无可结算的券（已全部退款）")
    amount = sum(i.price for i in payable)
    rake = sum(_fees(st, order, i.price)[0] for i in payable)
    commission = sum(_fees(st, order, i.price)[1] for i in payable)
    settle = Settlement(settle_id="ots" + new_id19(), appid=app.appid, order_id=order.order_id,
                        out_order_no=order.out_order_no, out_settle_no=out_settle_no,
                        item_order_id=str(item_order_id) if item_order_id else None,
                        settle_desc=str(body.get("settle_desc") or ""), settle_params=params or "",
                        amount=amount, rake=rake, commission=commission, status="SUCCESS",
                        notify_url=body.get("notify_url") or None,
                        cp_extra=str(body.get("ext") or ""),
                        create_ms=now, settle_ms=now)
    s.add(settle)
    for item in payable:
        item.settle_id = settle.settle_id
    s.flush()
    # The fields of the settle message as a logged real one shows them (fixture trade_settle).
    enqueue_trade(s, store, app.appid, "settle", {
        "app_id": app.appid, "status": "SUCCESS", "order_id": settle.order_id, "cp_extra": settle.cp_extra,
        "message": "SUCCESS", "event_time": now, "settle_id": settle.settle_id,
        "out_settle_no": settle.out_settle_no, "rake": settle.rake, "commission": settle.commission,
        "settle_detail": settle.settle_params, "settle_amount": settle.amount - settle.rake - settle.commission,
        "is_auto_settle": False}, schedule="settle",
        url_override=settle.notify_url, ref=settle.settle_id)
    return settle


def settle_view(x: Settlement) -> dict:
    return {"settle_id": x.settle_id, "out_settle_no": x.out_settle_no, "order_id": x.order_id,
            "out_order_no": x.out_order_no, "item_order_id": x.item_order_id or "",
            "settle_status": x.status, "settle_amount": x.amount - x.rake - x.commission,
            "rake": x.rake, "commission": x.commission,
            "settle_at": x.settle_ms or 0, "cp_extra": x.cp_extra}


def settle_query(s: Session, app: App, body: dict) -> list[Settlement]:
    q = select(Settlement).where(Settlement.appid == app.appid).order_by(Settlement.id)
    for field in ("settle_id", "order_id", "out_settle_no", "out_order_no"):
        if body.get(field):
            return list(s.scalars(q.where(getattr(Settlement, field) == str(body[field]))))
    raise params_error("settle_id / order_id / out_settle_no / out_order_no 至少填一个")


def ledger_entries(s: Session, store: Store, account_id: str, bill_date: str | None = None) -> list[dict]:
    """Verified (not undone) vouchers, each visible from 1 h after the verify (sandbox clock)."""
    now = store.now_ms(s)
    st = store.settings(s)
    recs = s.scalars(select(VerifyRecord).where(
        VerifyRecord.account_id == account_id, VerifyRecord.cancel_ms.is_(None),
        VerifyRecord.verify_ms <= now - LEDGER_DELAY_MS).order_by(VerifyRecord.verify_ms, VerifyRecord.id))
    out = []
    for rec in recs:
        ledger_ms = rec.verify_ms + LEDGER_DELAY_MS
        day = shanghai_date(ledger_ms)
        if bill_date and day != bill_date:
            continue
        order = s.scalar(select(Order).where(Order.order_id == rec.order_id))
        rake, commission = _fees(st, order, rec.amount)
        item = s.scalar(select(ItemOrder).where(ItemOrder.item_order_id == rec.item_order_id))
        out.append({"ledger_id": "L" + rec.verify_id, "bill_date": day, "account_id": rec.account_id,
                    "title": order.title, "code": item.code if item else None,
                    "original_amount": order.origin_price,
                    "order_id": rec.order_id, "out_order_no": order.out_order_no,
                    "item_order_id": rec.item_order_id, "certificate_id": rec.certificate_id,
                    "verify_id": rec.verify_id, "poi_id": rec.poi_id, "product_id": order.product_id,
                    "sku_id": order.sku_id, "order_source": order.order_source,
                    "verify_time": rec.verify_ms // 1000, "ledger_time": ledger_ms // 1000,
                    "amount": {"pay_amount": rec.amount, "rake": rake, "commission": commission,
                               "settle_amount": rec.amount - rake - commission}})
    return out


def shanghai_date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000 + 8 * 3600))


def withdrawable(s: Session, app: App) -> int:
    settled = s.scalar(select(func.coalesce(func.sum(Settlement.amount - Settlement.rake - Settlement.commission), 0))
                       .where(Settlement.appid == app.appid, Settlement.status == "SUCCESS"))
    out = s.scalar(select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
        Withdrawal.appid == app.appid, Withdrawal.status != "FAIL"))
    return int(settled) - int(out)


# The one payment channel of a sandbox merchant (ecpay's channel_type / status map key): the
# sandbox's choice, Douyin Pay; no reference lists the keys of merchant_status_info.
ECPAY_CHANNEL = "hz"
# 进件 states as the ecpay status field carries them (no reference shows the vocabulary; the
# sandbox uses the words query_withdraw_order uses).
ECPAY_STATUS = {"REVIEWING": "PROCESSING", "APPROVED": "SUCCESS", "REJECTED": "FAIL"}


def _ecpay_app(app: App, body: dict) -> None:
    if body.get("app_id") and body["app_id"] != app.appid:
        raise SandboxError(10000, "app_id 与 access-token 不一致")


def merchant_status_view(s: Session, app: App, body: dict) -> dict:
    """The 进件 state of `merchant_id` (Douyin's merchant number of this app), per channel."""
    _ecpay_app(app, body)
    if not app.merchant_uid or body["merchant_id"] != app.merchant_uid:
        raise SandboxError(10000, "商户号不存在")
    entry = {"merchant_id": app.merchant_uid, "status": ECPAY_STATUS.get(app.onboarding_status, "PROCESSING"),
             "reject_reason": app.onboarding_reason or "", "legal_validation_url": "", "legal_sign_url": ""}
    return {"merchant_status_info": {ECPAY_CHANNEL: entry}, "new_merchant_status_info": {}, "pay_status_info": {}}


def ecpay_merchant(app: App, body: dict) -> None:
    """Refuse a balance or withdrawal call for another app, merchant or channel."""
    _ecpay_app(app, body)
    if not app.merchant_uid or body["merchant_uid"] != app.merchant_uid:
        raise SandboxError(10000, "商户号不存在")
    if body["channel_type"] != ECPAY_CHANNEL:
        raise SandboxError(10000, f"渠道 {body['channel_type']} 未进件")


def balance_view(s: Session, app: App) -> dict:
    """account_info in fen: online (paid, not yet settled or refunded), withdrawable, frozen
    (withdrawals still processing)."""
    online = s.scalar(select(func.coalesce(func.sum(ItemOrder.price), 0)).join(Order, ItemOrder.order_pk == Order.id).where(
        Order.appid == app.appid, Order.pay_status == "SUCCESS", ItemOrder.status != REFUNDED, ItemOrder.settle_id.is_(None)))
    frozen = s.scalar(select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
        Withdrawal.appid == app.appid, Withdrawal.status == "PROCESSING"))
    return {"account_info": {"online_balance": int(online), "withdrawable_balacne": withdrawable(s, app),
                             "freeze_balance": int(frozen)},
            "settle_info": {"settle_type": 2, "settle_account": "sandbox@douyin.test", "bankcard_no": "", "bank_name": ""},
            "merchant_entity": 1}


def create_withdrawal(s: Session, store: Store, app: App, out_withdraw_no, amount) -> Withdrawal:
    out_withdraw_no = str(out_withdraw_no or "")
    try:
        amount = int(amount)
    except (TypeError, ValueError) as exc:
        raise params_error("amount 必须是整数（分）") from exc
    if not out_withdraw_no or amount <= 0:
        raise params_error("out_withdraw_no 必填，amount 必须大于 0")
    existing = s.scalar(select(Withdrawal).where(Withdrawal.appid == app.appid,
                                                 Withdrawal.out_withdraw_no == out_withdraw_no))
    if existing is not None:
        if existing.amount != amount:
            raise SandboxError(2100010, "out_withdraw_no 已存在且金额不同")
        return existing
    if store.settings(s)["withdraw_check_balance"] and amount > withdrawable(s, app):
        raise SandboxError(2100011, "可提现余额不足")
    w = Withdrawal(withdraw_id="wd" + new_id19(), appid=app.appid, out_withdraw_no=out_withdraw_no,
                   amount=amount, status="PROCESSING", reason="", create_ms=store.now_ms(s))
    s.add(w)
    s.flush()
    return w


def finish_withdrawal(s: Session, store: Store, w: Withdrawal, success: bool, reason: str = "") -> None:
    if w.status != "PROCESSING":
        raise params_error("提现单已处理")
    w.status = "SUCCESS" if success else "FAIL"
    w.reason = "" if success else (reason or "银行退票")
    w.finish_ms = store.now_ms(s)


def withdrawal_view(w: Withdrawal) -> dict:
    return {"withdraw_id": w.withdraw_id, "out_withdraw_no": w.out_withdraw_no, "amount": w.amount,
            "status": w.status, "reason": w.reason, "create_time": w.create_ms,
            "finish_time": w.finish_ms or 0}


# mini-program package, subscription messages, bookings --------------------------------------------

def preview_problems(s: Session, app: App) -> list[str]:
    problems = []
    if not app.app_public_key_pem:
        problems.append("未上传应用公钥")
    if not app.trade_callback_url:
        problems.append("未配置交易回调地址")
    if not app.account_id:
        problems.append("未绑定来客账户")
    if app.onboarding_status != "APPROVED":
        problems.append("支付进件未通过")
    return problems


# The third-party platform's package_version APIs. Each sandbox app has one test version (the
# code the developer uploaded); it is audited on the chosen hosts, decided by the operator (or by
# `package_auto_approve_seconds` on the sandbox clock) and, once approved, released.
AUDIT_HOSTS = ("douyin", "toutiao")
TEST_VERSION = "1.0.0"
TEST_VERSION_SUMMARY = "首版"
CATEGORIES = ["生活服务-本地生活-团购"]
AUDIT_STATUS_CODES = {"AUDITING": 0, "PASS": 1, "REJECT": 2}


def latest_audit(s: Session, app: App) -> PackageAudit | None:
    return s.scalar(select(PackageAudit).where(PackageAudit.appid == app.appid)
                    .order_by(PackageAudit.id.desc()).limit(1))


def submit_package(s: Session, store: Store, app: App, host_names: list, note: str | None,
                   audit_way: int | None = None, tag: str | None = None) -> PackageAudit:
    """package_version/audit: audit the test version. audit_way 1 resubmits the version whose last
    audit failed; a test version already audited is refused otherwise, as is a second audit while
    one runs."""
    hosts = [str(h) for h in host_names]
    unknown = [h for h in hosts if h not in AUDIT_HOSTS]
    if not hosts or unknown or len(set(hosts)) != len(hosts):
        raise params_error(f"host_names 无效：可选 {', '.join(AUDIT_HOSTS)}")
    if tag not in (None, ""):
        raise params_error("该版本通道没有测试版本")
    if audit_way not in (None, 0, 1):
        raise params_error("audit_way 只能是 0 或 1")
    last = latest_audit(s, app)
    if last is not None and last.status == "AUDITING":
        raise params_error("已有版本正在审核中")
    if audit_way == 1 and (last is None or last.status != "REJECT"):
        raise params_error("没有审核失败的版本可重新提审")
    if audit_way != 1 and last is not None and last.version == TEST_VERSION:
        raise params_error("测试版本已提审过：请上传新的测试版本，或用 audit_way=1 重新提审上次审核失败的版本")
    a = PackageAudit(audit_id=new_id19(), appid=app.appid, version=TEST_VERSION, desc=str(note or ""),
                     status="AUDITING", reason="", submitted_ms=store.now_ms(s), host_names=hosts,
                     audit_way=audit_way or 0)
    s.add(a)
    s.flush()
    return a


def review_package(s: Session, store: Store, a: PackageAudit, approve: bool, reason: str = "") -> None:
    if a.status != "AUDITING":
        raise params_error("该版本不在审核中")
    if not approve and not reason.strip():
        raise params_error("驳回必须填写原因")
    a.status = "PASS" if approve else "REJECT"
    a.reason = "" if approve else reason.strip()
    a.decided_ms = store.now_ms(s)


def release_package(s: Session, store: Store, app: App) -> PackageAudit:
    """package_version/release: put the approved audit version online, once."""
    last = latest_audit(s, app)
    if last is None or last.status != "PASS":
        raise params_error("没有审核通过的版本可发布")
    if last.published_ms:
        raise params_error("该版本已发布")
    last.published_ms = store.now_ms(s)
    s.flush()
    return last


def _version_common(app: App, version: str, summary: str, ctime_ms: int) -> dict:
    return {"version": version, "summary": summary, "ctime": ctime_ms // 1000, "categories": list(CATEGORIES)}


def versions_view(s: Session, app: App) -> dict:
    """package_version/versions: the test version, the newest audit and the online version."""
    last = latest_audit(s, app)
    data = {"latest": dict(_version_common(app, TEST_VERSION, TEST_VERSION_SUMMARY, app.created_ms),
                           has_audit=1 if last is not None and last.version == TEST_VERSION else 0)}
    if last is not None:
        data["audit"] = dict(_version_common(app, last.version, last.desc or TEST_VERSION_SUMMARY, last.submitted_ms),
                             status=AUDIT_STATUS_CODES[last.status], reason=last.reason,
                             has_publish=1 if last.published_ms else 0, is_illegal_version=False)
    online = s.scalar(select(PackageAudit).where(PackageAudit.appid == app.appid, PackageAudit.published_ms.is_not(None))
                      .order_by(PackageAudit.published_ms.desc()).limit(1))
    if online is not None:
        data["current"] = dict(_version_common(app, online.version, online.desc or TEST_VERSION_SUMMARY, online.published_ms),
                               has_down=0)
    return data


def audit_view(a: PackageAudit) -> dict:
    """The console's and the control API's view of one audit (not a platform reply)."""
    return {"audit_id": a.audit_id, "version": a.version, "status": a.status, "reason": a.reason,
            "host_names": list(a.host_names or []), "submitted_at": a.submitted_ms // 1000,
            "decided_at": a.decided_ms // 1000 if a.decided_ms else 0,
            "published_at": a.published_ms // 1000 if a.published_ms else 0}


def app_status(s: Session, app: App) -> str:
    released = s.scalar(select(PackageAudit.id).where(PackageAudit.appid == app.appid,
                                                      PackageAudit.published_ms.is_not(None)).limit(1))
    return "ONLINE" if released else "DEVELOPING"


def notify_user(s: Session, store: Store, app: App, body: dict) -> SubscriptionMessage:
    """A subscription message to one of the app's buyers (notify_user): msg_id is the template id,
    data its fields. Refused for an open_id that never bought from this app, or an empty message."""
    open_id = body["open_id"]
    if not body["msg_id"].strip():
        raise params_error("msg_id 不能为空")
    if s.scalar(select(Order.id).where(Order.appid == app.appid, Order.open_id == open_id).limit(1)) is None:
        raise params_error("open_id 无效：该用户未使用过此小程序")
    data = {str(k): str(v) for k, v in body["data"].items()}
    if not data or not any(v.strip() for v in data.values()):
        raise params_error("data 不能为空")
    m = SubscriptionMessage(appid=app.appid, template_id=body["msg_id"], open_id=open_id,
                            data=data, page=body.get("page") or "",
                            create_ms=store.now_ms(s))
    s.add(m)
    s.flush()
    return m


def create_book(s: Session, store: Store, app: App, body: dict) -> TradeBook:
    """trade v2 book/create_book: a booking of a paid order of this app by its buyer, at a POI of
    the app's account, waiting for the merchant's book_result_callback. A repeated out_book_no of
    the same order answers the booking it made."""
    order = find_order(s, app, body["order_id"])
    if order is None or order.pay_status != "SUCCESS":
        raise params_error("order_id 无效或订单未支付")
    if body["open_id"] != order.open_id:
        raise params_error("open_id 与订单买家不一致")
    items = body["item_book_info_list"]
    if not items:
        raise params_error("item_book_info_list 不能为空")
    pois = {p.poi_id for p in s.scalars(select(Poi).where(Poi.account_id == app.account_id))}
    item_orders = {i.item_order_id for i in order.items}
    for item in items:
        if str(item["poi_id"]) not in pois:
            raise params_error(f"poi_id {item['poi_id']} 不属于该商户")
        if item.get("item_order_id") and item["item_order_id"] not in item_orders:
            raise params_error("item_order_id 不属于该订单")
        if item["book_end_time"] <= item["book_start_time"]:
            raise params_error("book_end_time 必须晚于 book_start_time")
    existing = s.scalar(select(TradeBook).where(TradeBook.appid == app.appid, TradeBook.out_book_no == body["out_book_no"]))
    if existing is not None:
        if existing.order_id != order.order_id:
            raise params_error("out_book_no 已用于另一订单")
        return existing
    b = TradeBook(book_id="ot" + new_id19(), out_book_no=body["out_book_no"], appid=app.appid, order_id=order.order_id,
                  open_id=order.open_id, poi_id=str(items[0]["poi_id"]), start_ms=items[0]["book_start_time"],
                  end_ms=items[0]["book_end_time"], items=items, status="BOOKING", create_ms=store.now_ms(s))
    s.add(b)
    s.flush()
    return b


def book_result(s: Session, store: Store, app: App, body: dict) -> TradeBook:
    """trade v2 book/book_result_callback: result 1 confirms a booking, 2 refuses it (msg says
    why). Answering the same again changes nothing; a different answer is refused."""
    b = s.scalar(select(TradeBook).where(TradeBook.appid == app.appid, TradeBook.book_id == body["book_id"]))
    if b is None:
        raise params_error("book_id 不存在")
    if body["result"] not in (1, 2):
        raise params_error("result 只能是 1（接单）或 2（拒单）")
    status = "SUCCESS" if body["result"] == 1 else "FAIL"
    if b.status != "BOOKING":
        if b.status != status:
            raise params_error("该预约已处理")
        return b
    b.status, b.result_msg, b.decided_ms = status, str(body.get("msg") or "")[:500], store.now_ms(s)
    s.flush()
    return b


def merchant_bookings_url(app: App) -> str | None:
    """The merchant back end's booking endpoint, beside its order endpoint (…/mp/<token>/bookings)."""
    url = merchant_orders_url(app)
    return url[: -len("/orders")] + "/bookings" if url else None


def merchant_booking_options(app: App, order: Order, day: str) -> dict | None:
    """What the merchant's back end offers the buyer on `day` (GET …/mp/<token>/bookings/options):
    {day, store, slots[{slot, capacity, left}], rooms[{room, seats, taken_slots}]}, or None."""
    url = merchant_bookings_url(app) if app is not None else None
    if url is None:
        return None
    try:
        resp = requests.get(f"{url}/options", params={"open_id": order.open_id, "out_order_no": order.out_order_no, "day": day},
                            timeout=5)
    except requests.RequestException:
        return None
    return resp.json() if resp.status_code == 200 else None


def booking_wish(s: Session, order: Order, day: str, slot: str, note: str = "", room: str = "",
                 people: int | None = None) -> tuple[str, dict]:
    """What the mini-program sends when its buyer books: the merchant back end's booking URL and
    the wish (a private room by name and the party size only when chosen). Send it with
    `ask_merchant_to_book` after the request's session is closed: the back end books through this
    same sandbox (create_book), which serves one request at a time."""
    if order.pay_status != "SUCCESS":
        raise params_error("订单未支付")
    if not day or not slot:
        raise params_error("请选择日期和时段")
    app = s.scalar(select(App).where(App.appid == order.appid))
    url = merchant_bookings_url(app) if app is not None else None
    if url is None:
        raise params_error("小程序未配置商家后端（交易回调地址不是 …/douyin/callbacks/<token>/trade）")
    wish = {"open_id": order.open_id, "out_order_no": order.out_order_no, "day": day, "slot": slot, "note": note[:200]}
    if room:
        wish["room"] = room[:40]
    if people:
        wish["people"] = people
    return url, wish


def ask_merchant_to_book(url: str, wish: dict) -> dict:
    """Send a booking wish to the merchant's back end, which creates the booking on Douyin
    (book/create_book) and answers it: its reply {book_id, status, reason}."""
    return post_to_merchant(url, wish, refused="商家后端拒绝预约：")


def post_to_merchant(url: str, payload: dict, *, refused: str) -> dict:
    """POST to the merchant's back end as the mini-program front end does; its JSON reply when it
    answers 201, else a params error starting with `refused` and saying why."""
    try:
        resp = requests.post(url, json=payload, timeout=10)
    except requests.RequestException as exc:
        raise params_error(f"商家后端不可用：{exc}") from exc
    reply = resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else {}
    if resp.status_code != 201:
        errors = reply.get("errors") or {}
        raise params_error(refused + (reply.get("error") or "；".join(errors.values()) or f"HTTP {resp.status_code}"))
    return reply


# timers -------------------------------------------------------------------------------------

def tick(s: Session, store: Store) -> None:
    """Apply everything the sandbox clock has made due: auto reviews, 72 h refund agree, payouts."""
    st = store.settings(s)
    now = store.now_ms(s)
    delay = st["product_auto_approve_seconds"]
    if delay is not None and delay >= 0:
        for row in s.scalars(select(Product).where(Product.draft_status == 10,
                                                   Product.submitted_ms <= now - int(delay * 1000))):
            review_product(s, store, row, True)
    delay = st["package_auto_approve_seconds"]
    if delay is not None and delay >= 0:
        for a in s.scalars(select(PackageAudit).where(PackageAudit.status == "AUDITING",
                                                      PackageAudit.submitted_ms <= now - int(delay * 1000))):
            review_package(s, store, a, True)
    for refund in s.scalars(select(Refund).where(Refund.audit_status == "PENDING",
                                                 Refund.audit_deadline_ms <= now)):
        refund.audit_status = "AUTO_AGREE"
        finish_refund(s, store, refund, True)
    if st["withdraw_auto_pay"]:
        wait = int(st["withdraw_auto_pay_seconds"] * 1000)
        for w in s.scalars(select(Withdrawal).where(Withdrawal.status == "PROCESSING",
                                                    Withdrawal.create_ms <= now - wait)):
            finish_withdrawal(s, store, w, True)
    s.flush()
