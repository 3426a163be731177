"""Binding a Douyin account by its owner's authorization: the QR, the owner's agreement (an account
newly listed in Douyin's relation list), the review."""

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses

from portal import outbox
from portal.onboarding.connection import client_for
from portal.outbox import OutboxMessage
from portal.settings import linked
from portal.settings.errors import SettingsError
from portal.settings.models import LinkAuthorization
from tests.settings.test_views import html

API = "http://douyin.test"
TOKEN = API + "/oauth/client_token/"
QRCODE = API + "/api/apps/v1/capacity/get_aweme_relation_bind_qrcode/"
RELATIONS = API + "/api/apps/v1/capacity/query_aweme_relation_list/"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
QR = "http://sandbox.test/consumer/aweme-bind/abc"


def _ok(data):
    return {"err_no": 0, "err_msg": "", "log_id": "l", "data": data}


def _douyin(*entries):
    """Douyin with a QR to issue and a relation list holding `entries` (per bind type); returns
    that list, which the test changes as the owner agrees and Douyin reviews."""
    listed = {"brand": [], "cooperation": []}
    for kind, entry in entries:
        listed[kind].append(entry)
    responses.post(TOKEN, json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.get(QRCODE, json=_ok({"qrcode_url": QR + "/qr.svg", "qrcode_parse_content": QR}))

    def relations(request):
        kind, page, size = request.params["type"], int(request.params["page_num"]), int(request.params["page_size"])
        rows = listed[kind]
        return 200, {}, json.dumps(_ok({"total_count": len(rows), "list": rows[(page - 1) * size: page * size]}))

    responses.add_callback(responses.GET, RELATIONS, callback=relations)
    return listed


def _entry(status=1, reason="", aweme_id=5713812345678, user_name="小平"):
    return {"aweme_id": aweme_id, "user_name": user_name, "bind_status": status, "reason": reason, "account_type": 1}


def _qr_requests():
    return [c for c in responses.calls if c.request.url.startswith(QRCODE)]


def _start(org, owner, role="official"):
    return linked.start_authorization(org, role, client=client_for(org.id), actor=owner, now=NOW)


def _poll(auth, org, owner, now=NOW):
    return linked.poll_authorization(auth, org, client=client_for(org.id), actor=owner, now=now)


@responses.activate
def test_the_account_newly_listed_while_the_qr_is_open_is_its_owner_and_binds_once_approved(org, owner, connected, db):
    listed = _douyin()
    auth = _start(org, owner)
    assert (auth.status, auth.expires_at) == ("waiting", NOW + timedelta(minutes=5))
    assert _qr_requests()[-1].request.url.endswith("type=brand&capacity_list=video_self_mount")
    _poll(auth, org, owner)
    assert auth.status == "waiting"

    listed["brand"].append(_entry(1))
    _poll(auth, org, owner)
    assert (auth.status, auth.aweme_id, auth.nickname) == ("reviewing", "5713812345678", "小平")
    assert linked.active(org.id) == []
    _poll(auth, org, owner)
    assert auth.status == "reviewing"

    listed["brand"][0] = _entry(2)
    _poll(auth, org, owner)
    (account,) = linked.active(org.id)
    assert auth.status == "bound" and auth.linked_account_id == account.id
    assert (account.role, account.platform, account.account_id) == ("official", "douyin", "5713812345678")
    assert account.display_name == org.name  # the official account carries the shop's name


@responses.activate
def test_a_channel_account_approved_before_the_first_look_binds_under_its_nickname(org, owner, connected, db):
    listed = _douyin()
    auth = _start(org, owner, "channel")
    assert "type=cooperation" in _qr_requests()[-1].request.url
    listed["cooperation"].append(_entry(2, user_name="望京探店小王"))
    listed["brand"].append(_entry(1, aweme_id=42))  # another bind type is not this QR's

    _poll(auth, org, owner)

    (account,) = linked.active(org.id)
    assert (auth.status, account.role, account.account_id, account.display_name) == ("bound", "channel", "5713812345678", "望京探店小王")


@responses.activate
def test_a_refused_binding_keeps_douyins_reason_and_binds_nothing(org, owner, connected, db):
    listed = _douyin()
    auth = _start(org, owner, "channel")
    listed["cooperation"].append(_entry(1))
    _poll(auth, org, owner)
    listed["cooperation"][0] = _entry(3, "账号存在违规记录")

    _poll(auth, org, owner)

    assert (auth.status, auth.reason) == ("rejected", "账号存在违规记录")
    assert linked.active(org.id) == []


@responses.activate
def test_a_qr_nobody_agreed_to_in_five_minutes_expires(org, owner, connected, db):
    _douyin()
    auth = _start(org, owner)

    _poll(auth, org, owner, now=NOW + timedelta(minutes=4, seconds=59))
    assert auth.status == "waiting"
    _poll(auth, org, owner, now=NOW + timedelta(minutes=5))
    assert auth.status == "expired"
    _poll(auth, org, owner, now=NOW + timedelta(minutes=6))
    assert auth.status == "expired"


@responses.activate
def test_an_owner_who_agreed_in_time_is_found_by_a_late_first_look(org, owner, connected, db):
    listed = _douyin()
    auth = _start(org, owner)
    listed["brand"].append(_entry(1))

    _poll(auth, org, owner, now=NOW + timedelta(minutes=7))

    assert (auth.status, auth.aweme_id) == ("reviewing", "5713812345678")


@responses.activate
def test_accounts_the_shop_already_knows_are_not_taken_for_the_owner(org, owner, connected, db):
    linked.bind(org, platform="douyin", role="channel", account_id="5713800000001", actor=owner, now=NOW - timedelta(days=2))
    listed = _douyin(("cooperation", _entry(2, aweme_id=5713800000001)))
    auth = _start(org, owner, "channel")

    _poll(auth, org, owner)
    assert auth.status == "waiting"
    listed["cooperation"].append(_entry(1))
    _poll(auth, org, owner)
    assert (auth.status, auth.aweme_id) == ("reviewing", "5713812345678")


@responses.activate
def test_the_account_already_official_cannot_be_bound_as_a_channel(org, owner, connected, db):
    linked.bind(org, platform="douyin", role="official", account_id="5713812345678", actor=owner, now=NOW)
    listed = _douyin(("brand", _entry(2)))
    auth = _start(org, owner, "channel")
    listed["cooperation"].append(_entry(1))

    _poll(auth, org, owner)

    assert auth.status == "rejected" and "不能同时作为官方账号和渠道账号" in auth.reason
    assert [a.role for a in linked.active(org.id)] == ["official"]


@responses.activate
def test_no_qr_while_douyin_lists_an_account_the_shop_has_no_record_of(org, owner, connected, db):
    _douyin(("cooperation", _entry(2, aweme_id=5713899990000, user_name="门口奶茶")))

    with pytest.raises(SettingsError) as error:
        _start(org, owner, "channel")

    assert error.value.field == "role" and "门口奶茶（5713899990000）" in str(error.value)
    assert _qr_requests() == [] and db.session.scalar(db.select(LinkAuthorization)) is None
    assert _start(org, owner, "official").status == "waiting"  # the other bind type is clear


@responses.activate
def test_a_new_qr_first_asks_after_the_one_still_waiting(org, owner, connected, db):
    listed = _douyin()
    first = _start(org, owner, "channel")
    listed["cooperation"].append(_entry(1))

    second = _start(org, owner, "channel")
    third = _start(org, owner, "channel")

    assert (first.status, first.aweme_id) == ("reviewing", "5713812345678")
    assert (second.status, third.status) == ("expired", "waiting")


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
    listed = _douyin()

    doc = html(client.post_form("/settings/accounts/", {"role": "official"}))

    auth = db.session.scalar(db.select(LinkAuthorization))
    box = doc.select_one("#settings-link-authorization")
    assert box["hx-get"].endswith(f"/settings/accounts/authorizations/{auth.id}") and box["hx-trigger"] == "every 2s"
    assert box.select_one("svg") is not None and doc.select_one("#settings-link-url")["href"] == QR
    listed["brand"].append(_entry(1))
    doc = html(client.get(f"/settings/accounts/authorizations/{auth.id}"))
    assert doc.select_one("#settings-link-nickname").text == "小平"
    assert doc.select_one("#settings-link-aweme").text == "5713812345678"
    assert doc.select_one("#settings-link-authorization")["hx-trigger"] == "every 2s"
    listed["brand"][0] = _entry(2)
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
    clock.set(NOW + timedelta(minutes=5))

    doc = html(client.get(f"/settings/accounts/authorizations/{auth.id}"))

    assert doc.select_one("#settings-link-expired") is not None
    assert doc.select_one("#settings-link-authorization").get("hx-trigger") is None
    assert "重新获取二维码" in doc.select_one("#settings-link-start").text


@responses.activate
def test_an_unexplained_douyin_binding_is_named_next_to_the_role(client, owner, org, connected, db):
    client.login_as(owner)
    _douyin(("brand", _entry(2, aweme_id=5713899990000, user_name="门口奶茶")))

    response = client.post_form("/settings/accounts/", {"role": "official"})

    assert response.status_code == 422
    assert "门口奶茶" in html(response).select_one("#field-role .form-error").text
    assert db.session.scalar(db.select(LinkAuthorization)) is None


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


UNBIND = API + "/api/apps/v1/capacity/unbind_aweme_relation/"


def _douyin_unbinds(listed):
    """Douyin's unbind: drops the account from the relation list, or answers 500 while the
    returned state says it is down."""
    state = {"down": False}

    def unbind(request):
        if state["down"]:
            return 500, {}, json.dumps({"err_no": 500, "err_msg": "系统繁忙", "log_id": "l"})
        body = json.loads(request.body)
        rows = listed[body["type"]]
        if not any(str(e["aweme_id"]) == body["aweme_id"] for e in rows):
            return 200, {}, json.dumps({"err_no": 28001003, "err_msg": "未找到绑定关系", "log_id": "l"})
        rows[:] = [e for e in rows if str(e["aweme_id"]) != body["aweme_id"]]
        return 200, {}, json.dumps({"err_no": 0, "err_msg": "success", "log_id": "l"})

    responses.add_callback(responses.POST, UNBIND, callback=unbind)
    return state


def _unbind_requests():
    return [json.loads(c.request.body) for c in responses.calls if c.request.url == UNBIND]


def _bound_channel(org, owner, listed):
    auth = _start(org, owner, "channel")
    listed["cooperation"].append(_entry(2))
    _poll(auth, org, owner)
    (account,) = linked.active(org.id)
    return account


@responses.activate
def test_unbinding_tells_douyin_and_the_same_account_binding_again_is_recognised(org, owner, connected, db, queue):
    listed = _douyin()
    _douyin_unbinds(listed)
    account = _bound_channel(org, owner, listed)

    linked.unbind(account, actor=owner, now=NOW)
    db.session.commit()
    assert _unbind_requests() == []  # sent after commit, through the outbox
    queue.run()

    assert _unbind_requests() == [{"aweme_id": "5713812345678", "type": "cooperation"}]
    assert listed["cooperation"] == []
    db.session.refresh(account)
    assert account.douyin_unbound_at is not None
    again = _start(org, owner, "channel")
    listed["cooperation"].append(_entry(1, user_name="小平二号"))
    _poll(again, org, owner)
    assert (again.status, again.aweme_id, again.nickname) == ("reviewing", "5713812345678", "小平二号")
    listed["cooperation"][0] = _entry(2, user_name="小平二号")
    _poll(again, org, owner)
    (rebound,) = linked.active(org.id)
    assert rebound.id != account.id and (again.status, rebound.account_id) == ("bound", "5713812345678")


@responses.activate
def test_while_douyin_is_down_the_unbind_waits_and_no_qr_of_the_role_is_issued(org, owner, connected, db, queue):

    listed = _douyin()
    douyin = _douyin_unbinds(listed)
    douyin["down"] = True
    account = _bound_channel(org, owner, listed)
    linked.unbind(account, actor=owner, now=NOW)
    db.session.commit()
    queue.run()

    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == linked.UNBIND_KIND))
    assert message.status == "pending" and message.attempts == 1
    assert listed["cooperation"] != [] and linked.active(org.id) == []
    issued = len(_qr_requests())
    with pytest.raises(SettingsError) as error:
        _start(org, owner, "channel")
    assert error.value.field == "role" and "5713812345678" in str(error.value)
    assert len(_qr_requests()) == issued
    assert _start(org, owner, "official").status == "waiting"  # another bind type is clear

    douyin["down"] = False
    assert outbox.deliver(message.id) == "delivered"
    assert listed["cooperation"] == [] and _start(org, owner, "channel").status == "waiting"


@responses.activate
def test_a_refused_unbind_is_done_when_douyin_no_longer_lists_the_account(org, owner, connected, db, queue):
    listed = _douyin()
    _douyin_unbinds(listed)
    account = _bound_channel(org, owner, listed)
    listed["cooperation"].clear()  # removed on Douyin meanwhile

    linked.unbind(account, actor=owner, now=NOW)
    db.session.commit()
    queue.run()

    db.session.refresh(account)
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == linked.UNBIND_KIND))
    assert _unbind_requests() and message.status == "delivered"  # Douyin refused: nothing to remove
    assert account.douyin_unbound_at is not None


def test_unbinding_a_tiktok_account_tells_douyin_nothing(org, owner, db):
    account = linked.bind(org, platform="tiktok", role="channel", account_id="tt-1", actor=owner, now=NOW)
    linked.unbind(account, actor=owner, now=NOW)
    assert db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == linked.UNBIND_KIND)) is None


@responses.activate
def test_the_page_shows_an_unbind_waiting_for_douyin_then_when_douyin_confirmed_it(client, owner, org, connected, db, queue, clock):
    client.login_as(owner)
    clock.set(NOW)
    listed = _douyin()
    douyin = _douyin_unbinds(listed)
    douyin["down"] = True
    account = _bound_channel(org, owner, listed)
    old = linked.bind(org, platform="tiktok", role="channel", account_id="tt-old", actor=owner, now=NOW - timedelta(days=40))
    linked.unbind(old, actor=owner, now=NOW - linked.RECENT_UNBINDS - timedelta(minutes=1))
    db.session.commit()

    client.post_form(f"/settings/accounts/{account.id}/unbind")
    queue.run()  # Douyin is down: the unbind waits in the outbox

    doc = html(client.get("/settings/accounts/"))
    row = doc.select_one(f"#settings-unbound-{account.id}")
    assert row.select_one(".unbind-state").get_text(strip=True) == "解绑中：等待抖音确认"
    assert row["hx-get"].endswith(f"/settings/accounts/{account.id}/unbind") and row["hx-trigger"] == "every 3s"
    assert doc.select_one(f"#settings-linked-{account.id}") is None  # no longer among the bound accounts
    assert doc.select_one(f"#settings-unbound-{old.id}") is None  # unbound long ago: not listed
    assert "tt-old" not in doc.select_one("#settings-linked-table").text

    douyin["down"] = False
    clock.set(NOW + timedelta(hours=1))
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == linked.UNBIND_KIND))
    assert outbox.deliver(message.id) == "delivered"
    db.session.commit()

    row = html(client.get(f"/settings/accounts/{account.id}/unbind")).select_one(f"#settings-unbound-{account.id}")
    # 05:00 UTC is 13:00 in Shanghai.
    assert row.select_one(".unbind-state").get_text(" ", strip=True) == "已解绑 2026-11-20 13:00"
    assert row.get("hx-trigger") is None
    doc = html(client.get("/settings/accounts/"))
    assert "已解绑" in doc.select_one(f"#settings-unbound-{account.id}").text


def test_a_bound_or_another_tenants_account_has_no_unbind_row(client, owner, org, accounts, db):
    client.login_as(owner)
    bound = linked.bind(org, platform="tiktok", role="channel", account_id="tt-1", actor=owner, now=NOW)
    other = linked.bind(accounts.org(), platform="tiktok", role="channel", account_id="tt-2", actor=None, now=NOW)
    linked.unbind(other, actor=None, now=NOW)
    db.session.commit()
    assert client.get(f"/settings/accounts/{bound.id}/unbind").status_code == 404
    assert client.get(f"/settings/accounts/{other.id}/unbind").status_code == 404
