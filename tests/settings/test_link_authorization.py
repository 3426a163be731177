"""Binding a Douyin account by its owner's authorization: the QR, the owner's agreement, the review."""

from datetime import datetime, timedelta, timezone

import pytest
import responses

from portal.onboarding.connection import client_for
from portal.settings import linked
from portal.settings.errors import SettingsError
from portal.settings.models import LinkAuthorization
from tests.settings.test_views import html

API = "http://douyin.test"
TOKEN = API + "/oauth/client_token/"
QRCODE = API + "/api/apps/v1/capacity/get_aweme_relation_bind_qrcode/"
STATUS = API + "/api/apps/v1/capacity/query_aweme_relation_bind_qrcode_status/"
RELATIONS = API + "/api/apps/v1/capacity/query_aweme_relation_list/"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
QR = "http://sandbox.test/consumer/aweme-bind/abc"


def _ok(data):
    return {"err_no": 0, "err_msg": "", "log_id": "l", "data": data}


def _douyin():
    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.get(QRCODE, json=_ok({"qrcode_url": QR + "/qr.svg", "qrcode_parse_content": QR}))


def _agreed(aweme_id="5713812345678"):
    responses.get(STATUS, json=_ok({"status": "agreed", "aweme_id": aweme_id, "user_name": "小平", "avatar": "https://img.test/a.jpeg",
                                    "mobile_mask": "138****5678"}))


def _relation(status, reason="", aweme_id=5713812345678):
    responses.get(RELATIONS, json=_ok({"total_count": 1, "list": [{"aweme_id": aweme_id, "user_name": "小平", "bind_status": status, "reason": reason}]}))


def _start(org, owner, role="official"):
    return linked.start_authorization(org, role, client=client_for(org.id), actor=owner, now=NOW)


def _poll(auth, org, owner, now=NOW):
    return linked.poll_authorization(auth, org, client=client_for(org.id), actor=owner, now=now)


@responses.activate
def test_agreed_then_approved_binds_the_account_with_avatar_nickname_and_masked_phone(org, owner, connected, db):
    _douyin()
    auth = _start(org, owner)
    assert (auth.status, auth.expires_at) == ("waiting", NOW + timedelta(minutes=5))
    assert responses.calls[-1].request.url.endswith("type=brand&capacity_list=video_self_mount")

    _agreed()
    _poll(auth, org, owner)
    assert (auth.status, auth.nickname, auth.phone_mask) == ("reviewing", "小平", "138****5678")
    assert linked.active(org.id) == []

    _relation(1)
    _poll(auth, org, owner)
    assert auth.status == "reviewing"

    responses.replace(responses.GET, RELATIONS, json=_ok({"total_count": 1, "list": [{"aweme_id": 5713812345678, "bind_status": 2}]}))
    _poll(auth, org, owner)
    (account,) = linked.active(org.id)
    assert auth.status == "bound" and auth.linked_account_id == account.id
    assert (account.role, account.account_id, account.avatar_url, account.phone_mask) == ("official", "5713812345678", "https://img.test/a.jpeg", "138****5678")
    assert account.display_name == org.name  # the official account carries the shop's name


@responses.activate
def test_a_refused_binding_keeps_douyins_reason_and_binds_nothing(org, owner, connected, db):
    _douyin()
    auth = _start(org, owner, "channel")
    assert "type=cooperation" in responses.calls[-1].request.url
    _agreed()
    _poll(auth, org, owner)
    _relation(3, "账号存在违规记录")

    _poll(auth, org, owner)

    assert (auth.status, auth.reason) == ("rejected", "账号存在违规记录")
    assert linked.active(org.id) == []


@responses.activate
def test_a_qr_nobody_agreed_to_in_five_minutes_expires(org, owner, connected, db):
    _douyin()
    auth = _start(org, owner)
    responses.get(STATUS, json=_ok({"status": "waiting"}))

    _poll(auth, org, owner, now=NOW + timedelta(minutes=4, seconds=59))
    assert auth.status == "waiting"
    _poll(auth, org, owner, now=NOW + timedelta(minutes=5))
    assert auth.status == "expired"


@responses.activate
def test_the_account_already_official_cannot_be_bound_as_a_channel(org, owner, connected, db):
    linked.bind(org, platform="douyin", role="official", account_id="5713812345678", actor=owner, now=NOW)
    _douyin()
    auth = _start(org, owner, "channel")
    _agreed()

    _poll(auth, org, owner)

    assert auth.status == "rejected" and "不能同时作为官方账号和渠道账号" in auth.reason


@responses.activate
def test_no_qr_is_asked_for_when_the_rules_leave_no_place(org, owner, connected, db):
    linked.bind(org, platform="douyin", role="official", account_id="dy-1", actor=owner, now=NOW)
    for i in range(4):
        linked.bind(org, platform="douyin", role="channel", account_id=f"ch-{i}", actor=owner, now=NOW)
    for role in ("official", "channel"):
        with pytest.raises(SettingsError) as error:
            _start(org, owner, role)
        assert error.value.field == "role"
    assert db.session.scalar(db.select(LinkAuthorization)) is None


@responses.activate
def test_the_page_shows_the_qr_then_the_owner_then_redirects_when_bound(client, hx, owner, org, connected, db):
    client.login_as(owner)
    _douyin()

    doc = html(client.post_form("/settings/accounts/", {"role": "official"}))

    auth = db.session.scalar(db.select(LinkAuthorization))
    box = doc.select_one("#settings-link-authorization")
    assert box["hx-get"].endswith(f"/settings/accounts/authorizations/{auth.id}") and box["hx-trigger"] == "every 2s"
    assert box.select_one("svg") is not None and doc.select_one("#settings-link-url")["href"] == QR
    _agreed()
    doc = html(client.get(f"/settings/accounts/authorizations/{auth.id}"))
    assert doc.select_one("#settings-link-nickname").text == "小平"
    assert doc.select_one("#settings-link-phone").text == "138****5678"
    _relation(2)
    hx.login_as(owner)
    response = hx.get(f"/settings/accounts/authorizations/{auth.id}")
    assert response.headers["HX-Redirect"].endswith("/settings/accounts/")


@responses.activate
def test_an_expired_qr_says_so_and_offers_a_new_one(client, owner, org, connected, db, clock):
    client.login_as(owner)
    clock.set(NOW)
    _douyin()
    client.post_form("/settings/accounts/", {"role": "channel"})
    auth = db.session.scalar(db.select(LinkAuthorization))
    responses.get(STATUS, json=_ok({"status": "expired"}))

    doc = html(client.get(f"/settings/accounts/authorizations/{auth.id}"))

    assert doc.select_one("#settings-link-expired") is not None
    assert doc.select_one("#settings-link-authorization").get("hx-trigger") is None
    assert "重新获取二维码" in doc.select_one("#settings-link-start").text


def test_a_typed_account_id_binds_nothing_and_a_bad_role_is_422(client, owner, org, db):
    client.login_as(owner)
    response = client.post_form("/settings/accounts/", {"role": "boss", "account_id": "dy-typed"})
    assert response.status_code == 422
    assert html(response).select_one("#field-role .form-error") is not None
    assert linked.active(org.id) == []


def test_another_tenants_authorization_is_404(client, owner, accounts, db):
    client.login_as(owner)
    other = accounts.org()
    auth = LinkAuthorization(organization_id=other.id, role="official", qrcode_content=QR, issued_at=NOW, expires_at=NOW, status="waiting")
    db.session.add(auth)
    db.session.commit()
    assert client.get(f"/settings/accounts/authorizations/{auth.id}").status_code == 404
