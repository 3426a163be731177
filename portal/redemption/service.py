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

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

from sqlalchemy import JSON, Boolean, Date, Integer, String, and_, bindparam, case, exists, func, literal, select, text, true, update
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, clock, messages, outbox, signals
from portal.accounts.models import Store, User
from portal.catalog.models import Product, product_stores
from portal.database import UTCDateTime, insert_unless_taken
from portal.douyin import DouyinError, DouyinUnavailable
from portal.errors import DomainError
from portal.extensions import db, queue
from portal.i18n import lazy_gettext as _l
from portal.orders import codes, laike
from portal.orders import service as orders
from portal.ledger.models import LedgerOrderStatus
from portal.orders.models import Fulfilment, Order, OrderItem, OrderStatus, Voucher, VoucherKind, VoucherStatus
from portal.redemption import rules
from portal.redemption.models import Outcome, Reason, RedemptionAttempt, ReviewCase, ReviewStatus
from portal.settings import counter_card

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
    voucher: Voucher | SimpleNamespace  # the fast path's `_shown`
    product_name: str
    buyer: str
    valid_until: datetime
    store_names: list[str]
    douyin: bool = False
    uses_left: int = 1
    uses_total: int = 1
    card: object | None = None  # the booking and incentive card, when the read brought it (else the template reads it)


@dataclass
class Result:
    outcome: str
    reason: str = ""
    detail: str = ""
    voucher: Voucher | SimpleNamespace | None = None  # a confirm's fast path answers with `_shown` rows
    attempt: RedemptionAttempt | SimpleNamespace | None = None
    replayed: bool = False
    extra: dict = field(default_factory=dict)
    card: object | None = None  # as Preview.card

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


def redeemed_line(voucher: Voucher):
    """已于 14:02 由 张三 核销 (in Shanghai time; the date too when it was not today), as a
    message: stored with an attempt, it reads in its reader's language."""
    if voucher.redeemed_at is None:
        return ""
    local = clock.to_local(voucher.redeemed_at)
    when = local.strftime("%H:%M") if local.date() == clock.today_local() else local.strftime("%m-%d %H:%M")
    who = db.session.get(User, voucher.redeemed_by_id).display_name if voucher.redeemed_by_id else _l("抖音")
    store = db.session.get(Store, voucher.redeemed_store_id).name if voucher.redeemed_store_id else ""
    if store:
        return _l("已于 %(when)s 由 %(who)s 核销（%(store)s）", when=when, who=who, store=store)
    return _l("已于 %(when)s 由 %(who)s 核销", when=when, who=who)


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


def _check(voucher: Voucher, store: Store, now: datetime, *, review: bool = True) -> tuple[Reason | None, object]:
    """Why this voucher cannot be redeemed here now, in the order the clerk needs to hear it, with
    the detail (a message of the portal's, or text as it was typed).

    `review=False` leaves out the last reason, an open review case: a confirm asks for it
    together with the phone rule (`rules.review_state`)."""
    if voucher.status == VoucherStatus.REFUNDED:
        return Reason.REFUNDED, voucher.note
    if voucher.status == VoucherStatus.REDEEMED:
        return Reason.ALREADY_REDEEMED, redeemed_line(voucher)
    if voucher.status == VoucherStatus.EXPIRED or voucher.valid_until < now:
        return Reason.EXPIRED, _l("有效期至 %(day)s", day=clock.to_local(voucher.valid_until).strftime("%Y-%m-%d"))
    if not orders.valid_at(voucher, store.id):
        return Reason.WRONG_STORE, _store_names(voucher)
    product = voucher.item.product if voucher.item else None
    if product is not None and product.paused_at is not None:
        why = messages.stored(product, "paused_reason")  # the message itself, not this reader's words for it
        return Reason.PRODUCT_PAUSED, messages.as_message(why) or why
    if review and rules.under_review(voucher):
        return Reason.HELD_FOR_REVIEW, ""
    return None, ""


def _store_names(voucher: Voucher):
    ids = orders.store_ids_for(voucher)
    if ids is None:
        return _l("全部门店可用")
    names = db.session.scalars(select(Store.name).where(Store.id.in_(ids)).order_by(Store.id)).all()
    return _l("可用门店：%(names)s", names="、".join(names))


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


def _reject(attempt: RedemptionAttempt, reason: Reason, detail="", voucher: Voucher | None = None, *, now: datetime) -> Result:
    """`detail`: a message of the portal's (kept as such with the attempt) or text as typed."""
    _attach(attempt, voucher)
    attempt.outcome = Outcome.REJECTED
    attempt.reason = reason
    attempt.detail = detail or ""
    if attempt.id is None:
        db.session.add(attempt)
    db.session.flush()
    rules.after_failure(attempt, now=now)
    return Result(Outcome.REJECTED, reason, attempt.detail, voucher, attempt)


# --- the counter's statements -------------------------------------------------------------------
#
# A lookup and a confirm of a redeemable local code are the counter's every-minute work: each
# reads everything its rule needs in one statement (`_read`), and a confirm writes everything
# that follows in one more (`_record`). Both are built once; their rows, not the ORM's unit of
# work, carry the answer.

LOOKUP, CONFIRM = "lookup", "confirm"
_READ_COLUMNS = {  # label: attribute of the use (v), its order (o), its item (i) or product (p)
    "id": ("v", "id"), "organization_id": ("v", "organization_id"), "order_id": ("v", "order_id"), "order_item_id": ("v", "order_item_id"),
    "kind": ("v", "kind"), "code": ("v", "code"), "status": ("v", "status"), "valid_from": ("v", "valid_from"), "valid_until": ("v", "valid_until"),
    "redeemed_at": ("v", "redeemed_at"), "redeemed_by_id": ("v", "redeemed_by_id"), "redeemed_store_id": ("v", "redeemed_store_id"),
    "note": ("v", "note"), "douyin_certificate_id": ("v", "douyin_certificate_id"), "douyin_verify_id": ("v", "douyin_verify_id"),
    "order_status": ("o", "status"), "fulfilment": ("o", "fulfilment"), "buyer_phone": ("o", "buyer_phone"), "douyin_order_id": ("o", "douyin_order_id"),
    "out_order_no": ("o", "out_order_no"), "order_douyin_poi_id": ("o", "douyin_poi_id"), "order_store_id": ("o", "store_id"),
    "order_completed_at": ("o", "completed_at"),
    "title": ("i", "title"), "douyin_item_order_id": ("i", "douyin_item_order_id"), "product_id": ("i", "product_id"),
    "paused_at": ("p", "paused_at"),
}


@functools.cache
def _read_statement(purpose: str, dialect: str):
    """The use a code stands for (the code's own voucher while unused, else its 次卡's first
    unused use, else the code's voucher), with its order, item and product, whether it is valid
    at the store, whether a review case holds it, and the booking and incentive card shown beside
    it (`counter_card.joined`). A lookup adds the card's uses and the
    stores' names; a confirm adds whether the nonce was used, the phone rule, the card's first
    code (Douyin's) and the ledger's settlement rule, and locks the order's row: two confirms of
    one order's vouchers take turns, so the second sees the first's (order completion and the
    card's report are decided on what is committed)."""
    from portal.ledger import service as ledger
    from portal.redemption import rules

    shown, v, uses = aliased(Voucher, name="shown"), aliased(Voucher, name="v"), aliased(Voucher, name="uses")
    o, i, p = aliased(Order, name="o"), aliased(OrderItem, name="i"), aliased(Product, name="p")
    entities = {"v": v, "o": o, "i": i, "p": p}
    store_id = bindparam("store_id", type_=Integer)
    restricted = exists().where(product_stores.c.product_id == i.product_id)
    here = exists().where(product_stores.c.product_id == i.product_id, product_stores.c.store_id == store_id)
    valid_here = case((restricted, here), (o.store_id.is_not(None), o.store_id == store_id), else_=true())
    open_case, phone_held = rules.review_conditions(v.id, v.organization_id, o.buyer_phone, bindparam("since", type_=UTCDateTime()))
    columns = [getattr(entities[entity], name).label(label) for label, (entity, name) in _READ_COLUMNS.items()]
    columns += [valid_here.label("valid_here"), open_case.label("under_review")]
    if purpose == LOOKUP:
        counted = lambda *where: select(func.count()).select_from(uses).where(uses.order_item_id == v.order_item_id, *where).scalar_subquery()  # noqa: E731
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import aggregate_order_by

            joined = func.string_agg(Store.name, aggregate_order_by(literal("、"), Store.id))
        else:  # SQLite reads product_stores by its key: the stores come in id order
            joined = func.group_concat(Store.name, "、")
        product_store_names = (
            select(joined).select_from(product_stores.join(Store, Store.id == product_stores.c.store_id))
            .where(product_stores.c.product_id == i.product_id).scalar_subquery()
        )
        order_store_name = select(Store.name).where(Store.id == o.store_id).scalar_subquery()
        columns += [counted().label("uses_total"), counted(uses.status == VoucherStatus.UNUSED).label("uses_left"),
                    restricted.label("restricted"), func.coalesce(product_store_names, order_store_name).label("store_names")]
    else:
        nonce_taken = exists().where(RedemptionAttempt.organization_id == v.organization_id, RedemptionAttempt.nonce == bindparam("nonce", type_=String))
        card_code = select(uses.code).where(uses.order_item_id == v.order_item_id).order_by(uses.id).limit(1).scalar_subquery()
        basis, days = ledger.settlement_rule_columns(v.organization_id)
        columns += [nonce_taken.label("nonce_taken"), and_(o.buyer_phone != "", phone_held).label("phone_held"), card_code.label("card_code"),
                    basis.label("settlement_basis"), days.label("settlement_days")]
    rank = case((and_(v.id == shown.id, v.status == VoucherStatus.UNUSED), 0), (v.status == VoucherStatus.UNUSED, 1), (v.id == shown.id, 2), else_=3)
    statement = (
        select(*columns)
        .select_from(shown)
        .join(v, v.order_item_id == shown.order_item_id)
        .join(o, o.id == v.order_id)
        .join(i, i.id == v.order_item_id)
        .outerjoin(p, p.id == i.product_id)
        .where(shown.organization_id == bindparam("organization_id", type_=Integer), shown.code == bindparam("code", type_=String))
    )
    statement = (
        counter_card.joined(statement, v, bindparam("today", type_=Date))
        .order_by(rank, v.id)
        .limit(1)
    )
    return statement.with_for_update(of=o) if purpose == CONFIRM else statement


def _read(purpose: str, store: Store, code: str, *, now: datetime, nonce: str | None = None):
    """The row of `_read_statement` for this code at this store (a mapping), or None."""
    params = {"organization_id": store.organization_id, "code": code, "store_id": store.id, "since": now - timedelta(hours=24),
              "today": clock.to_local(now).date()}
    if purpose == CONFIRM:
        params["nonce"] = nonce
    statement = _read_statement(purpose, db.session.get_bind().dialect.name)
    db.session.flush()  # what session.execute would do first: this session's pending changes are read too
    row = db.session.connection().execute(statement, params).first()  # Core: a row is all it needs
    return row._mapping if row is not None else None


def _redeemable(seen, store: Store, now: datetime) -> bool:
    """`_check` on a row of `_read`: nothing stops this use being redeemed here now."""
    return (
        seen["kind"] == VoucherKind.LOCAL and seen["status"] == VoucherStatus.UNUSED and seen["valid_until"] >= now
        and bool(seen["valid_here"]) and seen["paused_at"] is None and not seen["under_review"]
    )


def _store_names_of(seen) -> str:
    """`_store_names` from a lookup's row."""
    if seen["store_names"] is None:
        return str(_l("全部门店可用"))
    return str(_l("可用门店：%(names)s", names=seen["store_names"]))


def _shown(seen, **changes) -> SimpleNamespace:
    """What an answer shows of the row's voucher, from the row itself: its attributes (and its
    item's title), not an ORM object (nothing to build, flush or expire on the counter's two
    every-minute requests). A Voucher's readers (the panel, `customer_code`, `undo_state`) read
    it alike."""
    values = {label: seen[label] for label, (entity, _) in _READ_COLUMNS.items() if entity == "v"}
    return SimpleNamespace(**(values | changes), item=SimpleNamespace(title=seen["title"], product_id=seen["product_id"]))


def _tell_session(model, key: int, values: dict) -> None:
    """The session's object for that row, if it holds one, learns what a statement wrote (nothing is read)."""
    found = db.session.identity_map.get(db.session.identity_key(model, key))
    if found is not None:
        for name, value in values.items():
            set_committed_value(found, name, value)


_RECORD_PARAMS = (
    bindparam("organization_id", type_=Integer), bindparam("store_id", type_=Integer), bindparam("user_id", type_=Integer),
    bindparam("code", type_=String), bindparam("voucher_id", type_=Integer), bindparam("product_id", type_=Integer),
    bindparam("buyer_phone", type_=String), bindparam("nonce", type_=String), bindparam("now", type_=UTCDateTime()),
    bindparam("order_item_id", type_=Integer), bindparam("order_id", type_=Integer), bindparam("report", type_=Boolean),
    bindparam("report_kind", type_=String), bindparam("report_payload", type_=JSON()), bindparam("audit_payload", type_=JSON()),
    bindparam("object_id", type_=String), bindparam("due_at", type_=UTCDateTime()),
)
# Rows the confirm writes, named once for the ORM path and the SQL below.
REDEEMED_AUDIT = "redemption.voucher.redeemed"
REPORT_DEDUPE_PREFIX = "verify:"
_V, _O = VoucherStatus, OrderStatus
# What the claim does, as SQL: the same on both databases; PostgreSQL runs it as one statement.
# ({gate}, {source}, {attempt_id}… are filled per database by _record_statements.)
_CLAIM = f"""UPDATE vouchers SET status = '{_V.REDEEMED}', redeemed_at = :now, redeemed_by_id = :user_id, redeemed_store_id = :store_id
    WHERE id = :voucher_id AND status = '{_V.UNUSED}'
      AND NOT EXISTS (SELECT 1 FROM redemption_attempts WHERE organization_id = :organization_id AND nonce = :nonce)"""
# Douyin hears of a sub-order once its last use is redeemed (a 次卡 when used up).
_LAST_USE = f"NOT EXISTS (SELECT 1 FROM vouchers WHERE order_item_id = :order_item_id AND id <> :voucher_id AND status <> '{_V.REDEEMED}')"
_REPORT = f"""INSERT INTO outbox_messages (organization_id, kind, dedupe_key, payload, status, attempts, next_attempt_at, last_error, created_at)
    SELECT :organization_id, :report_kind, '{REPORT_DEDUPE_PREFIX}' || {{attempt_id}}, :report_payload, '{outbox.OutboxStatus.PENDING}', 0, :now, '', :now {{source}}
    WHERE :report AND """ + _LAST_USE
_ATTEMPT = f"""INSERT INTO redemption_attempts ({{id}}organization_id, store_id, user_id, code, voucher_id, product_id, buyer_phone,
                                 outcome, reason, detail, nonce, report_message_id, at)
    SELECT {{attempt_id}}:organization_id, :store_id, :user_id, :code, :voucher_id, :product_id, :buyer_phone,
           '{Outcome.SUCCESS}', '', '', :nonce, {{report_id}}, :now {{source}}"""
_AUDIT = f"""INSERT INTO audit_entries (organization_id, actor_id, code, object_type, object_id, payload, at)
    SELECT :organization_id, :user_id, '{REDEEMED_AUDIT}', 'Voucher', :object_id, :audit_payload, :now {{source}}"""
# The order is complete when every other voucher of it is redeemed or refunded (orders.complete_if_done).
_COMPLETE = f"""UPDATE orders SET status = '{_O.COMPLETED}', completed_at = :now
    WHERE id = :order_id AND status = '{_O.PAID}' AND fulfilment = '{Fulfilment.IN_STORE}' {{gate}}
      AND NOT EXISTS (SELECT 1 FROM vouchers WHERE order_id = :order_id AND id <> :voucher_id AND status NOT IN ('{_V.REDEEMED}', '{_V.REFUNDED}'))"""
# The ledger's settlement clock starts (ledger.mark_complete; `due_at` from ledger.completion_due_at).
_CLOCK = f"""UPDATE ledger_orders SET completed_at = :now, due_at = COALESCE(:due_at, due_at)
    WHERE order_id = :order_id AND status = '{LedgerOrderStatus.IN_TRANSIT}' AND completed_at IS NULL {{gate}}"""


@functools.cache
def _record_statements(dialect: str) -> tuple:
    """The statements of `_record`: on PostgreSQL one, its steps chained as WITH clauses (each
    runs only if the claim did); elsewhere the same steps one after another."""
    if dialect == "postgresql":
        sql = f"""WITH ids AS (SELECT nextval(pg_get_serial_sequence('redemption_attempts', 'id')) AS attempt_id),
claimed AS ({_CLAIM} RETURNING id),
report AS ({_REPORT.format(attempt_id="ids.attempt_id", source="FROM ids, claimed")} RETURNING id),
attempt AS ({_ATTEMPT.format(id="id, ", attempt_id="ids.attempt_id, ", report_id="(SELECT id FROM report)", source="FROM ids, claimed")} RETURNING id, report_message_id),
audit AS ({_AUDIT.format(source="FROM claimed")}),
completed AS ({_COMPLETE.format(gate="AND EXISTS (SELECT 1 FROM claimed)")} RETURNING id),
clock AS ({_CLOCK.format(gate="AND EXISTS (SELECT 1 FROM completed)")} RETURNING id)
SELECT (SELECT id FROM attempt) AS attempt_id, (SELECT report_message_id FROM attempt) AS report_id,
       EXISTS (SELECT 1 FROM completed) AS completed, EXISTS (SELECT 1 FROM clock) AS clock_started"""
        return (text(sql).bindparams(*_RECORD_PARAMS).columns(attempt_id=Integer, report_id=Integer, completed=Boolean, clock_started=Boolean),)
    # One writer at a time (BEGIN IMMEDIATE): what the read saw still holds, step by step. So
    # the attempt can take the next id explicitly, and the report, written first, name it.
    next_attempt_id = "(SELECT COALESCE(MAX(id), 0) + 1 FROM redemption_attempts)"
    steps = (
        _CLAIM + " RETURNING id",
        _REPORT.format(attempt_id=next_attempt_id, source="") + " RETURNING id",
        _ATTEMPT.format(id="id, ", attempt_id=next_attempt_id + ", ", report_id=":report_id", source="") + " RETURNING id",
        _AUDIT.format(source=""),
        _COMPLETE.format(gate="") + " RETURNING id",
        _CLOCK.format(gate=""),
    )
    extra = (bindparam("report_id", type_=Integer),)
    return tuple(text(sql).bindparams(*(p for p in _RECORD_PARAMS + extra if re.search(rf":{p.key}\b", sql))) for sql in steps)


def _record(seen, store: Store, code: str, *, nonce: str, actor, now: datetime) -> Result | None:
    """Claim the use `seen` (a row of `_read` that passed the rule) and write what follows it.
    None when it was not claimed (another phone was first): nothing is written then."""
    from portal.ledger import service as ledger

    order_poi = seen["order_douyin_poi_id"]
    params = {
        "organization_id": seen["organization_id"], "store_id": store.id, "user_id": getattr(actor, "id", None), "code": code[:64],
        "voucher_id": seen["id"], "product_id": seen["product_id"], "buyer_phone": seen["buyer_phone"], "nonce": nonce, "now": now,
        "order_item_id": seen["order_item_id"], "order_id": seen["order_id"], "report": bool(seen["douyin_item_order_id"]),
        "report_kind": VERIFY_LOCAL,
        "report_payload": {
            "order_id": seen["douyin_order_id"], "item_order_id": seen["douyin_item_order_id"], "code": seen["card_code"],
            "out_order_no": seen["out_order_no"], "poi_id": store.douyin_poi_id or order_poi,
            "poi_info": {"shop_name": store.name, "ext_valid_shop_id": str(store.id), "valid_poi_id_str": store.douyin_poi_id or order_poi or ""},
            "voucher_id": seen["id"],
        },
        "audit_payload": {"store_id": store.id, "voucher_code": seen["code"], "kind": seen["kind"]},
        "object_id": str(seen["id"]),
        "due_at": ledger.completion_due_at(seen["settlement_basis"], seen["settlement_days"], now),
    }
    statements = _record_statements(db.session.get_bind().dialect.name)
    run = db.session.connection().execute  # Core statements, in the session's transaction
    if len(statements) == 1:
        attempt_id, report_id, completed, clock_started = run(statements[0], params).one()
        if attempt_id is None:
            return None
    else:
        claim, report, attempt, audit_entry, complete, clock_start = statements
        if run(claim, params).first() is None:
            return None
        params["report_id"] = report_id = run(report, params).scalar() if params["report"] else None
        attempt_id = run(attempt, params).scalar_one()
        run(audit_entry, params)
        completed = run(complete, params).first() is not None
        clock_started = completed and run(clock_start, params).rowcount == 1
    claimed = {"status": VoucherStatus.REDEEMED, "redeemed_at": now, "redeemed_by_id": params["user_id"], "redeemed_store_id": store.id}
    _tell_session(Voucher, seen["id"], claimed)
    if completed:
        _tell_session(Order, seen["order_id"], {"status": OrderStatus.COMPLETED, "completed_at": now})
        if not clock_started:  # the ledger has no row for the order yet: its own service records one
            ledger.mark_complete(db.session.get(Order, seen["order_id"]), now=now)
    attempt = SimpleNamespace(
        id=attempt_id, organization_id=seen["organization_id"], store_id=store.id, user_id=params["user_id"], code=params["code"],
        voucher_id=seen["id"], product_id=seen["product_id"], buyer_phone=seen["buyer_phone"], outcome=Outcome.SUCCESS,
        reason="", detail="", nonce=nonce, report_message_id=report_id, at=now,
    )
    # After commit the other domains hear of it and the report goes out, in a job shared with the
    # confirms around it (a busy counter queues one job, not one per code).
    queue.enqueue_batched("portal.jobs.default.run_redemption_events", seen["id"], bool(completed), report_id)
    return Result(Outcome.SUCCESS, voucher=_shown(seen, **claimed), attempt=attempt,
                  card=counter_card.card(seen, status=VoucherStatus.REDEEMED, redeemed_at=now, now=now))


def send_redemption_events(voucher_id: int, *, completed: bool) -> None:
    """Tell the other domains of a confirm after it committed: `voucher_redeemed`, and
    `order_completed` when it completed the order (its ledger clock already started with it).
    Receivers are idempotent, so a job run twice is harmless."""
    voucher = db.session.get(Voucher, voucher_id)
    if voucher is None or voucher.status != VoucherStatus.REDEEMED:
        return  # undone meanwhile: the undo told them
    signals.voucher_redeemed.send(voucher, actor=db.session.get(User, voucher.redeemed_by_id) if voucher.redeemed_by_id else None)
    if completed and voucher.order.status == OrderStatus.COMPLETED:
        signals.order_completed.send(voucher.order)


# --- lookup -------------------------------------------------------------------------------------


def lookup(store: Store, raw_code: str, *, actor, now: datetime) -> Preview | Result:
    """Show what a code is. A code that cannot be redeemed here is a logged, rejected attempt
    (a Result); a redeemable one is a Preview (nothing is written).

    A local code that can be redeemed here costs one statement (`_read`); anything else is
    looked at again through the models, which say why not."""
    code = codes.normalize(raw_code)
    seen = _read(LOOKUP, store, code, now=now) if code else None
    if seen is not None and _redeemable(seen, store, now):
        return Preview(
            code=code, voucher=_shown(seen), product_name=seen["title"] or "", buyer=orders.mask_phone(seen["buyer_phone"]),
            valid_until=seen["valid_until"], store_names=[_store_names_of(seen)], uses_left=seen["uses_left"], uses_total=seen["uses_total"],
            card=counter_card.card(seen, status=seen["status"], redeemed_at=seen["redeemed_at"], now=now),
        )
    voucher = find_voucher(store.organization_id, code) if code else None
    if voucher is None and code and not codes.looks_local(code):
        return _lookup_douyin(store, code, actor=actor, now=now)
    attempt = _new_attempt(store, code, actor, now)
    if voucher is None or voucher.kind != VoucherKind.LOCAL:
        detail = _l("券码校验位不对，可能输错了一位") if codes.looks_local(code) and not codes.check_ok(code) else ""
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
        store_names=[str(_store_names(voucher))],
        douyin=douyin,
        uses_left=left,
        uses_total=total,
    )


# --- redeem -------------------------------------------------------------------------------------


def redeem(store: Store, raw_code: str, *, nonce: str, actor, now: datetime) -> Result:
    """Redeem one code at `store`. Idempotent on (organization, nonce): the same nonce gets the
    same answer. Rejections are Results with a reason from the closed list, never exceptions;
    the attempt is logged either way and the caller commits.

    The rule, for a local code: it is redeemed when its use is unused, within its validity, valid
    at this store, its product not paused, no review case holds it, its buyer's phone is under
    the 24-hour limit, and the nonce is new. Then one statement (`_record`) claims it and writes
    the attempt, the Douyin report, the audit entry, the order's completion and the start of the
    ledger's settlement clock; the other domains hear of it from a job after commit. Anything
    else (a rejection, a replay, a use another phone took meanwhile, a Douyin certificate) goes
    the way that explains itself (`_redeem_or_explain`)."""
    code = codes.normalize(raw_code)
    nonce = (nonce or "").strip()[:64] or None
    seen = _read(CONFIRM, store, code, now=now, nonce=nonce) if code and nonce else None
    if seen is not None and _redeemable(seen, store, now) and not seen["nonce_taken"] and not seen["phone_held"]:
        done = _record(seen, store, code, nonce=nonce, actor=actor, now=now)
        if done is not None:
            return done
    return _redeem_or_explain(store, code, nonce=nonce, actor=actor, now=now)


def _redeem_or_explain(store: Store, code: str, *, nonce: str | None, actor, now: datetime) -> Result:
    """`redeem` through the models, one step at a time: the attempt first (the nonce's answer),
    then every reason in the order the clerk needs to hear it."""
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
    audit.record(REDEEMED_AUDIT, actor=actor, obj=voucher, store_id=store.id, voucher_code=voucher.code, kind=voucher.kind)
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
        dedupe_key=f"{REPORT_DEDUPE_PREFIX}{attempt.id}",
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
        raise _Rejection(Reason.NOT_FOUND, _l("抖音有这张券，但订单还没有同步到本系统，请稍后重试"))
    return client, data, certificate, voucher


class _Rejection(Exception):
    def __init__(self, reason: Reason, detail="", voucher: Voucher | None = None):
        super().__init__(reason)
        self.reason, self.detail, self.voucher = reason, detail, voucher


def _explain_unpreparable(client, store: Store, code: str, error: DouyinError) -> tuple[Reason, object]:
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
        return Reason.ALREADY_REDEEMED, redeemed_line(local) if local else _l("已在抖音核销")
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
        return _reject(attempt, Reason.WRONG_STORE, _l("本门店还没有绑定抖音门店"), voucher, now=now)
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
    attempt.detail = _l("撤销 %(when)s 的核销", when=clock.to_local(redeemed_at).strftime("%H:%M"))
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
        case.outcome_msg = messages.dump(_l("请顾客重新出示抖音券码核销"))
        return None
    store = db.session.get(Store, case.store_id)
    clerk = db.session.get(User, case.requested_by_id) if case.requested_by_id else actor
    attempt = _new_attempt(store, voucher.code, clerk, now)
    db.session.add(attempt)
    reason, detail = _check(voucher, store, now)
    if reason:
        case.outcome_msg = messages.dump(REASON_TEXT[reason])
        return _reject(attempt, reason, detail, voucher, now=now)
    _attach(attempt, voucher)
    if not _claim(voucher, store, clerk, now):
        return _reject(attempt, Reason.ALREADY_REDEEMED, redeemed_line(voucher), voucher, now=now)
    attempt.detail = _l("店主审核通过")
    _after_redeemed(attempt, voucher, store, clerk, now)
    return Result(Outcome.SUCCESS, voucher=voucher, attempt=attempt)
