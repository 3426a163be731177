"""The onboarding domain's periodic jobs, run as the scheduler runs them (no request, own app
context), with Douyin mocked at the HTTP boundary."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from portal import vault
from portal.audit import AuditEntry
from portal.onboarding import authorization
from portal.onboarding.models import DouyinApp
from tests.fixtures.onboarding import BASE

AUTH_TOKEN = "/api/tpapp/v2/auth/get_auth_token"
COMPONENT_TOKEN = "/openapi/v2/auth/token"
REFUSED = "isvrft.refused"


def _refresh_answers(douyin):
    """get_auth_token: a new pair for every refresh token but REFUSED, which Douyin no longer knows."""
    def answer(request):
        sent = parse_qs(urlsplit(request.url).query)
        old = sent["authorizer_refresh_token"][0]
        assert sent["grant_type"] == ["app_to_tp_refresh_token"]
        if old == REFUSED:
            body = {"err_no": 40004, "err_msg": "authorizer_refresh_token 无效或已过期", "log_id": "log1"}
        else:
            body = {"err_no": 0, "err_msg": "success", "log_id": "log2", "data": {
                "authorizer_access_token": "isvact.after." + old, "authorizer_refresh_token": "isvrft.after." + old,
                "expires_in": 7200, "refresh_expires_in": 2592000, "authorizer_appid": "tt"}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    douyin.mock.add("GET", BASE + COMPONENT_TOKEN, json={"err_no": 0, "err_msg": "", "component_access_token": "cmpt.1", "expires_in": 7200})
    douyin.mock.add_callback("GET", BASE + AUTH_TOKEN, callback=answer)


def _authorized(accounts, onboarding, clock, *, refresh_token: str, runs_out_in: timedelta) -> DouyinApp:
    app = onboarding.app(accounts.org(), upto=2)
    app.authorizer_refresh_token_enc = vault.encrypt(refresh_token)
    app.authorizer_refresh_expires_at = clock.now() + runs_out_in
    return app


def test_renewal_refreshes_expiring_authorizations_skips_the_rest_and_survives_a_refusal(app, db, accounts, onboarding, douyin, clock):
    from portal.jobs import bind_app
    from portal.onboarding.jobs import run_authorization_renewal

    # Douyin refuses the first app the job meets: the ones after it are renewed all the same.
    refused = _authorized(accounts, onboarding, clock, refresh_token=REFUSED, runs_out_in=timedelta(days=1))
    expiring = _authorized(accounts, onboarding, clock, refresh_token="isvrft.a", runs_out_in=timedelta(days=3))
    last_day = _authorized(accounts, onboarding, clock, refresh_token="isvrft.b", runs_out_in=timedelta(days=7, seconds=-1))
    later = _authorized(accounts, onboarding, clock, refresh_token="isvrft.c", runs_out_in=timedelta(days=20))
    revoked = _authorized(accounts, onboarding, clock, refresh_token="isvrft.d", runs_out_in=timedelta(days=2))
    revoked.unauthorized_at = clock.now()
    never = onboarding.app(accounts.org(), upto=1)
    authorization.store_ticket("ticket-1", now=clock.now())
    db.session.commit()
    before = {a.id: (a.authorizer_access_token_enc, a.authorizer_refresh_token_enc, a.authorizer_refresh_expires_at)
              for a in (refused, later, revoked, never)}
    _refresh_answers(douyin)
    clock.advance(hours=1)

    bind_app(app)
    assert run_authorization_renewal() == 2

    db.session.expire_all()
    for renewed, old in ((expiring, "isvrft.a"), (last_day, "isvrft.b")):
        assert vault.decrypt(renewed.authorizer_access_token_enc) == "isvact.after." + old
        assert vault.decrypt(renewed.authorizer_refresh_token_enc) == "isvrft.after." + old
        assert renewed.authorizer_expires_at == clock.now() + timedelta(hours=2)
        assert renewed.authorizer_refresh_expires_at == clock.now() + timedelta(days=30)
    for untouched in (refused, later, revoked, never):
        assert (untouched.authorizer_access_token_enc, untouched.authorizer_refresh_token_enc,
                untouched.authorizer_refresh_expires_at) == before[untouched.id]
    sent = [parse_qs(urlsplit(c.request.url).query)["authorizer_refresh_token"][0] for c in douyin.calls(AUTH_TOKEN)]
    assert sorted(sent) == sorted([REFUSED, "isvrft.a", "isvrft.b"])
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "onboarding.authorization.refreshed")).all()
    assert sorted(int(e.object_id) for e in entries) == sorted([expiring.id, last_day.id])
    assert {e.organization_id for e in entries} == {expiring.organization_id, last_day.organization_id}


def test_renewal_with_nothing_expiring_calls_douyin_not_at_all(app, db, accounts, onboarding, douyin, clock):
    from portal.jobs import bind_app
    from portal.onboarding.jobs import run_authorization_renewal

    _authorized(accounts, onboarding, clock, refresh_token="isvrft.c", runs_out_in=timedelta(days=8))
    db.session.commit()
    bind_app(app)
    assert run_authorization_renewal() == 0
    assert len(douyin.mock.calls) == 0
