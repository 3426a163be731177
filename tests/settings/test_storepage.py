"""The store's Douyin page: checks, the push through the outbox, Douyin's review and the POI comparison."""

import json
from datetime import datetime, timezone

import pytest
import responses

from portal.onboarding.connection import client_for
from portal.outbox import OutboxMessage
from portal.settings import storepage
from portal.settings.errors import SettingsError
from portal.settings.models import StorePage
from tests.settings.test_views import html

API = "http://douyin.test"
TOKEN = API + "/oauth/client_token/"
SYNC = API + "/poi/supplier/sync"
QUERY = API + "/poi/supplier/query"
POIS = API + "/goodlife/v1/shop/poi/query/"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
WEEK = {str(d): "10:00-22:00" for d in range(1, 6)} | {"6": "09:00-14:00, 17:00-23:00", "7": ""}


def _save(store, owner, **change):
    values = dict(name="望京店", address="望京街 1 号", phone="0755 8888 6666", cover_image_url="https://img.test/cover.jpg", hours=WEEK)
    values.update(change)
    return storepage.save_store_page(store, actor=owner, now=NOW, **values)


def _token():
    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})


def _review(status, reason="", phone="139xxxx5678"):
    detail = {"poi_id": "p", "name": "望京店", "address": "望京街 1 号", "contact_phone": phone, "contact_tel": ""}
    responses.get(QUERY, json={"data": {"error_code": "0", "description": "", "data_detail": detail,
                                        "sync_status": {"last_sync_status": status, "fail_reason": reason}}})


def _pois(store, name="望京店", address="望京街 1 号"):
    responses.get(POIS, json={"data": {"error_code": 0, "description": "", "total": 1, "pois": [
        {"poi": {"poi_id": store.douyin_poi_id, "poi_name": name, "address": address}}]}, "extra": {"error_code": 0, "logid": "l"}})


@pytest.mark.parametrize(("phone", "kept"), [("13912345678", "13912345678"), ("0755-88886666", "0755-88886666"),
                                             ("(010) 8888 6666", "010-88886666"), ("02187654321", "021-87654321"), ("", "")])
def test_phone_is_a_mobile_or_a_landline_with_area_code(phone, kept):
    assert storepage.normalize_phone(phone) == kept


@pytest.mark.parametrize("phone", ["12912345678", "1391234567", "88886666", "0755-123", "电话"])
def test_a_phone_without_area_code_or_of_the_wrong_length_is_refused(phone):
    with pytest.raises(SettingsError) as error:
        storepage.normalize_phone(phone)
    assert error.value.field == "phone"


def test_opening_hours_are_kept_per_weekday_and_summarised(org, owner, db):
    store = org.stores[0]
    page = _save(store, owner)

    assert page.hours["6"] == ["09:00-14:00", "17:00-23:00"] and "7" not in page.hours
    assert store.opening_hours == "周一至周五 10:00-22:00；周六 09:00-14:00,17:00-23:00"
    assert storepage.open_time(page.hours) == ["09:00-14:00", "10:00-22:00", "17:00-23:00"]
    assert store.phone == "0755-88886666"


@pytest.mark.parametrize(("text", "message"), [("10:00-25:00", "不成立"), ("22:00-10:00", "不成立"), ("十点到十点", "应写成"),
                                               ("10:00-14:00, 13:00-18:00", "重叠")])
def test_a_bad_day_is_refused_next_to_that_day_and_changes_nothing(org, owner, db, text, message):
    store = org.stores[0]
    name = store.name
    with pytest.raises(SettingsError) as error:
        _save(store, owner, hours=dict(WEEK, **{"3": text}))
    assert error.value.field == "hours_3" and message in str(error.value)
    assert store.name == name and storepage.find_page(store) is None


def test_a_cover_that_is_not_an_https_url_is_refused(org, owner):
    with pytest.raises(SettingsError) as error:
        _save(org.stores[0], owner, cover_image_url="http://img.test/a.jpg")
    assert error.value.field == "cover_image_url"


def test_a_store_without_poi_is_kept_as_a_draft_and_not_pushed(org, owner, db):
    page = _save(org.stores[0], owner)
    assert page.status == "draft"
    assert db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == storepage.PUSH_KIND)) is None


@responses.activate
def test_a_saved_page_is_pushed_reviewed_and_rejected_with_douyins_reason(org, owner, connected, poi_stores, db, queue, clock):
    clock.set(NOW)
    store = poi_stores[0]
    page = _save(store, owner, phone="13912345678")
    db.session.commit()
    assert page.status == "pending" and page.pushed_at is None
    _token()
    responses.post(SYNC, json={"data": {"error_code": "0", "description": "", "supplier_id": "sup-1"}})

    queue.run()

    sent = json.loads([c for c in responses.calls if c.request.url == SYNC][0].request.body)
    assert sent == {"poi_id": store.douyin_poi_id, "name": "望京店", "supplier_ext_id": f"store-{store.id}", "type": 1, "status": 1,
                    "address": "望京街 1 号", "contact_phone": "13912345678", "open_time": ["09:00-14:00", "10:00-22:00", "17:00-23:00"],
                    "images": ["https://img.test/cover.jpg"], "attributes": {}}
    db.session.refresh(page)
    assert page.pushed_at is not None and page.supplier_id == "sup-1" and page.status == "pending"

    _review(2, "头图模糊")
    _pois(store)
    storepage.refresh_review(store, page, client=client_for(org.id), now=NOW)

    assert (page.status, page.reason) == ("rejected", "头图模糊")
    assert page.mismatch == {}


@responses.activate
def test_a_poi_that_differs_from_the_store_is_flagged_field_by_field(org, owner, connected, poi_stores, db):
    store = poi_stores[0]
    page = _save(store, owner, phone="13912345678")
    page.pushed_at = NOW
    _token()
    _review(1, phone="139xxxx0000")
    _pois(store, name="望京老店")

    storepage.refresh_review(store, page, client=client_for(org.id), now=NOW)

    assert page.status == "approved" and page.reviewed_at == NOW
    assert page.mismatch == {"name": ["望京店", "望京老店"], "phone": ["13912345678", "139xxxx0000"]}


@responses.activate
def test_the_store_page_shows_the_review_and_the_mismatch(client, owner, org, connected, poi_stores, db):
    client.login_as(owner)
    store = poi_stores[0]
    page = _save(store, owner)
    page.pushed_at = NOW
    db.session.commit()
    _token()
    _review(2, "电话无法接通", phone="")
    _pois(store, address="望京街 2 号")

    doc = html(client.get(f"/settings/stores/{store.id}/review"))

    assert "审核驳回" in doc.select_one("#settings-store-review-status").text
    assert doc.select_one("#settings-store-review-reason").text == "电话无法接通"
    assert doc.select_one("#settings-store-mismatch [data-field='address']") is not None


def test_the_store_form_refuses_a_bad_phone_with_422_next_to_the_field(client, owner, org, db):
    client.login_as(owner)
    store = org.stores[0]
    name = store.name

    response = client.post_form(f"/settings/stores/{store.id}", {"name": "新店名", "phone": "8888", "hours_1": "10:00-22:00"})

    assert response.status_code == 422
    assert "座机号" in html(response).select_one("#field-phone .form-error").text
    db.session.refresh(store)
    assert store.name == name and db.session.scalar(db.select(StorePage)) is None


def test_another_tenants_store_page_is_404(client, owner, accounts, db):
    client.login_as(owner)
    other = accounts.org()
    assert client.get(f"/settings/stores/{other.stores[0].id}").status_code == 404
    assert client.get(f"/settings/stores/{other.stores[0].id}/review").status_code == 404
