"""Store bookings: time slots with a capacity per store, and the bookings buyers make in the
mini-program.

The mini-program sends a buyer's wish to our back end (`POST /mp/<token>/bookings`); we create
the booking on Douyin (trade v2 `book/create_book`, which answers its book_id), decide it at once
against the store's slots (confirmed, or refused with the reason: no such slot, slot full,
unknown POI) and tell Douyin the result (`book/book_result_callback`, through the outbox). So a
booking is in the day view as soon as the buyer makes it; there is nothing to sync.

A store may also offer private rooms (包间, `BookingRoom`): the buyer picks one with the slot; a
room takes one booking per slot and day, for at most its seats. The mini-program reads what it
can offer on a day with `GET /mp/<token>/bookings/options` (`options_for`).

The counter shows a voucher's next booking beside it (`settings.counter_card`).
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, time

from sqlalchemy import func, select

from portal import audit, clock, messages, outbox
from portal.accounts.models import Store
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.settings.errors import SettingsError
from portal.settings.models import Booking, BookingRoom, BookingSlot, BookingStatus

RESULT_KIND = "settings.booking_result"
_SLOT = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")

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


def list_rooms(store_id: int) -> list[BookingRoom]:
    return db.session.scalars(select(BookingRoom).where(BookingRoom.store_id == store_id).order_by(BookingRoom.name)).all()


def add_room(store: Store, *, name: str, seats: int, actor) -> BookingRoom:
    """Add a private room (包间) customers can pick with a slot: a name unique in the store (at
    most 40 characters) and 1–99 seats. Raises SettingsError naming the field; audited."""
    name = re.sub(r"\s+", " ", (name or "")).strip()
    if not name:
        raise SettingsError(_l("请输入包间名称"), field="name")
    if len(name) > 40:
        raise SettingsError(_l("包间名称不能超过 40 个字"), field="name")
    if seats is None or not 1 <= seats <= 99:
        raise SettingsError(_l("可坐人数应在 1 到 99 之间"), field="seats")
    if any(room.name == name for room in list_rooms(store.id)):
        raise SettingsError(_l("本店已有名为“%(name)s”的包间", name=name), field="name")
    room = BookingRoom(organization_id=store.organization_id, store_id=store.id, name=name, seats=seats, created_at=clock.now())
    db.session.add(room)
    db.session.flush()
    audit.record("settings.booking_room.added", actor=actor, obj=room, store_id=store.id, name=name, seats=seats)
    return room


def remove_room(room: BookingRoom, *, actor) -> None:
    """Remove a room; its bookings keep the room's name (they lose the link to it)."""
    for booking in db.session.scalars(select(Booking).where(Booking.room_id == room.id)):
        booking.room_id = None
    audit.record("settings.booking_room.removed", actor=actor, obj=room, store_id=room.store_id, name=room.name)
    db.session.delete(room)
    db.session.flush()


def options_for(store: Store, day: date) -> dict:
    """What a buyer can book at `store` on `day`: each slot with the bookings it can still take,
    each room with the slots it is already taken in. Two queries whatever the number of slots."""
    slots, rooms = list_slots(store.id), list_rooms(store.id)
    counts = dict(db.session.execute(
        select(Booking.slot_id, func.count()).where(Booking.store_id == store.id, Booking.day == day,
                                                    Booking.status == BookingStatus.CONFIRMED).group_by(Booking.slot_id)
    ).all())
    taken: dict[int, set[str]] = {}
    if rooms:
        for room_id, slot_id in db.session.execute(
            select(Booking.room_id, Booking.slot_id).where(Booking.store_id == store.id, Booking.day == day,
                                                           Booking.status == BookingStatus.CONFIRMED, Booking.room_id.is_not(None))
        ):
            taken.setdefault(room_id, set()).update(s.label for s in slots if s.id == slot_id)
    return {
        "day": day.isoformat(),
        "slots": [{"slot": s.label, "capacity": s.capacity, "left": max(s.capacity - counts.get(s.id, 0), 0)} for s in slots],
        "rooms": [{"room": r.name, "seats": r.seats, "taken_slots": sorted(taken.get(r.id, ()))} for r in rooms],
    }


def booked(slot: BookingSlot, day: date) -> int:
    return db.session.scalar(
        select(func.count()).where(Booking.slot_id == slot.id, Booking.day == day, Booking.status == BookingStatus.CONFIRMED)
    ) or 0


def _normalize_label(label: str) -> str:
    return re.sub(r"\s+", "", (label or "")).replace("~", "-").replace("–", "-")


def record_booking(org_id: int, *, douyin_booking_id: str, poi_id: str, day: date, slot_label: str, phone: str = "", note: str = "",
                   douyin_order_id: str = "", out_book_no: str = "", room: str = "", people: int | None = None) -> tuple[Booking, bool]:
    """Store one booking from Douyin: confirmed when its store has that slot with room left (and,
    when a private room is asked for, the room is free in that slot and seats `people`), refused
    with the reason otherwise. The slot's row is locked while it is counted, so two bookings at
    once cannot both take its last place. Idempotent on the Douyin booking id: returns (booking, created)."""
    # Reasons are stored in Chinese (the source language): they are data shown to every user.
    existing = db.session.scalar(select(Booking).where(Booking.douyin_booking_id == douyin_booking_id))
    if existing is not None:
        return existing, False
    store = db.session.scalar(select(Store).where(Store.organization_id == org_id, Store.douyin_poi_id == poi_id)) if poi_id else None
    booking = Booking(
        organization_id=org_id,
        store_id=store.id if store else None,
        douyin_booking_id=douyin_booking_id,
        out_book_no=out_book_no,
        douyin_order_id=douyin_order_id,
        poi_id=poi_id or "",
        day=day,
        slot_label=slot_label,
        room_name=(room or "")[:40],
        people=people,
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
    if slot is not None:
        db.session.execute(select(BookingSlot.id).where(BookingSlot.id == slot.id).with_for_update())
    chosen = next((r for r in list_rooms(store.id) if r.name == booking.room_name), None) if store and booking.room_name else None
    if store is None:
        booking.refused_reason = _l("未找到抖音门店 %(poi)s 对应的门店", poi=poi_id or "—")
    elif slot is None:
        booking.refused_reason = _l("%(store)s 未开放 %(label)s 时段的预约", store=store.name, label=slot_label or "—")
    elif booked(slot, day) >= slot.capacity:
        booking.refused_reason = _l("%(day)s %(label)s 已约满（可接 %(n)s 单）", day=day.isoformat(), label=slot.label, n=slot.capacity)
        booking.slot_id = slot.id
    elif booking.room_name and chosen is None:
        booking.refused_reason = _l("%(store)s 没有名为“%(room)s”的包间", store=store.name, room=booking.room_name)
        booking.slot_id = slot.id
    elif chosen is not None and people and people > chosen.seats:
        booking.refused_reason = _l("包间 %(room)s 最多坐 %(n)s 人", room=chosen.name, n=chosen.seats)
        booking.slot_id = slot.id
    elif chosen is not None and _room_taken(chosen, slot, day):
        booking.refused_reason = _l("包间 %(room)s 在 %(day)s %(label)s 已被预订", room=chosen.name, day=day.isoformat(), label=slot.label)
        booking.slot_id = slot.id
    else:
        booking.room_id = chosen.id if chosen is not None else None
        booking.status = BookingStatus.CONFIRMED
        booking.slot_id = slot.id
    db.session.add(booking)
    db.session.flush()
    return booking, True


def _room_taken(room: BookingRoom, slot: BookingSlot, day: date) -> bool:
    return db.session.scalar(select(Booking.id).where(Booking.room_id == room.id, Booking.slot_id == slot.id, Booking.day == day,
                                                      Booking.status == BookingStatus.CONFIRMED).limit(1)) is not None


class BookingRefused(SettingsError):
    """The buyer's booking cannot be made at all (no such order, not paid, a bad day or time)."""


def _slot_times(day: date, label: str) -> tuple[int, int]:
    """The slot's start and end as Douyin's ms timestamps (Shanghai wall clock)."""
    match = _SLOT.match(_normalize_label(label))
    if match is None:
        raise BookingRefused(_l("时段格式应为 HH:MM-HH:MM"), field="slot")
    try:
        start, end = (time.fromisoformat(t) for t in match.groups())
    except ValueError as error:
        raise BookingRefused(_l("时段格式应为 HH:MM-HH:MM"), field="slot") from error
    if end <= start:
        raise BookingRefused(_l("结束时间必须晚于开始时间"), field="slot")
    return tuple(int(datetime.combine(day, t, tzinfo=clock.SHANGHAI).timestamp() * 1000) for t in (start, end))


def find_buyer_order(org_id: int, *, out_order_no: str, open_id: str):
    """The organization's order `out_order_no` when `open_id` is its buyer, else None."""
    from portal.orders.models import Order

    if not out_order_no or not open_id:
        return None
    order = db.session.scalar(select(Order).where(Order.organization_id == org_id, Order.out_order_no == out_order_no))
    return order if order is not None and order.buyer_open_id == open_id else None


def store_of_order(order) -> Store | None:
    """The store an order's booking is decided at: the one bound to the order's POI (as
    `record_booking` finds it), or None when no store of the merchant is."""
    store = db.session.get(Store, order.store_id) if order.store_id else None
    poi_id = order.douyin_poi_id or (store.douyin_poi_id if store else "") or ""
    if not poi_id:
        return None
    return db.session.scalar(select(Store).where(Store.organization_id == order.organization_id, Store.douyin_poi_id == poi_id))


def check_wish(store: Store, day: date, slot_label: str, *, room: str = "", people: int | None = None) -> None:
    """Refuse, before anything is created on Douyin, a wish the store cannot take: a slot it does
    not offer or that is full that day, a room it does not have, that is taken in that slot or
    seats fewer than `people`. Raises BookingRefused naming the field ("slot", "room", "people")."""
    wanted = _normalize_label(slot_label)
    slots = list_slots(store.id)
    slot = next((s for s in slots if s.label == wanted), None)
    if slot is None:
        offered = "、".join(s.label for s in slots)
        if not offered:
            raise BookingRefused(_l("%(store)s 暂未开放预约", store=store.name), field="slot")
        raise BookingRefused(_l("%(store)s 没有 %(label)s 时段，可选：%(offered)s", store=store.name, label=wanted, offered=offered), field="slot")
    if booked(slot, day) >= slot.capacity:
        raise BookingRefused(_l("%(day)s %(label)s 已约满（可接 %(n)s 单），请选择其他时段", day=day.isoformat(), label=slot.label, n=slot.capacity),
                             field="slot")
    if not room:
        return
    chosen = next((r for r in list_rooms(store.id) if r.name == room), None)
    if chosen is None:
        raise BookingRefused(_l("%(store)s 没有名为“%(room)s”的包间", store=store.name, room=room), field="room")
    if people and people > chosen.seats:
        raise BookingRefused(_l("包间 %(room)s 最多坐 %(n)s 人", room=chosen.name, n=chosen.seats), field="people")
    if _room_taken(chosen, slot, day):
        raise BookingRefused(_l("包间 %(room)s 在 %(day)s %(label)s 已被预订，请换一个包间或时段", room=chosen.name, day=day.isoformat(), label=slot.label),
                             field="room")


def book_for_buyer(org_id: int, client, *, open_id: str, out_order_no: str, day: date, slot: str, note: str = "",
                   room: str = "", people: int | None = None, now: datetime) -> Booking:
    """A buyer's booking from the mini-program, for a time slot and optionally a private room
    (`room`, by name) for `people`: checked against the store (`check_wish`), created on Douyin
    (book/create_book), decided again against the store's slots (`record_booking`: a booking made
    meanwhile may have taken the last place), and the result queued for Douyin
    (book/book_result_callback, outbox). Raises BookingRefused when the order is not this buyer's
    paid order, the day is past, the slot malformed, unknown or full, or the room unknown, taken
    or too small; DouyinError when Douyin refuses or is down (nothing is stored then). Not
    idempotent: each call is a new booking."""
    from portal.orders.models import Order, OrderStatus

    order = db.session.scalar(select(Order).where(Order.organization_id == org_id, Order.out_order_no == out_order_no))
    if order is None or not order.buyer_open_id or order.buyer_open_id != open_id:
        raise BookingRefused(_l("订单不存在"), field="out_order_no")
    if order.status != OrderStatus.PAID:
        raise BookingRefused(_l("该订单已完成、退款或取消，不能预约"), field="out_order_no")
    if day < now.astimezone(clock.SHANGHAI).date():
        raise BookingRefused(_l("不能预约已经过去的日期"), field="day")
    start_ms, end_ms = _slot_times(day, slot)
    store = db.session.get(Store, order.store_id) if order.store_id else None
    poi_id = order.douyin_poi_id or (store.douyin_poi_id if store else "") or ""
    target = store_of_order(order)
    if target is not None:
        check_wish(target, day, slot, room=room, people=people)
    item = order.items[0] if order.items else None
    out_book_no = "BK" + secrets.token_hex(10)
    reply = client.create_book(order_id=order.douyin_order_id, out_book_no=out_book_no, open_id=open_id, items=[{
        "poi_id": poi_id, "shop_name": store.name if store else None, "ext_shop_id": str(store.id) if store else None,
        "goods_id": _goods_id(item), "item_order_id": (item.douyin_item_order_id or None) if item else None,
        "book_start_time": start_ms, "book_end_time": end_ms,
        "user_info_list": [{"phone": order.buyer_phone}] if order.buyer_phone else None,
    }])
    booking, _ = record_booking(org_id, douyin_booking_id=reply["book_id"], out_book_no=out_book_no, poi_id=poi_id, day=day,
                                slot_label=_normalize_label(slot), phone=order.buyer_phone, note=note,
                                douyin_order_id=order.douyin_order_id, room=room, people=people)
    outbox.add(org_id, RESULT_KIND, {"book_id": booking.douyin_booking_id, "confirmed": booking.status == BookingStatus.CONFIRMED,
                                     "msg": refusal_for_customer(booking)}, dedupe_key=f"booking-result:{booking.douyin_booking_id}")
    audit.record("settings.booking.made", actor=None, obj=booking, organization_id=org_id, status=booking.status, book_id=booking.douyin_booking_id)
    db.session.flush()
    return booking


def refusal_for_customer(booking: Booking) -> str:
    """Why a booking was refused, as the customer reads it on Douyin: in Chinese, whoever is
    signed in to the portal."""
    return messages.in_language(messages.stored(booking, "refused_reason"), "zh_Hans")


def _goods_id(item) -> str | None:
    if item is None or item.product_id is None:
        return None
    from portal.catalog.models import Product

    product = db.session.get(Product, item.product_id)
    return (product.douyin_product_id or product.out_id) if product else None


def deliver_result(message) -> dict:
    """Outbox handler: tell Douyin the booking's result (book_result_callback; DouyinError retries)."""
    from portal.onboarding.connection import delivery_client

    payload = message.payload
    delivery_client(message.organization_id).book_result_callback(
        book_id=payload["book_id"], confirmed=payload["confirmed"], msg=payload.get("msg") or None)
    return {"book_id": payload["book_id"]}


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


def parse_day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else clock.today_local()
    except ValueError:
        return clock.today_local()

