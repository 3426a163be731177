"""`flask doctor` says what to fix before production."""

import responses

from portal.ops import doctor

TOKEN_OK = {"data": {"access_token": "clt", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}
TOKEN_REFUSED = {"data": {"access_token": "", "expires_in": 0, "error_code": 10013, "description": "invalid client_secret"}, "message": "error"}


def test_doctor_lists_what_the_embedded_default_lacks_and_fails(app, db, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRETS_FERNET_KEY", raising=False)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "http://portal.example")
    monkeypatch.setitem(app.config, "SQLALCHEMY_DATABASE_URI", "sqlite:///x.db")
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "http://douyin.test/", status=404)
        result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    for line in ("FIX  SECRET_KEY", "FIX  SECRETS_FERNET_KEY", "FIX  PUBLIC_BASE_URL", "FIX  database: sqlite", "FIX  REDIS_URL", "ok   Douyin: http://douyin.test answers", "FIX  DOUYIN_API_BASE"):
        assert line in result.output, result.output
    assert "-> set DATABASE_URL=postgresql+psycopg://" in result.output


def test_public_base_url_must_be_https():
    assert doctor.check_public_base_url({"PUBLIC_BASE_URL": "https://portal.example.com"}).ok
    assert not doctor.check_public_base_url({"PUBLIC_BASE_URL": "http://portal.example.com"}).ok
    assert not doctor.check_public_base_url({}).ok


def test_unreachable_redis_is_reported():
    check = doctor.check_redis({"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert not check.ok and "does not answer" in check.detail


def test_each_merchants_credentials_are_tried_against_douyin(app, db, connected, monkeypatch):
    monkeypatch.setitem(app.config, "DOUYIN_API_BASE", "https://douyin.test")
    with app.test_request_context(), responses.RequestsMock() as rsps:
        rsps.add("GET", "https://douyin.test", status=404)
        rsps.add("POST", "https://douyin.test/oauth/client_token/", json=TOKEN_REFUSED)
        checks = doctor.check_douyin(app.config)
    assert [c.ok for c in checks] == [True, False]
    assert connected.app.app_id in checks[1].name and "wizard step 2" in checks[1].fix
