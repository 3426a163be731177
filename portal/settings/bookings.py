"""Store bookings: time slots with a capacity per store, and bookings synced from Douyin.

Douyin documents no booking read API; the sandbox offers `GET /sandbox/bookings?appid=` (a
sandbox-only endpoint, read here with a plain HTTP GET because it has no Douyin envelope).
A synced booking is stored once (unique Douyin booking id) and either confirmed against a slot
of its store or refused with the reason (no such slot, slot full, unknown POI).

The counter may call `for_voucher_or_phone(...)` to show a customer's bookings.
"""

from __future__ import annotations

import re
from datetime import date

import requests
from flask import current_app
from sqlalchemy import func, or_, select

from portal import audit, clock
from portal.accounts.models import Store
from portal.douyin import DouyinUnavailable
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.settings.errors import SettingsError
from portal.settings.models import Booking, BookingSlot, BookingStatus

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def list_slots(store_id: int) -> list[BookingSlot]:
    return db.session.scalars(select(BookingSlot).where(BookingSlot.store_id == store_id).order_by(BookingSlot.starts)).all()


def add_slot(store: Store, *, starts: str, ends: str, capacity: int, actor) -> BookingSlot:
    """Add a daily time slot to a store; times are HH:MM, end after start, no overlap; audited."""
    starts, ends = (starts or "").strip(), (ends or "").strip()
    if not _TIME.match(starts):
        raise SettingsError(_l("开始时间格式应为 HH:MM"), field="starts")
    if not _TIME.match(ends):
        raise SettingsError(_l("结束时间格式应为 HH:MM"), field="ends")
    if ends <= starts:
        raise SettingsError(_l("结束时间必须晚于开始时间"), field="ends")
    if capacity is None or capacity < 1:
        raise SettingsError(_l("容量至少为 1"), field="capacity")
    for other in list_slots(store.id):
        if starts < other.ends and other.starts < ends:
            raise SettingsError(_l("与已有时段 %(label)s 重叠", label=other.label), field="starts")
    slot = BookingSlot(organization_id=store.organization_id, store_id=store.id, starts=starts, ends=ends, capacity=capacity, created_at=clock.now())
    db.session.add(slot)
    db.session.flush()
    audit.record("settings.booking_slot.added", actor=actor, obj=slot, store_id=store.id, label=slot.label, capacity=capacity)
    return slot


def remove_slot(slot: BookingSlot, *, actor) -> None:
    """Remove a slot; confirmed bookings keep their time (they lose the link to the slot)."""
    for booking in db.session.scalars(select(Booking).where(Booking.slot_id == slot.id)):
        booking.slot_id = None
    audit.record("settings.booking_slot.removed", actor=actor, obj=slot, store_id=slot.store_id, label=slot.label)
    db.session.delete(slot)
    db.session.flush()


def booked(slot: BookingSlot, day: date) -> int:
    return db.session.scalar(
        select(func.count()).where(Booking.slot_id == slot.id, Booking.day == day, Booking.status == BookingStatus.CONFIRMED)
    ) or 0


def _normalize_label(label: str) -> str:
    return re.sub(r"\s+", "", (label or "")).replace("~", "-").replace("–", "-")


def record_booking(org_id: int, *, douyin_booking_id: str, poi_id: str, day: date, slot_label: str, phone: str = "", note: str = "", douyin_order_id: str = "") -> tuple[Booking, bool]:
    """Store one booking from Douyin: confirmed when its store has that slot with room left,
    refused with the reason otherwise. Idempotent on the Douyin booking id: returns (booking, created)."""
    # Reasons are stored in Chinese (the source language): they are data shown to every user.
    existing = db.session.scalar(select(Booking).where(Booking.douyin_booking_id == douyin_booking_id))
    if existing is not None:
        return existing, False
    store = db.session.scalar(select(Store).where(Store.organization_id == org_id, Store.douyin_poi_id == poi_id)) if poi_id else None
    booking = Booking(
        organization_id=org_id,
        store_id=store.id if store else None,
        douyin_booking_id=douyin_booking_id,
        douyin_order_id=douyin_order_id,
        poi_id=poi_id or "",
        day=day,
        slot_label=slot_label,
        phone=phone,
        note=(note or "")[:200],
        status=BookingStatus.REFUSED,
        created_at=clock.now(),
    )
    if douyin_order_id:
        from portal.orders.models import Order

        booking.order_id = db.session.scalar(select(Order.id).where(Order.organization_id == org_id, Order.douyin_order_id == douyin_order_id))
    wanted = _normalize_label(slot_label)
    slot = next((s for s in list_slots(store.id) if s.label == wanted), None) if store else None
    if store is None:
        booking.refused_reason = "未找到抖音门店 %(poi)s 对应的门店" % {"poi": poi_id or "—"}
    elif slot is None:
        booking.refused_reason = "%(store)s 未开放 %(label)s 时段的预约" % {"store": store.name, "label": slot_label or "—"}
    elif booked(slot, day) >= slot.capacity:
        booking.refused_reason = "%(day)s %(label)s 已约满（容量 %(n)s 人）" % {"day": day.isoformat(), "label": slot.label, "n": slot.capacity}
        booking.slot_id = slot.id
    else:
        booking.status = BookingStatus.CONFIRMED
        booking.slot_id = slot.id
    db.session.add(booking)
    db.session.flush()
    return booking, True


def fetch_sandbox_bookings(appid: str) -> list[dict]:
    """GET {DOUYIN_API_BASE}/sandbox/bookings?appid=…; raises DouyinUnavailable when unreachable."""
    url = current_app.config["DOUYIN_API_BASE"].rstrip("/") + "/sandbox/bookings"
    try:
        response = requests.get(url, params={"appid": appid}, timeout=(3.05, 10))
        response.raise_for_status()
        return list(response.json().get("bookings") or [])
    except (requests.RequestException, ValueError) as error:
        raise DouyinUnavailable(None, f"bookings: {error}") from error


def sync_bookings(org_id: int, *, actor=None) -> dict[str, int]:
    """Pull the organization's bookings from the sandbox and record the new ones.
    Returns counts {new, confirmed, refused}. Idempotent."""
    from portal.onboarding.connection import NO_MINI_APP, NotConnected, find_app

    app = find_app(org_id)
    if app is None or not app.app_id:
        raise NotConnected(NO_MINI_APP)
    counts = {"new": 0, "confirmed": 0, "refused": 0}
    for row in fetch_sandbox_bookings(app.app_id):
        try:
            day = date.fromisoformat(str(row.get("date") or ""))
        except ValueError:
            continue
        booking, created = record_booking(
            org_id,
            douyin_booking_id=str(row.get("booking_id")),
            poi_id=str(row.get("poi_id") or ""),
            day=day,
            slot_label=str(row.get("slot") or ""),
            phone=str(row.get("phone") or ""),
            note=str(row.get("note") or ""),
            douyin_order_id=str(row.get("order_id") or ""),
        )
        if created:
            counts["new"] += 1
            counts[booking.status] += 1
    audit.record("settings.bookings.synced", actor=actor, organization_id=org_id, **counts)
    return counts


def day_view(store: Store, day: date) -> list[tuple[BookingSlot | None, list[Booking]]]:
    """The store's day: each slot with its bookings (confirmed first), then bookings without a slot."""
    bookings = db.session.scalars(
        select(Booking).where(Booking.store_id == store.id, Booking.day == day).order_by(Booking.status, Booking.id)
    ).all()
    rows = [(slot, [b for b in bookings if b.slot_id == slot.id]) for slot in list_slots(store.id)]
    loose = [b for b in bookings if b.slot_id is None]
    if loose:
        rows.append((None, loose))
    return rows


def for_voucher_or_phone(org_id: int, *, voucher_code: str | None = None, phone: str | None = None, store_ids=None, day: date | None = None) -> list[Booking]:
    """Confirmed bookings of a customer, found by a voucher code (through its order) or a phone,
    from `day` (default today, Shanghai) on; limited to `store_ids` when given. For the counter."""
    day = day or clock.today_local()
    conditions = []
    if phone:
        conditions.append(Booking.phone == phone.strip())
    if voucher_code:
        from portal.orders.models import Voucher

        order_id = db.session.scalar(select(Voucher.order_id).where(Voucher.organization_id == org_id, Voucher.code == voucher_code.replace(" ", "")))
        if order_id is not None:
            conditions.append(Booking.order_id == order_id)
    if not conditions:
        return []
    stmt = select(Booking).where(
        Booking.organization_id == org_id, Booking.status == BookingStatus.CONFIRMED, Booking.day >= day, or_(*conditions)
    )
    if store_ids is not None:
        stmt = stmt.where(Booking.store_id.in_(store_ids))
    return db.session.scalars(stmt.order_by(Booking.day, Booking.slot_label)).all()


def parse_day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else clock.today_local()
    except ValueError:
        return clock.today_local()

