"""The sandbox's own tables. Times are integer Unix milliseconds on the sandbox clock; money is fen."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import JSON


class Base(DeclarativeBase):
    pass


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)


class App(Base):
    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    app_secret: Mapped[str] = mapped_column(String(64))
    app_public_key_pem: Mapped[str | None] = mapped_column(Text)
    key_version: Mapped[int] = mapped_column(Integer, default=0)
    platform_private_pem: Mapped[str] = mapped_column(Text)
    platform_public_pem: Mapped[str] = mapped_column(Text)
    trade_callback_url: Mapped[str | None] = mapped_column(String(500))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    account_id: Mapped[str | None] = mapped_column(String(32))
    onboarding_status: Mapped[str] = mapped_column(String(16), default="NOT_STARTED")
    onboarding_reason: Mapped[str] = mapped_column(String(500), default="")
    merchant_uid: Mapped[str] = mapped_column(String(32), default="")
    refund_needs_audit: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    token: Mapped[str] = mapped_column(String(100), unique=True)
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)


class TokenCall(Base):
    __tablename__ = "token_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_name: Mapped[str] = mapped_column(String(100))


class Poi(Base):
    __tablename__ = "pois"
    id: Mapped[int] = mapped_column(primary_key=True)
    poi_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    poi_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")


class Product(Base):
    """One goods-library product. `draft` is the latest submitted version, `online` the approved one."""
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    out_id: Mapped[str | None] = mapped_column(String(64))
    draft: Mapped[dict] = mapped_column(JSON)
    online: Mapped[dict | None] = mapped_column(JSON)
    draft_status: Mapped[int] = mapped_column(Integer, default=10)
    audit_msg: Mapped[str] = mapped_column(String(500), default="")
    online_status: Mapped[int | None] = mapped_column(Integer)
    submitted_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    update_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("account_id", "out_id"),)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(32), unique=True)
    out_order_no: Mapped[str] = mapped_column(String(64))
    appid: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str] = mapped_column(String(32))
    poi_id: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[str] = mapped_column(String(32))
    out_product_id: Mapped[str] = mapped_column(String(64), default="")
    sku_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(Integer)
    origin_price: Mapped[int] = mapped_column(Integer)
    total_amount: Mapped[int] = mapped_column(Integer)
    discount_amount: Mapped[int] = mapped_column(Integer, default=0)
    pay_status: Mapped[str] = mapped_column(String(16))
    pay_channel: Mapped[int] = mapped_column(Integer, default=10)
    channel_pay_id: Mapped[str] = mapped_column(String(64), default="")
    open_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    tracking_code: Mapped[str] = mapped_column(String(100), default="")
    order_source: Mapped[str] = mapped_column(String(16))
    delivery_type: Mapped[int] = mapped_column(Integer)
    encrypted_data: Mapped[str | None] = mapped_column(String(64), unique=True)
    short_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    trade_ms: Mapped[int] = mapped_column(BigInteger)
    pay_ms: Mapped[int | None] = mapped_column(BigInteger)
    items: Mapped[list["ItemOrder"]] = relationship(back_populates="order", order_by="ItemOrder.id")
    __table_args__ = (UniqueConstraint("appid", "out_order_no"),)


# Voucher status values (certificate `status`; Douyin's enum is unknown, see README).
UNUSED, VERIFIED, REFUNDED, REFUNDING = 1, 2, 3, 4


class ItemOrder(Base):
    """One sub-order = one voucher: a Douyin certificate (delivery_type 1) or a pushed merchant code (0)."""
    __tablename__ = "item_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_order_id: Mapped[str] = mapped_column(String(32), unique=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order: Mapped[Order] = relationship(back_populates="items")
    price: Mapped[int] = mapped_column(Integer)
    certificate_id: Mapped[str] = mapped_column(String(32), unique=True)
    code: Mapped[str | None] = mapped_column(String(64), index=True)
    encrypted_code: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[int] = mapped_column(Integer, default=UNUSED)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    expire_ms: Mapped[int] = mapped_column(BigInteger)
    settle_id: Mapped[str | None] = mapped_column(String(32))


class VerifyToken(Base):
    __tablename__ = "verify_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(String(32))
    encrypted_codes: Mapped[list] = mapped_column(JSON)
    expires_ms: Mapped[int] = mapped_column(BigInteger)


class VerifyRecord(Base):
    __tablename__ = "verify_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    verify_id: Mapped[str] = mapped_column(String(32), unique=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[str] = mapped_column(String(32))
    item_order_id: Mapped[str] = mapped_column(String(32))
    certificate_id: Mapped[str] = mapped_column(String(32))
    poi_id: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(Integer)
    verify_ms: Mapped[int] = mapped_column(BigInteger)
    cancel_ms: Mapped[int | None] = mapped_column(BigInteger)
    cancel_token: Mapped[str | None] = mapped_column(String(64))


class Refund(Base):
    __tablename__ = "refunds"
    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(32), unique=True)
    out_refund_no: Mapped[str | None] = mapped_column(String(64))
    appid: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    item_order_ids: Mapped[list] = mapped_column(JSON)
    item_amounts: Mapped[dict] = mapped_column(JSON)
    amount: Mapped[int] = mapped_column(Integer)
    refund_type: Mapped[int] = mapped_column(Integer)
    reason: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    need_audit: Mapped[bool] = mapped_column(Boolean, default=False)
    audit_status: Mapped[str | None] = mapped_column(String(16))
    audit_deadline_ms: Mapped[int | None] = mapped_column(BigInteger)
    deny_message: Mapped[str] = mapped_column(String(600), default="")
    notify_url: Mapped[str | None] = mapped_column(String(500))
    cp_extra: Mapped[str] = mapped_column(Text, default="")
    create_ms: Mapped[int] = mapped_column(BigInteger)
    refund_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "out_refund_no"),)


class Settlement(Base):
    __tablename__ = "settlements"
    id: Mapped[int] = mapped_column(primary_key=True)
    settle_id: Mapped[str] = mapped_column(String(32), unique=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[str] = mapped_column(String(32))
    out_order_no: Mapped[str] = mapped_column(String(64))
    out_settle_no: Mapped[str] = mapped_column(String(64))
    item_order_id: Mapped[str | None] = mapped_column(String(32))
    settle_desc: Mapped[str] = mapped_column(String(200), default="")
    settle_params: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[int] = mapped_column(Integer)
    rake: Mapped[int] = mapped_column(Integer)
    commission: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    notify_url: Mapped[str | None] = mapped_column(String(500))
    cp_extra: Mapped[str] = mapped_column(Text, default="")
    create_ms: Mapped[int] = mapped_column(BigInteger)
    settle_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "out_settle_no"),)


class Withdrawal(Base):
    __tablename__ = "withdrawals"
    id: Mapped[int] = mapped_column(primary_key=True)
    withdraw_id: Mapped[str] = mapped_column(String(32), unique=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    out_withdraw_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    create_ms: Mapped[int] = mapped_column(BigInteger)
    finish_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "out_withdraw_no"),)


class SubscriptionMessage(Base):
    """A subscription message sent with notify_user: a template id and its fields' values."""
    __tablename__ = "subscription_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    template_id: Mapped[str] = mapped_column(String(128))
    open_id: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict] = mapped_column(JSON)  # field name -> value
    page: Mapped[str] = mapped_column(String(500), default="")
    create_ms: Mapped[int] = mapped_column(BigInteger)


class PackageAudit(Base):
    """One audit of the app's test version (package_version/audit); audit_id is the sandbox's own
    key for the console (the platform's API names no audit id)."""
    __tablename__ = "package_audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[str] = mapped_column(String(32), unique=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[str] = mapped_column(String(32))
    desc: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="AUDITING")
    reason: Mapped[str] = mapped_column(String(500), default="")
    submitted_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    host_names: Mapped[list] = mapped_column(JSON, default=list)
    audit_way: Mapped[int] = mapped_column(Integer, default=0)  # 1: resubmission of the version that failed
    published_ms: Mapped[int | None] = mapped_column(BigInteger)  # package_version/release


# Goods (快递商品) orders: delivery_type 2, no codes; the developer reports fulfilment with
# trade_basic fulfill_push_status (fulfilling = shipped, fulfilled = delivered).
GOODS_DELIVERY_TYPE = 2


class FulfilState(Base):
    """One fulfill_push_status a developer sent for a goods order (the latest one is its state)."""
    __tablename__ = "fulfil_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    to_status: Mapped[str] = mapped_column(String(16))
    item_order_ids: Mapped[list] = mapped_column(JSON)
    create_ms: Mapped[int] = mapped_column(BigInteger)


class TradeBook(Base):
    """A booking made with trade v2 book/create_book: BOOKING until the merchant answers with
    book_result_callback (SUCCESS, or FAIL with its message)."""
    __tablename__ = "trade_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[str] = mapped_column(String(32), unique=True)
    out_book_no: Mapped[str] = mapped_column(String(64))
    appid: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    open_id: Mapped[str] = mapped_column(String(64))
    poi_id: Mapped[str] = mapped_column(String(32))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[list] = mapped_column(JSON)  # item_book_info_list as sent
    status: Mapped[str] = mapped_column(String(16), default="BOOKING")
    result_msg: Mapped[str] = mapped_column(String(500), default="")
    create_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "out_book_no"),)


class Outbox(Base):
    """A callback or webhook to deliver; the body is fixed, the signature is made per attempt."""
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # trade | webhook
    event_type: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    url_override: Mapped[str | None] = mapped_column(String(500))
    schedule: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # PENDING SENDING DELIVERED FAILED
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    delivered_ms: Mapped[int | None] = mapped_column(BigInteger)
    ref: Mapped[str] = mapped_column(String(64), default="")


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    copy_no: Mapped[int] = mapped_column(Integer, default=1)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(16))  # ok | fail | dropped
    http_status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class SupplierPage(Base):
    """A store page pushed with poi/supplier/sync: the last push under review, the approved one live.
    last_sync_status: 0 under review, 1 approved, 2 rejected (fail_reason)."""
    __tablename__ = "supplier_pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    supplier_ext_id: Mapped[str] = mapped_column(String(64))
    supplier_id: Mapped[str] = mapped_column(String(32), unique=True)
    poi_id: Mapped[str] = mapped_column(String(32))
    pushed: Mapped[dict] = mapped_column(JSON)
    live: Mapped[dict | None] = mapped_column(JSON)
    last_sync_status: Mapped[int] = mapped_column(Integer, default=0)
    fail_reason: Mapped[str] = mapped_column(String(200), default="")
    pushed_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "supplier_ext_id"),)


class AwemeBindQrcode(Base):
    """A QR to bind a Douyin account to an app, valid 5 minutes; `agreed` once its owner authorized."""
    __tablename__ = "aweme_bind_qrcodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    ticket: Mapped[str] = mapped_column(String(32), unique=True)
    content: Mapped[str] = mapped_column(String(300), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    agreed_ms: Mapped[int | None] = mapped_column(BigInteger)
    aweme_id: Mapped[str] = mapped_column(String(32), default="")
    user_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")


class AwemeRelation(Base):
    """A Douyin account bound (or being reviewed) under a bind type of an app.
    bind_status: 1 under review, 2 bound, 3 refused (reason)."""
    __tablename__ = "aweme_relations"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[str] = mapped_column(String(16))
    aweme_id: Mapped[str] = mapped_column(String(32))
    user_name: Mapped[str] = mapped_column(String(100), default="")
    bind_status: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "type", "aweme_id"),)


class Component(Base):
    """A third-party platform (服务商) registered with the sandbox: its keys and where Douyin pushes
    its component_ticket and authorization events."""
    __tablename__ = "components"
    id: Mapped[int] = mapped_column(primary_key=True)
    component_appid: Mapped[str] = mapped_column(String(32), unique=True)
    component_appsecret: Mapped[str] = mapped_column(String(64))
    push_token: Mapped[str] = mapped_column(String(64))
    encoding_aes_key: Mapped[str] = mapped_column(String(43))
    push_url: Mapped[str] = mapped_column(String(500), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ComponentTicket(Base):
    __tablename__ = "component_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    component_appid: Mapped[str] = mapped_column(String(32), index=True)
    ticket: Mapped[str] = mapped_column(String(64), unique=True)
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)


class ComponentToken(Base):
    __tablename__ = "component_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    component_appid: Mapped[str] = mapped_column(String(32), index=True)
    token: Mapped[str] = mapped_column(String(100), unique=True)
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)


class TpAuthLink(Base):
    """An authorization page handed out by gen_link."""
    __tablename__ = "tp_auth_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[str] = mapped_column(String(64), unique=True)
    component_appid: Mapped[str] = mapped_column(String(32))
    link_type: Mapped[int] = mapped_column(Integer, default=1)
    redirect_uri: Mapped[str] = mapped_column(String(1000), default="")
    expires_ms: Mapped[int] = mapped_column(BigInteger)


class TpAuthorization(Base):
    """A mini-program's authorization of a third-party platform (authorized | unauthorized)."""
    __tablename__ = "tp_authorizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32))
    component_appid: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="authorized")
    authorized_ms: Mapped[int] = mapped_column(BigInteger)
    unauthorized_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("appid", "component_appid"),)


class TpAuthCode(Base):
    __tablename__ = "tp_auth_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    appid: Mapped[str] = mapped_column(String(32))
    component_appid: Mapped[str] = mapped_column(String(32))
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class TpAuthorizerToken(Base):
    """An authorizer access token and its refresh token (each refresh issues a new pair)."""
    __tablename__ = "tp_authorizer_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32), index=True)
    component_appid: Mapped[str] = mapped_column(String(32))
    access_token: Mapped[str] = mapped_column(String(100), unique=True)
    refresh_token: Mapped[str] = mapped_column(String(100), unique=True)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    refresh_expires_ms: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
