"""Bookings: slots with capacity, sync from the sandbox, over-capacity refused with a reason."""

from datetime import date

import pytest
import responses

from portal.douyin import DouyinUnavailable
from portal.settings import bookings
from portal.settings.errors import SettingsError

pytestmark = pytest.mark.usefixtures("request_context")

DAY = date(2026, 11, 21)


def test_slot_rules(org, owner):
    store = org.stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=2, actor=owner)
    with pytest.raises(SettingsError, match="重叠"):
        bookings.add_slot(store, starts="12:00", ends="14:00", capacity=2, actor=owner)
    with pytest.raises(SettingsError, match="晚于开始时间") as error:
        bookings.add_slot(store, starts="15:00", ends="14:00", capacity=2, actor=owner)
    assert error.value.field == "ends"
    with pytest.raises(SettingsError, match="HH:MM"):
        bookings.add_slot(store, starts="3pm", ends="16:00", capacity=2, actor=owner)


def test_capacity_reached_then_refused_with_reason(org, owner, poi_stores):
    store = poi_stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=2, actor=owner)
    made = [bookings.record_booking(org.id, douyin_booking_id=f"b{i}", poi_id=store.douyin_poi_id, day=DAY, slot_label="11:00-13:00")[0] for i in range(3)]
    assert [b.status for b in made] == ["confirmed", "confirmed", "refused"]
    assert "已约满（容量 2 人）" in made[2].refused_reason
    # another day has room again
    assert bookings.record_booking(org.id, douyin_booking_id="b9", poi_id=store.douyin_poi_id, day=date(2026, 11, 22), slot_label="11:00 - 13:00")[0].status == "confirmed"


def test_unknown_slot_or_poi_is_refused(org, owner, poi_stores):
    store = poi_stores[0]
    booking, _ = bookings.record_booking(org.id, douyin_booking_id="x1", poi_id=store.douyin_poi_id, day=DAY, slot_label="18:00-19:00")
    assert booking.status == "refused" and "未开放 18:00-19:00" in booking.refused_reason
    booking, _ = bookings.record_booking(org.id, douyin_booking_id="x2", poi_id="nope", day=DAY, slot_label="18:00-19:00")
    assert booking.status == "refused" and "未找到抖音门店" in booking.refused_reason


@responses.activate
def test_sync_records_once(org, owner, connected, poi_stores):
    store = poi_stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=5, actor=owner)
    rows = [{"booking_id": "900", "appid": connected.app.app_id, "order_id": "o1", "poi_id": store.douyin_poi_id, "date": DAY.isoformat(), "slot": "11:00-13:00", "phone": "13900000000", "note": "靠窗"}]
    responses.get("http://douyin.test/sandbox/bookings", json={"sandbox_only": True, "bookings": rows})
    assert bookings.sync_bookings(org.id, actor=owner) == {"new": 1, "confirmed": 1, "refused": 0}
    assert bookings.sync_bookings(org.id, actor=owner) == {"new": 0, "confirmed": 0, "refused": 0}
    assert responses.calls[0].request.params == {"appid": connected.app.app_id}
    (slot, items), = bookings.day_view(store, DAY)
    assert [b.phone for b in items] == ["13900000000"]
    assert [b.douyin_booking_id for b in bookings.for_voucher_or_phone(org.id, phone="13900000000", day=DAY)] == ["900"]


@responses.activate
def test_sync_when_sandbox_down_raises_unavailable(org, owner, connected):
    responses.get("http://douyin.test/sandbox/bookings", status=503)
    with pytest.raises(DouyinUnavailable):
        bookings.sync_bookings(org.id, actor=owner)


def test_for_voucher_finds_the_order_booking(org, owner, poi_stores, settings_factory):
    store = poi_stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=5, actor=owner)
    order = settings_factory.order(org, store)
    bookings.record_booking(org.id, douyin_booking_id="v1", poi_id=store.douyin_poi_id, day=DAY, slot_label="11:00-13:00", douyin_order_id=order.douyin_order_id)
    found = bookings.for_voucher_or_phone(org.id, voucher_code=order.vouchers[0].code, day=DAY)
    assert [b.douyin_booking_id for b in found] == ["v1"]
    assert bookings.for_voucher_or_phone(org.id, voucher_code=order.vouchers[0].code, store_ids=frozenset({poi_stores[1].id}), day=DAY) == []
