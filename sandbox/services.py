"""What Douyin does, as plain functions over a session. They flush; the caller commits.

Errors are SandboxError(code, message); the API layer turns them into the family's envelope.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import crypto
from .callbacks import enqueue_trade, enqueue_webhook
from .models import (REFUNDED, REFUNDING, UNUSED, VERIFIED, Account, App, Booking, ItemOrder,
                     Message, Order, PackageAudit, Poi, Product, Refund, Settlement, Token,
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
    if status == "APPROVED" and not app.merchant_uid:
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

def _delivery_type(product: dict) -> int:
    value = product.get("delivery_type")
    if value is None:
        value = (product.get("attr_key_value_map") or {}).get("delivery_type", 0)
    try:
        return 1 if int(value) == 1 else 0
    except (TypeError, ValueError):
        return 0


def save_product(s: Session, store: Store, app: App, account_id, product: dict, sku: dict) -> Product:
    """Create or update (by product_id, then out_id) and send to review: draft_status 10."""
    acc = require_account(s, app, account_id)
    if not isinstance(product, dict) or not isinstance(sku, dict):
        raise params_error("product 和 sku 必须是对象")
    if not str(product.get("product_name") or "").strip():
        raise params_error("product.product_name 必填")
    try:
        product_type = int(product.get("product_type") or 0)
        actual = int(sku.get("actual_amount"))
        origin = int(sku.get("origin_amount", actual))
    except (TypeError, ValueError) as exc:
        raise params_error("product_type / actual_amount / origin_amount 必须是整数（分）") from exc
    if product_type <= 0 or actual <= 0 or origin < actual:
        raise params_error("product_type 必填；actual_amount 必须大于0且不大于 origin_amount")
    for poi in product.get("pois") or []:
        pid = str((poi or {}).get("poi_id") or "")
        if not s.scalar(select(Poi).where(Poi.poi_id == pid, Poi.account_id == acc.account_id)):
            raise params_error(f"poi_id {pid} 不属于该账户")
    now = store.now_ms(s)
    row = None
    if product.get("product_id"):
        row = s.scalar(select(Product).where(Product.product_id == str(product["product_id"]),
                                             Product.account_id == acc.account_id))
        if row is None:
            raise params_error("product_id 不存在")
    elif product.get("out_id"):
        row = s.scalar(select(Product).where(Product.out_id == str(product["out_id"]),
                                             Product.account_id == acc.account_id))
    if row is None:
        row = Product(product_id=new_id19(), account_id=acc.account_id, submitted_ms=now,
                      update_ms=now, draft={})
        s.add(row)
    sku = dict(sku, actual_amount=actual, origin_amount=origin)
    old_sku_id = ((row.draft or {}).get("sku") or {}).get("sku_id")
    sku["sku_id"] = str(sku.get("sku_id") or old_sku_id or new_id19())
    product = dict(product, product_id=row.product_id, product_type=product_type,
                   account_name=acc.account_name)
    row.out_id = str(product["out_id"]) if product.get("out_id") else None
    row.draft = {"product": product, "sku": sku}
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
            "product_id": row.product_id, "out_id": row.out_id or "",
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


def product_view(row: Product, which: str = "online") -> dict:
    version = (row.online if which == "online" else row.draft) or row.draft
    return {
        "product": version.get("product", {}),
        "sku": version.get("sku", {}),
        "online_status": row.online_status if row.online_status is not None else 0,
        "draft_status": row.draft_status,
        "audit_msg": row.audit_msg,
        "update_time": row.update_ms // 1000,
    }


def product_pois(s: Session, row: Product) -> list[Poi]:
    listed = [str(p.get("poi_id")) for p in (row.online or {}).get("product", {}).get("pois") or []]
    q = select(Poi).where(Poi.account_id == row.account_id)
    if listed:
        q = q.where(Poi.poi_id.in_(listed))
    return list(s.scalars(q))


# orders -------------------------------------------------------------------------------------

def open_id_for(appid: str, phone: str) -> str:
    return "sbx_" + hashlib.sha1(f"{appid}:{phone}".encode()).hexdigest()[:28]


def purchase(s: Session, store: Store, *, product_id: str, poi_id: str, quantity: int = 1,
             channel: str = "short_video", tracking_code: str = "", order_source: str = "normal",
             phone: str = "13800000000", pay_channel: int = 10, pay: bool = True) -> Order:
    """A consumer buys an online product; paying sends the `payment` callback (or CANCEL)."""
    row = s.scalar(select(Product).where(Product.product_id == str(product_id)))
    if row is None or row.online is None or row.online_status != 1:
        raise params_error("商品不存在或未上线")
    if channel not in CHANNELS or order_source not in ORDER_SOURCES:
        raise params_error("channel / order_source 无效")
    if not 1 <= int(quantity) <= 10:
        raise params_error("每单 1～10 张券")
    if poi_id not in {p.poi_id for p in product_pois(s, row)}:
        raise params_error("该门店不售卖此商品")
    app = app_for_account(s, row.account_id)
    if app is None:
        raise params_error("该商户未绑定小程序")
    if app.onboarding_status != "APPROVED":
        raise params_error("商家未完成支付进件，暂不能下单")
    st = store.settings(s)
    now = store.now_ms(s)
    product, sku = row.online["product"], row.online["sku"]
    delivery_type = _delivery_type(product)
    try:
        valid_days = int((product.get("attr_key_value_map") or {}).get("valid_days")
                         or st["certificate_valid_days"])
    except (TypeError, ValueError):
        valid_days = st["certificate_valid_days"]
    quantity = int(quantity)
    price, origin = int(sku["actual_amount"]), int(sku.get("origin_amount") or sku["actual_amount"])
    order_id = "ot" + new_id19()
    order = Order(order_id=order_id, out_order_no="sbx" + order_id[2:], appid=app.appid,
                  account_id=row.account_id, poi_id=poi_id, product_id=row.product_id,
                  out_product_id=row.out_id or "", sku_id=str(sku["sku_id"]),
                  title=str(product.get("product_name")), quantity=quantity, unit_price=price,
                  origin_price=origin, total_amount=price * quantity, discount_amount=0,
                  pay_status="PROCESS", pay_channel=int(pay_channel), channel_pay_id="",
                  open_id=open_id_for(app.appid, phone), phone=phone, channel=channel,
                  tracking_code=tracking_code, order_source=order_source,
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
                        start_ms=now, expire_ms=now + valid_days * DAY_MS))
    s.flush()
    s.refresh(order)
    if pay:
        order.pay_status = "SUCCESS"
        order.pay_ms = now
        order.channel_pay_id = rand_digits(28, "4")
        for item in order.items:
            item.status = UNUSED
        enqueue_webhook(s, store, app.appid, "life_trade_order_notify", {
            "action": "pay_success", "msg_time": now // 1000,
            "order": {"order_id": order.order_id, "pay_amount": order.total_amount - order.discount_amount,
                      "original_amount": origin * quantity, "account_id": order.account_id,
                      "pay_time": now // 1000}}, ref=order.order_id)
    else:
        order.pay_status = "FAIL"
    enqueue_trade(s, store, app.appid, "payment", payment_msg(order, app, now),
                  schedule="payment", ref=order.order_id)
    return order


def payment_msg(order: Order, app: App, now: int) -> dict:
    return {
        "appid": order.appid,
        "out_order_no": order.out_order_no,
        "order_id": order.order_id,
        "status": "SUCCESS" if order.pay_status == "SUCCESS" else "CANCEL",
        "message": "" if order.pay_status == "SUCCESS" else "USER_CANCEL",
        "total_amount": order.total_amount,
        "discount_amount": order.discount_amount,
        "pay_channel": order.pay_channel,
        "channel_pay_id": order.channel_pay_id,
        "merchant_uid": app.merchant_uid,
        "event_time": now,
        "cp_extra": "",
        "item_order_list": [{
            "item_order_id": i.item_order_id, "sku_id": order.sku_id, "product_id": order.product_id,
            "out_product_id": order.out_product_id, "title": order.title, "quantity": 1,
            "price": i.price} for i in order.items],
        "poi_id": order.poi_id,
        "account_id": order.account_id,
        "buyer": {"open_id": order.open_id, "phone": order.phone},
        "delivery_type": order.delivery_type,
        "order_source": order.order_source,
        "channel": order.channel,
        "tracking_code": order.tracking_code,
    }


def find_order(s: Session, app: App, order_id=None, out_order_no=None) -> Order | None:
    q = select(Order).where(Order.appid == app.appid)
    if order_id:
        return s.scalar(q.where(Order.order_id == str(order_id)))
    if out_order_no:
        return s.scalar(q.where(Order.out_order_no == str(out_order_no)))
    return None


def order_query_view(order: Order) -> dict:
    return {
        "order_id": order.order_id, "out_order_no": order.out_order_no,
        "pay_status": order.pay_status, "total_amount": order.total_amount,
        "discount_amount": order.discount_amount, "pay_channel": order.pay_channel,
        "channel_pay_id": order.channel_pay_id, "merchant_uid": "",
        "trade_time": order.trade_ms, "pay_time": order.pay_ms or 0,
        "delivery_type": order.delivery_type,
        "item_order_list": [{"item_order_id": i.item_order_id, "sku_id": order.sku_id,
                             "item_order_amount": i.price, "status": i.status}
                            for i in order.items],
    }


def push_delivery(s: Session, store: Store, app: App, body: dict) -> Order:
    """Store the merchant's own voucher codes on a delivery_type 0 order."""
    order = find_order(s, app, body.get("order_id"), body.get("out_order_no"))
    if order is None:
        raise params_error("订单不存在")
    if order.pay_status != "SUCCESS":
        raise params_error("订单未支付")
    if order.delivery_type != 0:
        raise params_error("该订单使用抖音券码（delivery_type 1），不能推送三方券码")
    codes = body.get("codes")
    if not isinstance(codes, list) or not codes:
        raise params_error("codes 必填")
    items = {i.item_order_id: i for i in order.items}
    for entry in codes:
        code = str((entry or {}).get("code") or "").strip()
        item = items.get(str((entry or {}).get("item_order_id") or ""))
        if not code or len(code) > 64 or item is None:
            raise params_error("codes[].code / item_order_id 无效")
        clash = s.scalar(select(ItemOrder).join(Order).where(
            Order.appid == app.appid, ItemOrder.code == code, ItemOrder.id != item.id))
        if clash is not None:
            raise params_error(f"券码 {code} 已被其他子订单使用")
        if item.code != code and item.status != UNUSED:
            raise params_error("已核销或已退款的子订单不能更换券码")
        item.code = code
    return order


# certificates -------------------------------------------------------------------------------

def _prepare_error(message: str) -> SandboxError:
    return SandboxError(13000, message, sub_code=13000)


def _usable(item: ItemOrder, now: int) -> bool:
    return item.status == UNUSED and item.expire_ms > now


def certificate_view(s: Session, order: Order, item: ItemOrder, now: int, *, with_code: bool) -> dict:
    original = order.origin_price
    rec = latest_verify(s, item)
    status = item.status
    out = {
        "certificate_id": item.certificate_id, "order_id": order.order_id,
        "item_order_id": item.item_order_id, "encrypted_code": item.encrypted_code,
        "status": status, "start_time": item.start_ms // 1000, "expire_time": item.expire_ms // 1000,
        "amount": {"original_amount": original, "pay_amount": item.price,
                   "coupon_pay_amount": 0, "merchant_ticket_amount": 0},
        "sku": {"sku_id": order.sku_id, "title": order.title, "groupon_type": 1,
                "market_price": original, "third_sku_id": order.out_product_id,
                "account_id": order.account_id},
    }
    if with_code:
        out["code"] = item.code
        out["verify"] = None if rec is None else {
            "verify_id": rec.verify_id, "verify_time": rec.verify_ms // 1000, "poi_id": rec.poi_id,
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
        base = {"account_id": order.account_id, "order_id": order.order_id, "origin_code": value
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
            rec = VerifyRecord(verify_id=new_id19(), appid=app.appid, account_id=order.account_id,
                               order_id=order.order_id, item_order_id=item.item_order_id,
                               certificate_id=item.certificate_id, poi_id=poi_id, amount=item.price,
                               verify_ms=now)
            s.add(rec)
            item.status = VERIFIED
            verified_any = True
            results.append(dict(base, result=0, msg="success", verify_id=rec.verify_id))
            enqueue_webhook(s, store, app.appid, "life_trade_certificate_notify", {
                "action": "verify", "msg_time": now // 1000,
                "certificate": {"certificate_id": item.certificate_id, "order_id": order.order_id,
                                "account_id": order.account_id, "verify_id": rec.verify_id,
                                "poi_id": poi_id}}, ref=item.certificate_id)
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
        enqueue_trade(s, store, app.appid, "pre_create_refund", {
            "appid": app.appid, "refund_id": refund.refund_id, "order_id": order.order_id,
            "out_order_no": order.out_order_no, "refund_total_amount": refund.amount,
            "need_refund_audit": 1, "refund_audit_deadline": refund.audit_deadline_ms,
            "refund_reason": reason, "refund_item_detail": _refund_detail(refund),
            "create_refund_time": now, "event_time": now}, schedule="pre_create_refund",
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
    enqueue_trade(s, store, refund.appid, "refund", {
        "appid": refund.appid, "order_id": order.order_id, "out_order_no": order.out_order_no,
        "refund_id": refund.refund_id, "out_refund_no": refund.out_refund_no or "",
        "status": refund.status, "message": message, "refund_total_amount": refund.amount,
        "refund_item_detail": _refund_detail(refund), "is_all_settled": _is_settled(s, order),
        "refund_type": refund.refund_type, "refund_reason": refund.reason,
        "cp_extra": refund.cp_extra, "event_time": now},
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
    order = find_order(s, app, body.get("order_id"), body.get("out_order_no"))
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
    q = select(Refund).where(Refund.appid == app.appid)
    if body.get("refund_id"):
        refund = s.scalar(q.where(Refund.refund_id == str(body["refund_id"])))
    else:
        refund = s.scalar(q.where(Refund.out_refund_no == str(body.get("out_refund_no") or "")))
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
            "refund_status": r.status, "refund_total_amount": r.amount, "refund_type": r.refund_type,
            "item_order_detail": [{"item_order_id": i, "refund_amount": r.item_amounts[i]}
                                  for i in r.item_order_ids],
            "merchant_audit_detail": {"audit_status": r.audit_status or "",
                                      "need_refund_audit": 1 if r.need_audit else 2,
                                      "refund_audit_deadline": r.audit_deadline_ms or 0,
                                      "deny_message": r.deny_message},
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
    if not out_settle_no or not (body.get("out_order_no") or body.get("order_id")):
        raise SandboxError(23001, "out_order_no 和 out_settle_no 必填")
    if s.scalar(select(Settlement).where(Settlement.appid == app.appid,
                                         Settlement.out_settle_no == out_settle_no)):
        raise SandboxError(23111, "out_settle_no 已存在，请查询结算结果")
    order = find_order(s, app, body.get("order_id"), body.get("out_order_no"))
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
                        cp_extra=str(body.get("cp_extra") or body.get("ext") or ""),
                        create_ms=now, settle_ms=now)
    s.add(settle)
    for item in payable:
        item.settle_id = settle.settle_id
    s.flush()
    enqueue_trade(s, store, app.appid, "settle", dict(settle_view(settle), **{
        "status": "SUCCESS", "is_auto_settle": False, "event_time": now,
        "settle_detail": settle.settle_params}), schedule="settle",
        url_override=settle.notify_url, ref=settle.settle_id)
    return settle


def settle_view(x: Settlement) -> dict:
    return {"settle_id": x.settle_id, "out_settle_no": x.out_settle_no, "order_id": x.order_id,
            "out_order_no": x.out_order_no, "item_order_id": x.item_order_id or "",
            "settle_status": x.status, "settle_amount": x.amount - x.rake - x.commission,
            "order_amount": x.amount, "rake": x.rake, "commission": x.commission,
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
        out.append({"ledger_id": "L" + rec.verify_id, "bill_date": day, "account_id": rec.account_id,
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


# mini-program package, messages, bookings ----------------------------------------------------

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


def submit_package(s: Session, store: Store, app: App, version: str, desc: str) -> PackageAudit:
    if not version:
        raise params_error("version 必填")
    a = PackageAudit(audit_id=new_id19(), appid=app.appid, version=str(version), desc=str(desc or ""),
                     status="AUDITING", reason="", submitted_ms=store.now_ms(s))
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


def audit_view(a: PackageAudit) -> dict:
    return {"audit_id": a.audit_id, "version": a.version, "status": a.status, "reason": a.reason,
            "submitted_at": a.submitted_ms // 1000,
            "decided_at": a.decided_ms // 1000 if a.decided_ms else 0}


def app_status(s: Session, app: App) -> str:
    passed = s.scalar(select(PackageAudit).where(PackageAudit.appid == app.appid,
                                                 PackageAudit.status == "PASS"))
    return "ONLINE" if passed else "DEVELOPING"


def send_message(s: Session, store: Store, app: App, body: dict) -> Message:
    order = find_order(s, app, body.get("order_id"))
    content = str(body.get("content") or "").strip()
    if order is None or not content:
        raise params_error("order_id 无效或 content 为空")
    open_id = str(body.get("open_id") or order.open_id)
    if open_id != order.open_id:
        raise params_error("open_id 与订单买家不一致")
    m = Message(msg_id=new_id19(), appid=app.appid, order_id=order.order_id, open_id=open_id,
                content=content[:1000], create_ms=store.now_ms(s))
    s.add(m)
    s.flush()
    return m


def book(s: Session, store: Store, order: Order, date: str, slot: str, note: str = "") -> Booking:
    if order.pay_status != "SUCCESS":
        raise params_error("订单未支付")
    if not date or not slot:
        raise params_error("请选择日期和时段")
    b = Booking(booking_id=new_id19(), appid=order.appid, order_id=order.order_id,
                poi_id=order.poi_id, date=date, slot=slot, phone=order.phone, note=note[:200],
                create_ms=store.now_ms(s))
    s.add(b)
    s.flush()
    return b


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
