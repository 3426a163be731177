"""Customer self-service at the store: private rooms (包间) with seats beside the time slots, what
the mini-program may offer on a day, a booking with a room, and the counter showing it."""

from datetime import date, datetime, timezone

import pytest
import responses
from bs4 import BeautifulSoup

from portal.settings import bookings, counter_card
from portal.settings.errors import SettingsError

pytestmark = pytest.mark.usefixtures("request_context")

DAY = date(2026, 11, 21)
NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
TOKEN = "http://douyin.test/oauth/client_token/"
CREATE = "http://douyin.test/api/apps/trade/v2/book/create_book"


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _douyin(book_id="ot900"):
    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.post(CREATE, json={"data": {"book_id": book_id, "error_code": 0, "description": "success"}, "extra": {"error_code": 0, "description": "success", "logid": "l"}})


@pytest.mark.parametrize(("name", "seats", "field", "problem"), [
    ("", 6, "name", "请输入包间名称"),
    ("厅" * 41, 6, "name", "40 个字"),
    ("牡丹厅", 0, "seats", "1 到 99"),
    ("牡丹厅", 100, "seats", "1 到 99"),
    ("  牡丹厅 ", 6, "name", "已有名为“牡丹厅”"),
])
def test_a_room_with_bad_input_names_the_field(org, owner, name, seats, field, problem):
    store = org.stores[0]
    bookings.add_room(store, name="牡丹厅", seats=8, actor=owner)
    with pytest.raises(SettingsError, match=problem) as error:
        bookings.add_room(store, name=name, seats=seats, actor=owner)
    assert error.value.field == field
    assert [r.name for r in bookings.list_rooms(store.id)] == ["牡丹厅"]


def test_a_room_takes_one_booking_per_slot_and_day_for_at_most_its_seats(org, owner, poi_stores):
    store = poi_stores[0]
    bookings.add_slot(store, starts="18:00", ends="20:00", capacity=5, actor=owner)
    bookings.add_room(store, name="牡丹厅", seats=6, actor=owner)
    record = lambda i, **kw: bookings.record_booking(org.id, douyin_booking_id=f"r{i}", poi_id=store.douyin_poi_id, day=DAY,  # noqa: E731
                                                     slot_label="18:00-20:00", **kw)[0]
    first = record(1, room="牡丹厅", people=6)
    assert first.status == "confirmed" and first.room_id is not None
    taken = record(2, room="牡丹厅", people=2)
    assert taken.status == "refused" and taken.refused_reason == "包间 牡丹厅 在 2026-11-21 18:00-20:00 已被预订"
    too_many = record(3, room="牡丹厅", people=7)
    assert too_many.status == "refused" and too_many.refused_reason == "包间 牡丹厅 最多坐 6 人"
    assert record(4).status == "confirmed"  # the slot itself still has places
    options = bookings.options_for(store, DAY)
    assert options["slots"] == [{"slot": "18:00-20:00", "capacity": 5, "left": 3}]
    assert options["rooms"] == [{"room": "牡丹厅", "seats": 6, "taken_slots": ["18:00-20:00"]}]
    assert bookings.options_for(store, date(2026, 11, 22))["rooms"][0]["taken_slots"] == []


def _book(connected, order, **kw):
    return connected.client.post(f"/mp/{connected.app.callback_token}/bookings", json=dict(
        {"open_id": order.buyer_open_id, "out_order_no": order.out_order_no, "day": DAY.isoformat(), "slot": "18:00-20:00"}, **kw))


@pytest.mark.parametrize(("wish", "field", "problem"), [
    ({"room": "兰花厅"}, "room", "没有名为“兰花厅”的包间"),
    ({"room": "牡丹厅", "people": 9}, "people", "最多坐 6 人"),
    ({"room": "牡丹厅"}, "room", "已被预订"),
    ({"slot": "09:00-10:00"}, "slot", "可选：18:00-20:00"),
    ({"people": "4"}, "people", "integer"),
    ({"people": 0}, "people", "integer"),
])
@responses.activate
def test_a_wish_the_store_cannot_take_is_422_and_nothing_is_created_on_douyin(org, owner, connected, poi_stores, settings_factory, clock, db,
                                                                               wish, field, problem):
    clock.set(NOON)
    store = poi_stores[0]
    bookings.add_slot(store, starts="18:00", ends="20:00", capacity=5, actor=owner)
    bookings.add_room(store, name="牡丹厅", seats=6, actor=owner)
    bookings.record_booking(org.id, douyin_booking_id="held", poi_id=store.douyin_poi_id, day=DAY, slot_label="18:00-20:00", room="牡丹厅")
    db.session.commit()
    _douyin()
    response = _book(connected, settings_factory.order(org, store), **wish)
    assert response.status_code == 422 and problem in response.get_json()["errors"][field]
    assert not [c for c in responses.calls if c.request.url == CREATE]


@responses.activate
def test_a_booking_with_a_room_is_confirmed_and_the_counter_shows_it_beside_the_voucher(org, owner, clerk, connected, poi_stores, settings_factory,
                                                                                        clock, db):
    clock.set(NOON)
    store = poi_stores[0]
    bookings.add_slot(store, starts="18:00", ends="20:00", capacity=5, actor=owner)
    bookings.add_room(store, name="牡丹厅", seats=6, actor=owner)
    order = settings_factory.order(org, store)
    db.session.commit()
    _douyin()
    options = connected.client.get(f"/mp/{connected.app.callback_token}/bookings/options",
                                   query_string={"open_id": order.buyer_open_id, "out_order_no": order.out_order_no, "day": DAY.isoformat()})
    assert options.status_code == 200 and options.get_json()["rooms"][0]["room"] == "牡丹厅"

    response = _book(connected, order, room="牡丹厅", people=4, note="生日")

    assert response.status_code == 201 and response.get_json()["status"] == "confirmed"
    card = counter_card.for_voucher(order.vouchers[0].id, now=NOON)
    assert (card.booking_day, card.slot, card.room, card.people) == (DAY, "18:00-20:00", "牡丹厅", 4)
    connected.client.login_as(clerk)
    preview = html(connected.client.post_form("/counter/lookup", {"code": order.vouchers[0].code, "store_id": str(store.id)}))
    assert " ".join(preview.select_one("#redemption-booking").get_text().split()) == "11-21 18:00-20:00 · 包间 牡丹厅 · 4 人 · 生日"


def test_the_options_are_only_for_the_buyer_of_the_order(org, connected, poi_stores, settings_factory, db):
    order = settings_factory.order(org, poi_stores[0])
    db.session.commit()
    url = f"/mp/{connected.app.callback_token}/bookings/options"
    assert connected.client.get(url, query_string={"open_id": "someone", "out_order_no": order.out_order_no, "day": "2026-11-21"}).status_code == 404
    bad = connected.client.get(url, query_string={"open_id": order.buyer_open_id, "out_order_no": order.out_order_no, "day": "21/11"})
    assert bad.status_code == 422 and "day" in bad.get_json()["errors"]


def test_an_owner_adds_a_room_on_the_bookings_page_and_bad_seats_are_422(client, org, owner, manager, db):
    store = org.stores[0]
    client.login_as(owner)
    bad = client.post_form("/settings/bookings/rooms", {"store_id": str(store.id), "name": "牡丹厅", "seats": "0"})
    assert bad.status_code == 422 and html(bad).select_one("#seats-error").get_text(strip=True) == "可坐人数应在 1 到 99 之间"
    assert client.post_form("/settings/bookings/rooms", {"store_id": str(store.id), "name": "牡丹厅", "seats": "8"}).status_code == 303
    page = html(client.get(f"/settings/bookings/?store_id={store.id}"))
    assert "牡丹厅" in page.select_one("#settings-booking-rooms").get_text()
    room = bookings.list_rooms(store.id)[0]
    assert client.login_as(manager).post_form("/settings/bookings/rooms", {"store_id": str(store.id), "name": "兰花厅", "seats": "4"}).status_code == 403
    assert client.login_as(owner).post_form(f"/settings/bookings/rooms/{room.id}/delete", {}).status_code == 303
    assert bookings.list_rooms(store.id) == []
