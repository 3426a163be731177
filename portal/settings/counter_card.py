"""What the counter shows beside a voucher besides the voucher itself: the customer's booking
(day, time slot, private room) and a follow-up incentive's gift («送饮品»). One query, read by
the counter's `_voucher_extras.html` partial on lookup and after a confirm, or brought along by
the counter's own read (`joined`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, Integer, bindparam, select
from sqlalchemy.orm import aliased

from portal import clock
from portal.extensions import db
from portal.orders.models import Voucher, VoucherStatus
from portal.settings.incentives import first_redeemed_at
from portal.settings.models import Booking, BookingStatus, OrderIncentive


@dataclass(frozen=True)
class CounterCard:
    booking_day: date | None = None
    slot: str = ""
    room: str = ""
    people: int | None = None
    note: str = ""
    gift: str = ""
    deadline: datetime | None = None
    # "give" (hand the gift over with this voucher), "given" (another voucher of the order took
    # it), "expired" (redeemed too late, or the deadline passed), "" (no incentive)
    incentive: str = ""


def for_voucher(voucher_id: int, *, now: datetime | None = None) -> CounterCard:
    """The voucher's order's next confirmed booking from today on and its incentive, with what
    the clerk should do about the gift. One query; an unknown voucher gives an empty card."""
    now = now or clock.now()
    row = db.session.execute(_statement(), {"voucher_id": voucher_id, "today": now.astimezone(clock.SHANGHAI).date()}).first()
    if row is None:
        return CounterCard()
    return card(row._mapping, status=row.card_status, redeemed_at=row.card_redeemed_at, now=now)


def joined(statement, voucher, today):
    """`statement` (a select over `voucher`, an alias of the vouchers) with the card's columns,
    labelled `card_*`: how the counter's own read brings the card along (read with `card`)."""
    booking = aliased(Booking, name="card_booking")
    incentive = aliased(OrderIncentive, name="card_incentive")
    statement = (
        statement.outerjoin(booking, booking.id == _next_booking(voucher.order_id, today))
        .outerjoin(incentive, incentive.order_id == voucher.order_id)
    )
    return statement.add_columns(
        booking.day.label("card_day"), booking.slot_label.label("card_slot"), booking.room_name.label("card_room"),
        booking.people.label("card_people"), booking.note.label("card_note"), incentive.gift.label("card_gift"),
        incentive.deadline_at.label("card_deadline"), first_redeemed_at(voucher.order_id).label("card_first"),
    )


def card(row, *, status: str, redeemed_at: datetime | None, now: datetime) -> CounterCard:
    """The card from a row of `joined`, for a voucher of that status and redemption time (a
    confirm's read was taken before its own redemption: it passes what the claim wrote)."""
    first = row["card_first"]
    if status == VoucherStatus.REDEEMED and redeemed_at is not None and (first is None or redeemed_at < first):
        first = redeemed_at
    gift, deadline = row["card_gift"], row["card_deadline"]
    state = ""
    if gift:
        if status == VoucherStatus.REDEEMED and redeemed_at is not None:
            state = "give" if redeemed_at == first and redeemed_at <= deadline else ("given" if first <= deadline else "expired")
        elif first is not None:
            state = "given" if first <= deadline else "expired"
        else:
            state = "give" if now <= deadline else "expired"
    return CounterCard(row["card_day"], row["card_slot"] or "", row["card_room"] or "", row["card_people"], row["card_note"] or "",
                       gift or "", deadline, state)


def _next_booking(order_id, today):
    return (
        select(Booking.id)
        .where(Booking.order_id == order_id, Booking.status == BookingStatus.CONFIRMED, Booking.day >= today)
        .order_by(Booking.day, Booking.slot_label, Booking.id)
        .limit(1)
        .scalar_subquery()
    )


@functools.cache
def _statement():
    voucher = aliased(Voucher, name="v")
    statement = select(voucher.status.label("card_status"), voucher.redeemed_at.label("card_redeemed_at")).select_from(voucher).where(
        voucher.id == bindparam("voucher_id", type_=Integer))
    return joined(statement, voucher, bindparam("today", type_=Date))
