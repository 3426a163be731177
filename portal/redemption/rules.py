"""Anomaly rules over the attempt log, with per-organization thresholds.

1. A product with failed redemptions of more than N (default 5) codes in one Shanghai day is
   paused: not sellable here, taken offline on Douyin through the outbox, the owner notified. A
   code counts once a day however often it fails: a clerk looking up the same used voucher again
   is not a new sign of abuse. The day's count starts again at midnight, and again when the owner
   resumes the product.
2. A buyer phone with more than M (default 3) redemptions in 24 hours: the next redemption is held
   for the owner's review instead of going through (an approved case lets it through).
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.orm import selectinload

from portal import audit, clock, notifications, outbox, signals
from portal.catalog.models import Product
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orders.models import Order, Voucher, VoucherStatus
from portal.redemption.models import (
    Outcome,
    Reason,
    RedemptionAttempt,
    ReviewCase,
    ReviewStatus,
    RuleEvent,
    RuleEventKind,
    RuleSettings,
)

log = logging.getLogger(__name__)

DEFAULT_FAILED_PER_PRODUCT_DAY = 5
DEFAULT_REDEMPTIONS_PER_PHONE_24H = 3
PHONE_RULE = "phone_24h"
PRODUCT_OFFLINE = "redemption.product_offline"
PRODUCT_ONLINE = "redemption.product_online"
# Failures that say something about the code or the buyer; Douyin being down says nothing.
COUNTED_REASONS = (
    Reason.NOT_FOUND,
    Reason.ALREADY_REDEEMED,
    Reason.EXPIRED,
    Reason.WRONG_STORE,
    Reason.REFUNDED,
)
# "Already redeemed" this soon after the voucher was redeemed is two clerks confirming the same
# code at once (one wins, one loses): normal at a busy counter, not a sign of abuse.
RACE_WINDOW = timedelta(seconds=30)


def lost_a_race(reason: str, redeemed_at: datetime | None, at: datetime) -> bool:
    return reason == Reason.ALREADY_REDEEMED and redeemed_at is not None and timedelta(0) <= at - redeemed_at <= RACE_WINDOW


class RuleError(DomainError):
    """A rule setting or decision that cannot be made; the message is safe to show."""


def _link(endpoint: str, **values) -> str:
    try:
        return url_for(endpoint, **values)
    except RuntimeError:  # no request and no SERVER_NAME (a bare job)
        return ""


# --- settings -----------------------------------------------------------------------------------


def get_settings(organization_id: int) -> RuleSettings:
    """The organization's thresholds; an unsaved row with the defaults when it has none."""
    found = db.session.scalar(select(RuleSettings).where(RuleSettings.organization_id == organization_id))
    return found or RuleSettings(
        organization_id=organization_id,
        max_failed_per_product_day=DEFAULT_FAILED_PER_PRODUCT_DAY,
        max_redemptions_per_phone_24h=DEFAULT_REDEMPTIONS_PER_PHONE_24H,
    )


def save_settings(organization_id: int, *, max_failed_per_product_day: int, max_redemptions_per_phone_24h: int, actor, now: datetime) -> RuleSettings:
    """Store new thresholds (each 1..1000). Raises RuleError naming the field."""
    for name, value in (("max_failed_per_product_day", max_failed_per_product_day), ("max_redemptions_per_phone_24h", max_redemptions_per_phone_24h)):
        if not isinstance(value, int) or not 1 <= value <= 1000:
            raise RuleError(_l("请填写 1 到 1000 之间的整数"), field=name)
    settings = get_settings(organization_id)
    before = (settings.max_failed_per_product_day, settings.max_redemptions_per_phone_24h)
    settings.max_failed_per_product_day = max_failed_per_product_day
    settings.max_redemptions_per_phone_24h = max_redemptions_per_phone_24h
    settings.updated_by_id = actor.id
    settings.updated_at = now
    if settings.id is None:
        db.session.add(settings)
    db.session.flush()
    audit.record(
        "redemption.rules.updated",
        actor=actor,
        obj=settings,
        before=list(before),
        after=[max_failed_per_product_day, max_redemptions_per_phone_24h],
    )
    return settings


# --- rule 1: failures per product per day ---------------------------------------------------------


def _day_start(now: datetime) -> datetime:
    local = clock.to_local(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def failures_today(product_id: int, now: datetime) -> int:
    """Codes with a counted failure since local midnight, or since the owner last resumed the
    product."""
    since = _day_start(now)
    resumed = db.session.scalar(
        select(func.max(RuleEvent.at)).where(RuleEvent.product_id == product_id, RuleEvent.kind == RuleEventKind.PRODUCT_RESUMED)
    )
    if resumed is not None and resumed > since:
        since = resumed
    rows = db.session.execute(
        select(RedemptionAttempt.code, RedemptionAttempt.reason, Voucher.redeemed_at, RedemptionAttempt.at)
        .outerjoin(Voucher, Voucher.id == RedemptionAttempt.voucher_id)
        .where(
            RedemptionAttempt.product_id == product_id,
            RedemptionAttempt.outcome == Outcome.REJECTED,
            RedemptionAttempt.reason.in_(COUNTED_REASONS),
            RedemptionAttempt.at >= since,
        )
    ).all()
    return len({code for code, reason, redeemed_at, at in rows if not lost_a_race(reason, redeemed_at, at)})


def after_failure(attempt: RedemptionAttempt, *, now: datetime) -> bool:
    """Run rule 1 after a failed attempt; returns True when it paused the product now."""
    if not attempt.product_id or attempt.reason not in COUNTED_REASONS:
        return False
    voucher = db.session.get(Voucher, attempt.voucher_id) if attempt.voucher_id else None
    if lost_a_race(attempt.reason, voucher.redeemed_at if voucher else None, attempt.at):
        return False
    product = db.session.get(Product, attempt.product_id)
    if product is None or product.paused_at is not None:
        return False
    limit = get_settings(attempt.organization_id).max_failed_per_product_day
    count = failures_today(product.id, now)
    if count <= limit:
        return False
    # Kept as a message id with its values: each reader sees the reason in their language.
    why = _l("今日 %(count)s 张券码核销失败，超过 %(limit)s 张的阈值，已自动暂停", count=count, limit=limit)
    pause_product(product, why, None, now=now)
    db.session.add(RuleEvent(organization_id=product.organization_id, kind=RuleEventKind.PRODUCT_PAUSED, product_id=product.id, detail=why, at=now))
    notifications.notify(
        product.organization_id,
        "anomaly",
        _l("商品「%(name)s」已被自动暂停", name=product.name),
        why,
        link=_link("redemption.rules"),
    )
    return True


def pause_product(product: Product, reason: str, actor, *, now: datetime | None = None) -> Product:
    """Pause through the catalog's service when it exists; otherwise the local fallback below."""
    try:
        from portal.catalog.service import pause_product as catalog_pause
    except ImportError:
        catalog_pause = None
    if catalog_pause is not None:
        return catalog_pause(product, reason, actor, now=now)
    return _pause_locally(product, reason, actor, now=now or clock.now())


def _pause_locally(product: Product, reason: str, actor, *, now: datetime) -> Product:
    """Fallback until portal.catalog.service.pause_product exists: mark it, take it offline on
    Douyin through the outbox, send `product_paused`."""
    product.paused_at = now
    product.paused_reason = reason
    db.session.flush()
    if product.douyin_product_id or product.out_id:
        outbox.add(
            product.organization_id,
            PRODUCT_OFFLINE,
            {"product_id": product.douyin_product_id, "out_id": product.out_id},
            dedupe_key=f"offline:{product.id}:{int(now.timestamp())}",
        )
    audit.record("redemption.product.paused", actor=actor, obj=product, reason=reason)
    signals.product_paused.send(product, reason=reason)
    return product


def resume_product(product: Product, *, actor, now: datetime) -> Product:
    """The owner lifts a pause: sellable again, back online on Douyin if it was online, and the
    day's failure count starts from now. Raises RuleError if it is not paused."""
    if product.paused_at is None:
        raise RuleError(_l("该商品没有被暂停"))
    try:
        from portal.catalog.service import resume_product as catalog_resume
    except ImportError:
        catalog_resume = None
    if catalog_resume is not None:
        catalog_resume(product, actor, now=now)
    else:
        product.paused_at = None
        product.paused_reason = ""
        if product.douyin_online and (product.douyin_product_id or product.out_id):
            outbox.add(
                product.organization_id,
                PRODUCT_ONLINE,
                {"product_id": product.douyin_product_id, "out_id": product.out_id},
                dedupe_key=f"online:{product.id}:{int(now.timestamp())}",
            )
    db.session.add(RuleEvent(organization_id=product.organization_id, kind=RuleEventKind.PRODUCT_RESUMED, product_id=product.id, actor_id=actor.id, at=now))
    db.session.flush()
    audit.record("redemption.product.resumed", actor=actor, obj=product)
    return product


# --- rule 2: redemptions per phone per 24 h -------------------------------------------------------


@functools.cache
def _review_statements():
    """The two statements of `review_state`, built once (every confirm runs one).

    An open case for the voucher; and, when the buyer has a phone, whether the phone already has
    the maximum of redemptions in the 24 hours before `since` (the saved threshold, else the
    default) with no approved case covering this voucher. The count starts from the buyer's
    orders (indexed by phone), so it costs the same however many vouchers the merchant has
    redeemed."""
    open_case, held = review_conditions(bindparam("voucher_id"), bindparam("organization_id"), bindparam("phone"), bindparam("since"))
    return select(open_case, literal(False)), select(open_case, held)


def review_conditions(voucher_id, organization_id, phone, since):
    """The two conditions of `review_state` as SQL over the given expressions (columns of an
    enclosing statement, or parameters): an open case holds the voucher; the phone has had the
    maximum of redemptions since `since` and no approved case covers the voucher (only
    meaningful for a non-empty phone)."""
    open_case = select(ReviewCase.id).where(ReviewCase.voucher_id == voucher_id, ReviewCase.status == ReviewStatus.OPEN).exists()
    # One level deep, so that it correlates with the enclosing statement's columns.
    redeemed = (
        select(func.count())
        .select_from(Order)
        .join(Voucher, Voucher.order_id == Order.id)
        .where(Order.organization_id == organization_id, Order.buyer_phone == phone,
               Voucher.status == VoucherStatus.REDEEMED, Voucher.redeemed_at > since)
        .scalar_subquery()
    )
    limit = select(RuleSettings.max_redemptions_per_phone_24h).where(RuleSettings.organization_id == organization_id).scalar_subquery()
    approved = select(ReviewCase.id).where(ReviewCase.voucher_id == voucher_id, ReviewCase.status == ReviewStatus.APPROVED).exists()
    return open_case, (redeemed >= func.coalesce(limit, DEFAULT_REDEMPTIONS_PER_PHONE_24H)) & ~approved


def under_review(voucher: Voucher) -> bool:
    """An open review case holds this voucher (the first half of `review_state`, alone)."""
    without_phone, _ = _review_statements()
    return bool(db.session.execute(without_phone, {"voucher_id": voucher.id}).one()[0])


def review_state(voucher: Voucher, *, now: datetime) -> tuple[bool, bool]:
    """(an open review case holds this voucher, the phone rule holds this redemption): what the
    review side says of a confirm, in one statement."""
    phone = voucher.order.buyer_phone
    without_phone, with_phone = _review_statements()
    statement = with_phone if phone else without_phone
    params = {"voucher_id": voucher.id, "organization_id": voucher.organization_id, "phone": phone, "since": now - timedelta(hours=24)}
    is_open, held = db.session.execute(statement, params).one()
    return bool(is_open), bool(held)


def open_case(attempt: RedemptionAttempt, voucher: Voucher, store, actor, *, now: datetime) -> ReviewCase:
    from portal.orders.service import mask_phone

    case = ReviewCase(
        organization_id=voucher.organization_id,
        store_id=store.id,
        voucher_id=voucher.id,
        attempt_id=attempt.id,
        requested_by_id=getattr(actor, "id", None),
        buyer_phone=voucher.order.buyer_phone,
        rule=PHONE_RULE,
        status=ReviewStatus.OPEN,
        note="",
        created_at=now,
    )
    db.session.add(case)
    db.session.add(RuleEvent(organization_id=voucher.organization_id, kind=RuleEventKind.REDEMPTION_HELD, voucher_id=voucher.id, detail=voucher.order.buyer_phone, at=now))
    db.session.flush()
    limit = get_settings(voucher.organization_id).max_redemptions_per_phone_24h
    notifications.notify(
        voucher.organization_id,
        "anomaly",
        _l("一笔核销待审核"),
        _l("买家 %(phone)s 24 小时内核销已达 %(limit)s 次，%(store)s 的核销已暂缓，请审核", phone=mask_phone(case.buyer_phone), limit=limit, store=store.name),
        link=_link("redemption.reviews"),
        store_id=store.id,
    )
    audit.record("redemption.review.opened", actor=actor, obj=case, voucher_id=voucher.id)
    return case


# --- what the rules would have caught -------------------------------------------------------------


@dataclass
class ProductCatch:
    day: str
    product_id: int
    product_name: str
    failures: int


@dataclass
class PhoneCatch:
    phone: str
    at: datetime
    count: int
    code: str


def would_have_caught(organization_id: int, *, max_failed: int, max_phone: int, now: datetime, days: int = 30) -> dict:
    """Replay the attempt log of the last `days` days against these thresholds: the product-days
    that would have been paused and the redemptions that would have been held."""
    since = now - timedelta(days=days)
    failures = db.session.execute(
        select(RedemptionAttempt.product_id, RedemptionAttempt.at, RedemptionAttempt.code, RedemptionAttempt.reason, Voucher.redeemed_at)
        .outerjoin(Voucher, Voucher.id == RedemptionAttempt.voucher_id)
        .where(
            RedemptionAttempt.organization_id == organization_id,
            RedemptionAttempt.at >= since,
            RedemptionAttempt.outcome == Outcome.REJECTED,
            RedemptionAttempt.reason.in_(COUNTED_REASONS),
            RedemptionAttempt.product_id.is_not(None),
        )
    ).all()
    per_day: dict[tuple[str, int], set[str]] = defaultdict(set)  # the codes that failed, as rule 1 counts them
    for product_id, at, code, reason, redeemed_at in failures:
        if lost_a_race(reason, redeemed_at, at):
            continue
        per_day[(clock.to_local(at).date().isoformat(), product_id)].add(code)
    names = dict(db.session.execute(select(Product.id, Product.name).where(Product.id.in_({p for _, p in per_day} or {0}))).all())
    products = sorted(
        (ProductCatch(day, pid, names.get(pid, ""), len(codes)) for (day, pid), codes in per_day.items() if len(codes) > max_failed),
        key=lambda c: (c.day, c.product_id),
        reverse=True,
    )

    successes = db.session.execute(
        select(RedemptionAttempt.buyer_phone, RedemptionAttempt.at, RedemptionAttempt.code, RedemptionAttempt.voucher_id, RedemptionAttempt.outcome)
        .where(
            RedemptionAttempt.organization_id == organization_id,
            RedemptionAttempt.at >= since - timedelta(hours=24),
            RedemptionAttempt.outcome.in_((Outcome.SUCCESS, Outcome.UNDONE, Outcome.HELD)),
            RedemptionAttempt.buyer_phone != "",
        )
        .order_by(RedemptionAttempt.at, RedemptionAttempt.id)
    ).all()
    from portal.orders.service import mask_phone

    # A held redemption is counted once, when the customer stood at the counter: caught if the
    # thresholds catch it there, and part of the buyer's 24 hours only if the owner's approval made
    # it happen (the approval's own success is then not counted again).
    held_open: set[int] = set()
    approved: set[int] = set()
    for _phone, _at, _code, voucher_id, outcome in successes:
        if outcome == Outcome.HELD:
            held_open.add(voucher_id)
        elif outcome == Outcome.SUCCESS and voucher_id in held_open:
            held_open.discard(voucher_id)
            approved.add(voucher_id)
    phones: list[PhoneCatch] = []
    window: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    pending_approval: set[int] = set()
    for phone, at, code, voucher_id, outcome in successes:
        kept = window[phone]
        if outcome == Outcome.SUCCESS and voucher_id in pending_approval:
            pending_approval.discard(voucher_id)  # counted at the hold
            continue
        if outcome == Outcome.HELD:
            kept[:] = [(t, v) for t, v in kept if t > at - timedelta(hours=24)]
            if at >= since and len(kept) >= max_phone:
                phones.append(PhoneCatch(mask_phone(phone), at, len(kept) + 1, code))
            if voucher_id in approved and voucher_id not in pending_approval:
                pending_approval.add(voucher_id)
                kept.append((at, voucher_id))
            continue
        if outcome == Outcome.UNDONE:
            # An undone redemption no longer counts: drop the latest success of that voucher.
            for i in range(len(kept) - 1, -1, -1):
                if kept[i][1] == voucher_id:
                    del kept[i]
                    break
            continue
        kept[:] = [(t, v) for t, v in kept if t > at - timedelta(hours=24)]
        if at >= since and len(kept) >= max_phone:
            phones.append(PhoneCatch(mask_phone(phone), at, len(kept) + 1, code))
        kept.append((at, voucher_id))
    phones.reverse()
    return {"products": products, "phones": phones, "since": since}


def paused_products(organization_id: int) -> list[Product]:
    return list(db.session.scalars(select(Product).where(Product.organization_id == organization_id, Product.paused_at.is_not(None)).order_by(Product.paused_at.desc())))


def find_product(organization_id: int, product_id: int) -> Product | None:
    """One of the organization's products (None for another merchant's), for the resume button."""
    return db.session.scalar(select(Product).where(Product.organization_id == organization_id, Product.id == product_id))


@dataclass(frozen=True)
class CaseContext:
    """What the owner needs to decide a held redemption: how many times the buyer's phone had
    redeemed in the 24 hours before the hold, the threshold then in force, and the buyer's
    latest redemptions (attempts that succeeded, were held or undone), newest first."""

    redeemed_24h: int
    threshold: int
    history: list


def case_context(case: ReviewCase, *, history: int = 5) -> CaseContext:
    """Read-only. A case without a buyer phone has no count and no history."""
    return case_contexts([case], history=history)[case.id]


def case_contexts(cases, *, history: int = 5) -> dict[int, CaseContext]:
    """`case_context` of each case, by case id, in three statements however many cases there are
    (the reviews page shows up to 200): the thresholds, the phones' redemptions over the cases'
    24-hour windows (counted here per case), and each phone's latest attempts."""
    cases = list(cases)
    if not cases:
        return {}
    organizations = {case.organization_id for case in cases}
    saved = dict(db.session.execute(select(RuleSettings.organization_id, RuleSettings.max_redemptions_per_phone_24h)
                                    .where(RuleSettings.organization_id.in_(organizations))).all())
    threshold = {org: saved.get(org, DEFAULT_REDEMPTIONS_PER_PHONE_24H) for org in organizations}  # get_settings' default
    with_phone = [case for case in cases if case.buyer_phone]
    redeemed: dict[tuple, list[datetime]] = defaultdict(list)
    latest: dict[tuple, list] = defaultdict(list)
    if with_phone:
        phones = {case.buyer_phone for case in with_phone}
        since = min(case.created_at for case in with_phone) - timedelta(hours=24)
        until = max(case.created_at for case in with_phone)
        for org, phone, at in db.session.execute(
            select(Order.organization_id, Order.buyer_phone, Voucher.redeemed_at).join(Voucher, Voucher.order_id == Order.id).where(
                Order.organization_id.in_(organizations), Order.buyer_phone.in_(phones), Voucher.status == VoucherStatus.REDEEMED,
                Voucher.redeemed_at > since, Voucher.redeemed_at <= until,
            )
        ):
            redeemed[(org, phone)].append(at)
        rank = func.row_number().over(
            partition_by=(RedemptionAttempt.organization_id, RedemptionAttempt.buyer_phone),
            order_by=(RedemptionAttempt.at.desc(), RedemptionAttempt.id.desc()),
        ).label("rank")
        ranked = select(RedemptionAttempt.id, rank).where(
            RedemptionAttempt.organization_id.in_(organizations), RedemptionAttempt.buyer_phone.in_(phones),
            RedemptionAttempt.outcome.in_((Outcome.SUCCESS, Outcome.HELD, Outcome.UNDONE)),
        ).subquery()
        attempts = db.session.scalars(
            select(RedemptionAttempt).join(ranked, ranked.c.id == RedemptionAttempt.id).where(ranked.c.rank <= history)
            .options(selectinload(RedemptionAttempt.product), selectinload(RedemptionAttempt.store))
            .order_by(RedemptionAttempt.at.desc(), RedemptionAttempt.id.desc())
        )
        for attempt in attempts:
            latest[(attempt.organization_id, attempt.buyer_phone)].append(attempt)
    contexts = {}
    for case in cases:
        if not case.buyer_phone:
            contexts[case.id] = CaseContext(0, threshold[case.organization_id], [])
            continue
        key = (case.organization_id, case.buyer_phone)
        window = case.created_at - timedelta(hours=24)
        count = sum(1 for at in redeemed[key] if window < at <= case.created_at)
        contexts[case.id] = CaseContext(count, threshold[case.organization_id], list(latest[key]))
    return contexts
