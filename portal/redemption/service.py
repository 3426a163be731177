"""The counter: look a code up, redeem it exactly once, undo within the hour.

Every attempt is written to `redemption_attempts` (the anomaly rules read it). Redeeming is one
conditional `UPDATE vouchers … WHERE status = 'unused'`: of two phones confirming at once, the
database lets exactly one through, and the other is told who redeemed it and when. A confirm
carries a one-time nonce from the phone; replaying it (double tap, network retry) returns the
first answer and changes nothing.

Local codes are redeemed here and reported to Douyin through the outbox. Douyin certificates
are verified live (prepare → verify); a timeout asks Douyin for the certificate's status before
anything is retried, so a verify that did happen is never sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, clock, outbox, signals
from portal.accounts.models import Store, User
from portal.catalog.models import Product
from portal.database import insert_unless_taken
from portal.douyin import DouyinError, DouyinUnavailable
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders import codes, laike
from portal.orders import service as orders
from portal.orders.models import Order, OrderItem, Voucher, VoucherKind, VoucherStatus
from portal.redemption import rules
from portal.redemption.models import Outcome, Reason, RedemptionAttempt, ReviewCase, ReviewStatus

log = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(hours=1)
VERIFY_LOCAL = "redemption.verify_local"
CANCEL_LOCAL = "redemption.cancel_local"
DOUYIN_DONE = (0,)
DOUYIN_ALREADY = (1208, 2)
DOUYIN_REASONS = {1204: Reason.NOT_FOUND, 1205: Reason.EXPIRED, 1206: Reason.REFUNDED, 1207: Reason.REFUNDED, 1208: Reason.ALREADY_REDEEMED, 2: Reason.ALREADY_REDEEMED, 1301: Reason.WRONG_STORE}

REASON_TEXT = {
    Reason.NOT_FOUND: _l("没有找到这张券，请核对券码后重试。"),
    Reason.ALREADY_REDEEMED: _l("这张券已经核销过了，不能重复核销。"),
    Reason.EXPIRED: _l("这张券已过期，不能核销。"),
    Reason.WRONG_STORE: _l("这张券不能在本门店使用。"),
    Reason.REFUNDED: _l("这张券已退款，不能核销。"),
    Reason.PRODUCT_PAUSED: _l("该商品因异常已暂停核销，请联系店主。"),
    Reason.HELD_FOR_REVIEW: _l("该买家 24 小时内核销次数过多，本次核销已提交店主审核，请稍候。"),
    Reason.DOUYIN_UNREACHABLE: _l("暂时连不上抖音，这张券没有核销，请稍后重试。"),
}


class RedemptionError(DomainError):
    """A counter action that cannot be done; the message is safe to show."""


@dataclass
class Preview:
    """What a code is, before the clerk confirms."""

    code: str
    voucher: Voucher
    product_name: str
    buyer: str
    valid_until: datetime
    store_names: list[str]
    douyin: bool = False
    uses_left: int = 1
    uses_total: int = 1
    bookings: list = field(default_factory=list)


@dataclass
class Result:
    outcome: str
    reason: str = ""
    detail: str = ""
    voucher: Voucher | None = None
    attempt: RedemptionAttempt | None = None
    replayed: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.SUCCESS

    @property
    def message(self) -> str:
        if self.outcome == Outcome.HELD:
            return str(REASON_TEXT[Reason.HELD_FOR_REVIEW])
        return str(REASON_TEXT[Reason(self.reason)]) if self.reason else ""


@dataclass(frozen=True)
class UndoState:
    allowed: bool
    seconds_left: int
    why_not: str = ""


# --- helpers ------------------------------------------------------------------------------------


def redeemed_line(voucher: Voucher) -> str:
    """已于 14:02 由 张三 核销 (in Shanghai time; the date too when it was not today)."""
    if voucher.redeemed_at is None:
        return ""
    local = clock.to_local(voucher.redeemed_at)
    when = local.strftime("%H:%M") if local.date() == clock.today_local() else local.strftime("%m-%d %H:%M")
    who = db.session.get(User, voucher.redeemed_by_id).display_name if voucher.redeemed_by_id else str(_l("抖音"))
    store = db.session.get(Store, voucher.redeemed_store_id).name if voucher.redeemed_store_id else ""
    if store:
        return str(_l("已于 %(when)s 由 %(who)s 核销（%(store)s）", when=when, who=who, store=store))
    return str(_l("已于 %(when)s 由 %(who)s 核销", when=when, who=who))


def find_voucher(organization_id: int, code: str) -> Voucher | None:
    """The voucher with what the counter shows and checks: its order, item, product and the
    product's stores, in one statement.

    A 次卡 is one code the customer sees (its first use's) for N uses: once that use is taken,
    the code stands for the card's next unused use, so the customer shows the same code N times."""
    voucher = _voucher_where(Voucher.organization_id == organization_id, Voucher.code == code)
    if voucher is None or voucher.status == VoucherStatus.UNUSED:
        return voucher
    return _next_card_use(voucher) or voucher


def _voucher_where(*criteria) -> Voucher | None:
    return db.session.scalars(
        select(Voucher)
        .where(*criteria)
        .options(joinedload(Voucher.order), joinedload(Voucher.item).joinedload(OrderItem.product).joinedload(Product.stores))
    ).unique().first()


def _next_card_use(voucher: Voucher) -> Voucher | None:
    """The first unused use of the card `voucher` belongs to (None: not a card, or used up)."""
    next_id = db.session.scalar(
        select(Voucher.id).where(Voucher.order_item_id == voucher.order_item_id, Voucher.id != voucher.id,
                                 Voucher.status == VoucherStatus.UNUSED).order_by(Voucher.id).limit(1)
    )
    return _voucher_where(Voucher.id == next_id) if next_id is not None else None


def _check(voucher: Voucher, store: Store, now: datetime, *, review: bool = True) -> tuple[Reason | None, str]:
    """Why this voucher cannot be redeemed here now, in the order the clerk needs to hear it.

    `review=False` leaves out the last reason, an open review case: a confirm asks for it
    together with the phone rule (`rules.review_state`)."""
    if voucher.status == VoucherStatus.REFUNDED:
        return Reason.REFUNDED, voucher.note
    if voucher.status == VoucherStatus.REDEEMED:
        return Reason.ALREADY_REDEEMED, redeemed_line(voucher)
    if voucher.status == VoucherStatus.EXPIRED or voucher.valid_until < now:
        return Reason.EXPIRED, str(_l("有效期至 %(day)s", day=clock.to_local(voucher.valid_until).strftime("%Y-%m-%d")))
    if not orders.valid_at(voucher, store.id):
        return Reason.WRONG_STORE, _store_names(voucher)
    product = voucher.item.product if voucher.item else None
    if product is not None and product.paused_at is not None:
        return Reason.PRODUCT_PAUSED, product.paused_reason
    if review and rules.under_review(voucher):
        return Reason.HELD_FOR_REVIEW, ""
    return None, ""


def _store_names(voucher: Voucher) -> str:
    ids = orders.store_ids_for(voucher)
    if ids is None:
        return str(_l("全部门店可用"))
    names = db.session.scalars(select(Store.name).where(Store.id.in_(ids)).order_by(Store.id)).all()
    return str(_l("可用门店：%(names)s", names="、".join(names)))


def _uses(voucher: Voucher) -> tuple[int, int]:
    statuses = db.session.scalars(select(Voucher.status).where(Voucher.order_item_id == voucher.order_item_id)).all()
    return sum(1 for s in statuses if s == VoucherStatus.UNUSED), len(statuses)


def customer_code(voucher: Voucher, typed: str | None = None) -> str:
    """The code as the customer knows it: ours for a local voucher; for a Douyin certificate the
    code scanned at the counter (`typed`, else the last one tried for it), never the internal
    DY… key that stands for it here."""
    if voucher.kind == VoucherKind.LOCAL:
        return voucher.code
    if typed:
        return typed
    return db.session.scalar(
        select(RedemptionAttempt.code).where(RedemptionAttempt.voucher_id == voucher.id, RedemptionAttempt.code != "")
        .order_by(RedemptionAttempt.id.desc()).limit(1)
    ) or ""


def _new_attempt(store: Store, code: str, actor, now: datetime, *, nonce: str | None = None) -> RedemptionAttempt:
    return RedemptionAttempt(
        organization_id=store.organization_id,
        store_id=store.id,
        user_id=getattr(actor, "id", None),
        code=code[:64],
        outcome=Outcome.PENDING,
        reason="",
        detail="",
        buyer_phone="",
        nonce=nonce,
        at=now,
    )


def _attach(attempt: RedemptionAttempt, voucher: Voucher | None) -> None:
    if voucher is not None:
        attempt.voucher_id = voucher.id
        attempt.product_id = voucher.item.product_id if voucher.item else None
        attempt.buyer_phone = voucher.order.buyer_phone


def _reject(attempt: RedemptionAttempt, reason: Reason, detail: str = "", voucher: Voucher | None = None, *, now: datetime) -> Result:
    _attach(attempt, voucher)
    attempt.outcome = Outcome.REJECTED
    attempt.reason = reason
    attempt.detail = detail or ""
    if attempt.id is None:
        db.session.add(attempt)
    db.session.flush()
    rules.after_failure(attempt, now=now)
    return Result(Outcome.REJECTED, reason, detail, voucher, attempt)


# --- lookup -------------------------------------------------------------------------------------


def lookup(store: Store, raw_code: str, *, actor, now: datetime) -> Preview | Result:
    """Show what a code is. A code that cannot be redeemed here is a logged, rejected attempt
    (a Result); a redeemable one is a Preview (nothing is written)."""
    code = codes.normalize(raw_code)
    voucher = find_voucher(store.organization_id, code) if code else None
    if voucher is None and code and not codes.looks_local(code):
        return _lookup_douyin(store, code, actor=actor, now=now)
    attempt = _new_attempt(store, code, actor, now)
    if voucher is None or voucher.kind != VoucherKind.LOCAL:
        detail = str(_l("券码校验位不对，可能输错了一位")) if codes.looks_local(code) and not codes.check_ok(code) else ""
        return _reject(attempt, Reason.NOT_FOUND, detail, now=now)
    reason, detail = _check(voucher, store, now)
    if reason:
        return _reject(attempt, reason, detail, voucher, now=now)
    return _preview(code, voucher)


def _preview(code: str, voucher: Voucher, *, douyin: bool = False) -> Preview:
    left, total = _uses(voucher)
    return Preview(
        code=code,
        voucher=voucher,
        product_name=voucher.item.title if voucher.item else "",
        buyer=orders.mask_phone(voucher.order.buyer_phone),
        valid_until=voucher.valid_until,
        store_names=[_store_names(voucher)],
        douyin=douyin,
        uses_left=left,
        uses_total=total,
        bookings=_bookings(voucher),
    )


def _bookings(voucher: Voucher) -> list:
    """The customer's confirmed bookings for this order from today on, shown to the clerk."""
    from portal.settings import bookings

    return bookings.for_voucher_or_phone(voucher.organization_id, voucher_code=voucher.code)


# --- redeem -------------------------------------------------------------------------------------


def redeem(store: Store, raw_code: str, *, nonce: str, actor, now: datetime) -> Result:
    """Redeem one code at `store`. Idempotent on (organization, nonce): the same nonce gets the
    same answer. Rejections are Results with a reason from the closed list, never exceptions;
    the attempt is logged either way and the caller commits."""
    code = codes.normalize(raw_code)
    nonce = (nonce or "").strip()[:64] or None
    voucher = find_voucher(store.organization_id, code) if code else None
    local = voucher is not None and voucher.kind == VoucherKind.LOCAL
    attempt = _new_attempt(store, code, actor, now, nonce=nonce)
    if local:
        _attach(attempt, voucher)
    # The attempt is written first, keyed by the nonce: a replay (or the same confirm still being
    # handled by another request, which this waits for) gets that confirm's answer.
    if not insert_unless_taken(db.session, attempt, "organization_id", "nonce"):
        return _replay(_attempt_by_nonce(store.organization_id, nonce))

    if voucher is None and code and not codes.looks_local(code):
        return _redeem_douyin(attempt, store, code, actor=actor, now=now)
    if not local:
        return _reject(attempt, Reason.NOT_FOUND, now=now)
    reason, detail = _check(voucher, store, now, review=False)
    if reason:
        return _reject(attempt, reason, detail, voucher, now=now)
    under_review, phone_held = rules.review_state(voucher, now=now)
    if under_review:
        return _reject(attempt, Reason.HELD_FOR_REVIEW, "", voucher, now=now)
    if phone_held:
        return _hold(attempt, voucher, store, actor, now=now)
    while not _claim(voucher, store, actor, now):
        db.session.refresh(voucher)
        # Another phone took this use of a 次卡 at the same moment: this one takes the next use.
        following = _next_card_use(voucher)
        if following is None:
            reason, detail = _check(voucher, store, now)
            return _reject(attempt, reason or Reason.ALREADY_REDEEMED, detail, voucher, now=now)
        voucher = following
        _attach(attempt, voucher)
    _after_redeemed(attempt, voucher, store, actor, now)
    return Result(Outcome.SUCCESS, voucher=voucher, attempt=attempt)


def _attempt_by_nonce(organization_id: int, nonce: str) -> RedemptionAttempt | None:
    return db.session.scalar(
        select(RedemptionAttempt).where(RedemptionAttempt.organization_id == organization_id, RedemptionAttempt.nonce == nonce)
    )


def _replay(prior: RedemptionAttempt) -> Result:
    voucher = db.session.get(Voucher, prior.voucher_id) if prior.voucher_id else None
    return Result(prior.outcome, prior.reason, prior.detail, voucher, prior, replayed=True)


def _claim(voucher: Voucher, store: Store, actor, now: datetime) -> bool:
    """The one conditional update: true for exactly one caller per unused voucher."""
    rows = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.status == VoucherStatus.UNUSED)
        .values(status=VoucherStatus.REDEEMED, redeemed_at=now, redeemed_by_id=getattr(actor, "id", None), redeemed_store_id=store.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if rows == 1:
        # What the UPDATE wrote, without reading the row back.
        for name, value in (("status", VoucherStatus.REDEEMED), ("redeemed_at", now), ("redeemed_by_id", getattr(actor, "id", None)), ("redeemed_store_id", store.id)):
            set_committed_value(voucher, name, value)
    return rows == 1


def _after_redeemed(attempt: RedemptionAttempt, voucher: Voucher, store: Store, actor, now: datetime) -> None:
    """The claimed voucher's consequences: the attempt's success, the Douyin report, the audit
    entry, `voucher_redeemed`, and the order's completion when this was its last voucher."""
    # The order's vouchers as they are after the claim: the report and the completion read them.
    siblings = db.session.execute(
        select(Voucher.order_item_id, Voucher.code, Voucher.status).where(Voucher.order_id == voucher.order_id).order_by(Voucher.id)
    ).all()
    if voucher.kind == VoucherKind.LOCAL:
        attempt.report_message_id = _report_local(voucher, store, attempt, [(c, s) for item_id, c, s in siblings if item_id == voucher.order_item_id])
    attempt.outcome = Outcome.SUCCESS
    audit.record("redemption.voucher.redeemed", actor=actor, obj=voucher, store_id=store.id, voucher_code=voucher.code, kind=voucher.kind)
    signals.voucher_redeemed.send(voucher, actor=actor)
    orders.complete_if_done(voucher.order, now=now, statuses=[status for _, _, status in siblings])


def _report_local(voucher: Voucher, store: Store, attempt: RedemptionAttempt, siblings: list[tuple[str, str]]) -> int | None:
    """Queue the Douyin report once the sub-order's last use is redeemed (a 次卡 reports when used
    up). `siblings` are the sub-order's (code, status) in id order.

    Douyin knows one code per sub-order, the one the customer is shown (the card's first use's),
    which is the report's code."""
    item = voucher.item
    if not item or not item.douyin_item_order_id:
        return None
    if any(status != VoucherStatus.REDEEMED for _, status in siblings):
        return None
    if attempt.id is None:
        db.session.flush()  # the report is keyed by the attempt
    message = outbox.add(
        voucher.organization_id,
        VERIFY_LOCAL,
        {
            "order_id": voucher.order.douyin_order_id,
            "item_order_id": item.douyin_item_order_id,
            "code": siblings[0][0],
            "out_order_no": voucher.order.out_order_no,
            "poi_id": store.douyin_poi_id or voucher.order.douyin_poi_id,
            "poi_info": {"shop_name": store.name, "ext_valid_shop_id": str(store.id),
                         "valid_poi_id_str": store.douyin_poi_id or voucher.order.douyin_poi_id or ""},
            "voucher_id": voucher.id,
        },
        dedupe_key=f"verify:{attempt.id}",
    )
    return message.id


def _hold(attempt: RedemptionAttempt, voucher: Voucher, store: Store, actor, *, now: datetime) -> Result:
    attempt.outcome = Outcome.HELD
    attempt.reason = Reason.HELD_FOR_REVIEW
    db.session.flush()
    rules.open_case(attempt, voucher, store, actor, now=now)
    return Result(Outcome.HELD, Reason.HELD_FOR_REVIEW, "", voucher, attempt)


# --- Douyin certificates ------------------------------------------------------------------------


class _Unreachable(Exception):
    pass


def _douyin_ref(code: str) -> dict:
    """A typed 12-digit code, or a scanned QR: a share URL with object_id, or a short link to one."""
    if "://" not in code:
        return {"code": code}
    parsed = urlparse(code)
    query = parse_qs(parsed.query)
    for name in ("object_id", "encrypted_data"):
        if query.get(name):
            return {"encrypted_data": query[name][0]}
    return {"encrypted_data": _follow_short_link(code)}


def _follow_short_link(url: str) -> str:
    """v.douyin.com short links redirect to a URL carrying object_id; follow only Douyin's (or
    the configured Douyin base's) hosts, one hop, never the body."""
    import requests
    from flask import current_app

    allowed = {"v.douyin.com", urlparse(current_app.config.get("DOUYIN_API_BASE", "")).netloc}
    if urlparse(url).netloc not in allowed:
        raise _NotDouyin()
    try:
        response = requests.get(url, allow_redirects=False, timeout=(2, 3))
    except requests.RequestException as error:
        raise _Unreachable() from error
    target = response.headers.get("Location", "")
    found = parse_qs(urlparse(target).query).get("object_id")
    if not found:
        raise _NotDouyin()
    return found[0]


class _NotDouyin(Exception):
    pass


def _client(organization_id: int):
    from portal.onboarding.connection import NotConnected, client_for

    try:
        # No silent retries: a verify that timed out is looked up before it is sent again.
        return client_for(organization_id, max_retries=0, timeout=(2, 5))
    except NotConnected:
        return None


def _prepare(store: Store, code: str, now: datetime):
    """(client, prepare data, certificate, local voucher) or raises a (reason, detail) tuple."""
    client = _client(store.organization_id)
    if client is None:
        raise _Rejection(Reason.NOT_FOUND, "")
    try:
        data = client.certificate_prepare(**_douyin_ref(code))
    except (_NotDouyin, ValueError):
        raise _Rejection(Reason.NOT_FOUND, "")
    except (DouyinUnavailable, _Unreachable):
        raise _Rejection(Reason.DOUYIN_UNREACHABLE, "")
    except DouyinError as error:
        raise _Rejection(*_explain_unpreparable(client, store, code, error))
    certificates = data["certificates"]
    if not certificates:
        raise _Rejection(Reason.NOT_FOUND, "")
    certificate = certificates[0]
    voucher = _voucher_for_certificate(store.organization_id, data["order_id"], certificate, now)
    if voucher is None:
        raise _Rejection(Reason.NOT_FOUND, str(_l("抖音有这张券，但订单还没有同步到本系统，请稍后重试")))
    return client, data, certificate, voucher


class _Rejection(Exception):
    def __init__(self, reason: Reason, detail: str = "", voucher: Voucher | None = None):
        super().__init__(reason)
        self.reason, self.detail, self.voucher = reason, detail, voucher


def _explain_unpreparable(client, store: Store, code: str, error: DouyinError) -> tuple[Reason, str]:
    """Prepare refuses used, refunded and unknown codes alike: ask certificate/get which it is."""
    if "://" in code:
        return Reason.NOT_FOUND, str(error.message)
    try:
        got = client.certificate_get(code=code)
    except DouyinUnavailable:
        return Reason.DOUYIN_UNREACHABLE, ""
    except DouyinError:
        return Reason.NOT_FOUND, ""
    certificate = got["certificate"]
    status = certificate["status"]
    if status == 2:
        certificate_id = (certificate.get("verify") or {}).get("certificate_id") or ""
        local = certificate_id and db.session.scalar(
            select(Voucher).where(Voucher.organization_id == store.organization_id, Voucher.douyin_certificate_id == certificate_id)
        )
        return Reason.ALREADY_REDEEMED, redeemed_line(local) if local else str(_l("已在抖音核销"))
    if status in (3, 4):
        return Reason.REFUNDED, ""
    return Reason.NOT_FOUND, ""


def _voucher_for_certificate(organization_id: int, douyin_order_id: str, certificate: dict, now: datetime) -> Voucher | None:
    """The local voucher a prepared certificate stands for: the order's first unused Douyin
    voucher (prepare names no sub-order, so the order's certificates are interchangeable here).
    A 来客 order (Douyin's own channel) gets its voucher when its certificate is first shown."""
    stmt = (
        select(Voucher)
        .join(Order, Voucher.order_id == Order.id)
        .join(OrderItem, Voucher.order_item_id == OrderItem.id)
        .where(Voucher.organization_id == organization_id, Voucher.kind == VoucherKind.DOUYIN, Order.douyin_order_id == douyin_order_id)
        .options(joinedload(Voucher.order), joinedload(Voucher.item).joinedload(OrderItem.product))
        .order_by(Voucher.id)
    )
    candidates = list(db.session.scalars(stmt).unique())
    unused = next((v for v in candidates if v.status == VoucherStatus.UNUSED), None)
    if unused is None:
        unused = laike.voucher_for_laike_certificate(organization_id, douyin_order_id, certificate, now=now)
    return unused or (candidates[0] if candidates else None)


def _lookup_douyin(store: Store, code: str, *, actor, now: datetime) -> Preview | Result:
    attempt = _new_attempt(store, code, actor, now)
    try:
        _, _, _, voucher = _prepare(store, code, now)
    except _Rejection as rejection:
        return _reject(attempt, rejection.reason, rejection.detail, rejection.voucher, now=now)
    reason, detail = _check(voucher, store, now)
    if reason:
        return _reject(attempt, reason, detail, voucher, now=now)
    return _preview(code, voucher, douyin=True)


def _redeem_douyin(attempt: RedemptionAttempt, store: Store, code: str, *, actor, now: datetime) -> Result:
    try:
        client, data, certificate, voucher = _prepare(store, code, now)
    except _Rejection as rejection:
        return _reject(attempt, rejection.reason, rejection.detail, rejection.voucher, now=now)
    reason, detail = _check(voucher, store, now, review=False)
    if reason:
        return _reject(attempt, reason, detail, voucher, now=now)
    under_review, phone_held = rules.review_state(voucher, now=now)
    if under_review:
        return _reject(attempt, Reason.HELD_FOR_REVIEW, "", voucher, now=now)
    if not store.douyin_poi_id:
        return _reject(attempt, Reason.WRONG_STORE, str(_l("本门店还没有绑定抖音门店")), voucher, now=now)
    _attach(attempt, voucher)
    if phone_held:
        return _hold(attempt, voucher, store, actor, now=now)
    savepoint = db.session.begin_nested()
    if not _claim(voucher, store, actor, now):
        savepoint.rollback()
        db.session.refresh(voucher)
        return _reject(attempt, Reason.ALREADY_REDEEMED, redeemed_line(voucher), voucher, now=now)
    try:
        verified = _verify_once(client, data, certificate, store)
    except _Rejection as rejection:
        savepoint.rollback()
        db.session.refresh(voucher)
        return _reject(attempt, rejection.reason, rejection.detail, voucher, now=now)
    voucher.douyin_certificate_id = str(verified.get("certificate_id") or "")[:64]
    voucher.douyin_verify_id = str(verified.get("verify_id") or "")[:64]
    savepoint.commit()
    _after_redeemed(attempt, voucher, store, actor, now)
    return Result(Outcome.SUCCESS, voucher=voucher, attempt=attempt)


def _verify_once(client, data: dict, certificate: dict, store: Store) -> dict:
    """Verify one certificate. On a timeout, look the certificate up first: verified → done;
    still unused → send the same verify (its verify_token makes it idempotent) one more time."""
    encrypted = certificate.get("encrypted_code")

    def send():
        reply = client.certificate_verify(verify_token=data["verify_token"], poi_id=store.douyin_poi_id, encrypted_codes=[encrypted])
        return (reply["verify_results"] or [{}])[0]

    try:
        result = send()
    except DouyinUnavailable:
        status = _status_after_timeout(client, encrypted)
        if status["status"] == 2 and status.get("verify"):
            return {"verify_id": status["verify"]["verify_id"], "certificate_id": status["verify"]["certificate_id"]}
        if status["status"] != 1:
            raise _Rejection(Reason.DOUYIN_UNREACHABLE)
        try:
            result = send()
        except DouyinUnavailable:
            raise _Rejection(Reason.DOUYIN_UNREACHABLE)
        except DouyinError as error:
            raise _Rejection(Reason.DOUYIN_UNREACHABLE, str(error.message))
        if result.get("result") in DOUYIN_ALREADY:
            return result  # our first verify did land after all
    except DouyinError as error:
        raise _Rejection(Reason.DOUYIN_UNREACHABLE, str(error.message))
    code = result.get("result")
    if code in DOUYIN_DONE:
        return result
    raise _Rejection(DOUYIN_REASONS.get(code, Reason.NOT_FOUND), str(result.get("msg") or ""))


def _status_after_timeout(client, encrypted_code: str) -> dict:
    try:
        got = client.certificate_get(encrypted_code=encrypted_code)
    except DouyinError:
        raise _Rejection(Reason.DOUYIN_UNREACHABLE)
    return got["certificate"]


# --- undo ---------------------------------------------------------------------------------------


def cases_of(attempts) -> dict[int, ReviewCase]:
    """The review cases of the held attempts among `attempts`, by attempt id: what became of them."""
    held = [a.id for a in attempts if a.outcome == Outcome.HELD]
    if not held:
        return {}
    return {case.attempt_id: case for case in db.session.scalars(select(ReviewCase).where(ReviewCase.attempt_id.in_(held)))}


def undo_state(voucher: Voucher, now: datetime) -> UndoState:
    if voucher.status != VoucherStatus.REDEEMED or voucher.redeemed_at is None:
        return UndoState(False, 0, str(_l("这张券当前不是已核销状态")))
    left = int((voucher.redeemed_at + UNDO_WINDOW - now).total_seconds())
    if left <= 0:
        return UndoState(False, 0, str(_l("核销已超过 1 小时，不能撤销（与抖音的撤销时限一致）。如需处理请联系店主。")))
    return UndoState(True, left)


def last_success(voucher: Voucher) -> RedemptionAttempt | None:
    return db.session.scalar(
        select(RedemptionAttempt)
        .where(RedemptionAttempt.voucher_id == voucher.id, RedemptionAttempt.outcome == Outcome.SUCCESS)
        .order_by(RedemptionAttempt.id.desc())
        .limit(1)
    )


def undo(voucher: Voucher, *, actor, now: datetime, store: Store | None = None) -> RedemptionAttempt:
    """Undo a redemption within 1 hour. A Douyin certificate is cancelled live first (nothing
    changes here if Douyin refuses or is down); a local code is put back and its Douyin report is
    dropped if still queued, or cancelled through the outbox if delivered. Sends
    `voucher_redemption_undone`. Raises RedemptionError when the window has passed."""
    state = undo_state(voucher, now)
    if not state.allowed:
        raise RedemptionError(state.why_not)
    success = last_success(voucher)
    redeemed_at = voucher.redeemed_at
    store = db.session.get(Store, voucher.redeemed_store_id) if voucher.redeemed_store_id else store
    if voucher.kind == VoucherKind.DOUYIN:
        _cancel_douyin(voucher, success)
    rows = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.status == VoucherStatus.REDEEMED, Voucher.redeemed_at == redeemed_at)
        .values(status=VoucherStatus.UNUSED, redeemed_at=None, redeemed_by_id=None, redeemed_store_id=None, douyin_verify_id="")
        .execution_options(synchronize_session=False)
    ).rowcount
    if rows != 1:
        raise RedemptionError(_l("这次核销已经被撤销了"))
    db.session.refresh(voucher)
    if success is not None and success.report_message_id:
        _withdraw_report(voucher, success)
    attempt = _new_attempt(store, voucher.code, actor, now)
    _attach(attempt, voucher)
    attempt.outcome = Outcome.UNDONE
    attempt.detail = str(_l("撤销 %(when)s 的核销", when=clock.to_local(redeemed_at).strftime("%H:%M")))
    db.session.add(attempt)
    orders.reopen_if_undone(voucher.order)
    db.session.flush()
    audit.record("redemption.voucher.undone", actor=actor, obj=voucher, redeemed_at=redeemed_at.isoformat())
    signals.voucher_redemption_undone.send(voucher, actor=actor)
    return attempt


def _cancel_douyin(voucher: Voucher, success: RedemptionAttempt | None) -> None:
    client = _client(voucher.organization_id)
    if client is None or not voucher.douyin_verify_id:
        raise RedemptionError(_l("缺少抖音核销记录，无法撤销"))
    try:
        client.certificate_cancel(
            certificate_id=voucher.douyin_certificate_id,
            verify_id=voucher.douyin_verify_id,
            cancel_token=f"portal-undo-{success.id if success else voucher.id}",
        )
    except DouyinUnavailable:
        raise RedemptionError(_l("暂时连不上抖音，撤销没有完成，请稍后重试"))
    except DouyinError as error:
        if error.code == 3000001:
            raise RedemptionError(_l("抖音已不允许撤销：超过 1 小时撤销时限"))
        raise RedemptionError(_l("抖音拒绝撤销：%(message)s", message=error.message))


def _withdraw_report(voucher: Voucher, success: RedemptionAttempt) -> None:
    """Douyin never heard of a report still queued: drop it. One already delivered is cancelled."""
    message = db.session.get(outbox.OutboxMessage, success.report_message_id, with_for_update=True, populate_existing=True)
    if message is None:
        return
    if message.status == outbox.OutboxStatus.PENDING:
        success.report_message_id = None
        db.session.flush()
        db.session.delete(message)
    elif message.status == outbox.OutboxStatus.DELIVERED:
        result = message.result or {}
        outbox.add(
            voucher.organization_id,
            CANCEL_LOCAL,
            {"order_id": voucher.order.douyin_order_id, "certificate_id": result.get("certificate_id", ""),
             "verify_id": result.get("verify_id", ""), "voucher_id": voucher.id},
            dedupe_key=f"cancel:{message.id}",
        )


# --- review cases -------------------------------------------------------------------------------


def decide_case(case: ReviewCase, *, approve: bool, note: str, actor, now: datetime) -> Result | None:
    """The owner's answer to a held redemption. Approving redeems the voucher (as if confirmed at
    the case's store, by the clerk who asked) unless it was meanwhile redeemed, refunded or expired;
    rejecting leaves it unused. Raises RedemptionError for a case already decided."""
    if case.status != ReviewStatus.OPEN:
        raise RedemptionError(_l("这条审核已处理"))
    case.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    case.note = (note or "").strip()
    case.decided_by_id = actor.id
    case.decided_at = now
    db.session.flush()
    audit.record("redemption.review.decided", actor=actor, obj=case, approve=approve, note=case.note)
    if not approve:
        return None
    voucher = db.session.get(Voucher, case.voucher_id)
    if voucher.kind != VoucherKind.LOCAL:
        # A certificate is verified live with a fresh scan; the approval lets that scan through.
        case.note = (case.note + " " + str(_l("请顾客重新出示抖音券码核销"))).strip()
        return None
    store = db.session.get(Store, case.store_id)
    clerk = db.session.get(User, case.requested_by_id) if case.requested_by_id else actor
    attempt = _new_attempt(store, voucher.code, clerk, now)
    db.session.add(attempt)
    reason, detail = _check(voucher, store, now)
    if reason:
        case.note = (case.note + " " + str(REASON_TEXT[reason])).strip()
        return _reject(attempt, reason, detail, voucher, now=now)
    _attach(attempt, voucher)
    if not _claim(voucher, store, clerk, now):
        return _reject(attempt, Reason.ALREADY_REDEEMED, redeemed_line(voucher), voucher, now=now)
    attempt.detail = str(_l("店主审核通过"))
    _after_redeemed(attempt, voucher, store, clerk, now)
    return Result(Outcome.SUCCESS, voucher=voucher, attempt=attempt)
