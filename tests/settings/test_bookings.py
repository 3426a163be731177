"""Bookings: slots with capacity, bookings made in the mini-program (created on Douyin with
book/create_book, answered with book/book_result_callback), over-capacity refused with a reason."""

from datetime import date

import json
from datetime import datetime, timezone

import pytest
import responses

from portal import clock as clock_module
from portal.outbox import OutboxMessage
from portal.settings import bookings, features
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
    assert "已约满（可接 2 单）" in made[2].refused_reason
    # another day has room again
    assert bookings.record_booking(org.id, douyin_booking_id="b9", poi_id=store.douyin_poi_id, day=date(2026, 11, 22), slot_label="11:00 - 13:00")[0].status == "confirmed"


def test_unknown_slot_or_poi_is_refused(org, owner, poi_stores):
    store = poi_stores[0]
    booking, _ = bookings.record_booking(org.id, douyin_booking_id="x1", poi_id=store.douyin_poi_id, day=DAY, slot_label="18:00-19:00")
    assert booking.status == "refused" and "未开放 18:00-19:00" in booking.refused_reason
    booking, _ = bookings.record_booking(org.id, douyin_booking_id="x2", poi_id="nope", day=DAY, slot_label="18:00-19:00")
    assert booking.status == "refused" and "未找到抖音门店" in booking.refused_reason


TOKEN = "http://douyin.test/oauth/client_token/"
CREATE = "http://douyin.test/api/apps/trade/v2/book/create_book"
RESULT = "http://douyin.test/api/apps/trade/v2/book/book_result_callback"
NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai, the day before DAY


def _douyin(book_id="ot900"):
    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.post(CREATE, json={"data": {"book_id": book_id, "error_code": 0, "description": "success"}, "extra": {"error_code": 0, "description": "success", "logid": "l"}})
    responses.post(RESULT, json={"data": {"error_code": 0, "description": "success"}, "extra": {"error_code": 0, "description": "success", "logid": "l"}})


def _book(connected, order, slot="11:00-13:00", **kw):
    return connected.client.post(f"/mp/{connected.app.callback_token}/bookings", json=dict(
        {"open_id": order.buyer_open_id, "out_order_no": order.out_order_no, "day": DAY.isoformat(), "slot": slot, "note": "靠窗"}, **kw))


@responses.activate
def test_a_mini_program_booking_is_created_on_douyin_confirmed_and_answered(org, owner, connected, poi_stores, settings_factory, db, queue, clock):
    clock.set(NOON)
    store = poi_stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=5, actor=owner)
    order = settings_factory.order(org, store, phone="13900000000")
    _douyin()

    response = _book(connected, order)

    assert response.status_code == 201 and response.get_json() == {"book_id": "ot900", "status": "confirmed", "reason": ""}
    sent = json.loads([c for c in responses.calls if c.request.url == CREATE][0].request.body)
    item = sent["item_book_info_list"][0]
    assert sent["order_id"] == order.douyin_order_id and sent["open_id"] == "buyer-open-id" and sent["out_book_no"].startswith("BK")
    assert item["poi_id"] == store.douyin_poi_id and item["shop_name"] == store.name
    assert item["book_end_time"] - item["book_start_time"] == 2 * 3600 * 1000
    assert datetime.fromtimestamp(item["book_start_time"] / 1000, clock_module.SHANGHAI).strftime("%Y-%m-%d %H:%M") == "2026-11-21 11:00"
    (slot, items), = bookings.day_view(store, DAY)
    assert [(b.douyin_booking_id, b.phone, b.note) for b in items] == [("ot900", "13900000000", "靠窗")]
    queue.run()
    result = json.loads([c for c in responses.calls if c.request.url == RESULT][0].request.body)
    assert result == {"book_id": "ot900", "result": 1}
    assert db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == bookings.RESULT_KIND)).status == "delivered"


@responses.activate
def test_a_booking_of_a_full_slot_is_refused_with_the_reason_before_douyin_is_asked(org, owner, connected, poi_stores, settings_factory, db, clock):
    clock.set(NOON)
    store = poi_stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=1, actor=owner)
    bookings.record_booking(org.id, douyin_booking_id="first", poi_id=store.douyin_poi_id, day=DAY, slot_label="11:00-13:00")
    _douyin("ot901")

    response = _book(connected, settings_factory.order(org, store))

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"slot": "2026-11-21 11:00-13:00 已约满（可接 1 单），请选择其他时段"}
    assert len(responses.calls) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(bookings.Booking)) == 1


@responses.activate
def test_a_booking_that_lost_the_last_place_meanwhile_is_refused_on_douyin_with_the_reason(org, owner, connected, poi_stores, settings_factory,
                                                                                          queue, clock):
    clock.set(NOON)
    store = poi_stores[0]
    bookings.add_slot(store, starts="11:00", ends="13:00", capacity=1, actor=owner)
    order = settings_factory.order(org, store)

    def someone_else_books_first(request):
        """Another buyer's booking takes the last place while Douyin creates this one."""
        bookings.record_booking(org.id, douyin_booking_id="first", poi_id=store.douyin_poi_id, day=DAY, slot_label="11:00-13:00")
        return 200, {}, json.dumps({"data": {"book_id": "ot901", "error_code": 0, "description": "success"},
                                    "extra": {"error_code": 0, "description": "success", "logid": "l"}})

    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.add_callback(responses.POST, CREATE, callback=someone_else_books_first, content_type="application/json")
    responses.post(RESULT, json={"data": {"error_code": 0, "description": "success"}, "extra": {"error_code": 0, "description": "success", "logid": "l"}})

    response = _book(connected, order)

    assert response.status_code == 201 and response.get_json()["status"] == "refused"
    queue.run()
    result = json.loads([c for c in responses.calls if c.request.url == RESULT][0].request.body)
    assert result["result"] == 2 and "已约满（可接 1 单）" in result["msg"]


@pytest.mark.parametrize(("change", "field"), [
    ({"open_id": "someone-else"}, "out_order_no"),
    ({"day": "2026-11-19"}, "day"),
    ({"slot": "午饭时间"}, "slot"),
    ({"day": "21/11/2026"}, "day"),
    ({"color": "red"}, "color"),
])
@responses.activate
def test_a_booking_that_cannot_be_made_is_422_with_the_field_and_calls_nobody(org, connected, poi_stores, settings_factory, change, field, clock):
    clock.set(NOON)
    response = _book(connected, settings_factory.order(org, poi_stores[0]), **change)
    assert response.status_code == 422 and field in response.get_json()["errors"]
    assert len(responses.calls) == 0


@responses.activate
def test_another_shops_order_cannot_be_booked_with_this_token(org, accounts, connected, settings_factory, clock):
    clock.set(NOON)
    other = accounts.org("别家")
    response = _book(connected, settings_factory.order(other, other.stores[0]))
    assert response.status_code == 422 and response.get_json()["errors"] == {"out_order_no": "订单不存在"}


@responses.activate
def test_douyin_refusing_the_booking_stores_nothing(org, owner, connected, poi_stores, settings_factory, db, clock):
    clock.set(NOON)
    bookings.add_slot(poi_stores[0], starts="11:00", ends="13:00", capacity=5, actor=owner)
    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.post(CREATE, json={"data": {"error_code": 2100004, "description": "订单不存在"}, "extra": {"error_code": 2100004, "description": "订单不存在", "logid": "l"}})
    response = _book(connected, settings_factory.order(org, poi_stores[0]))
    assert response.status_code == 502
    assert db.session.scalar(db.select(db.func.count()).select_from(bookings.Booking)) == 0


def test_bookings_off_or_an_unknown_token_refuse_the_booking(org, operator, connected, poi_stores, settings_factory, client):
    assert client.post("/mp/nope/bookings", json={}).status_code == 404
    features.set_feature(org, "bookings", False, actor=operator)
    assert _book(connected, settings_factory.order(org, poi_stores[0])).status_code == 409
