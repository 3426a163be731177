"""Headers, cookies, the client address behind a proxy, and external links."""

import re
from pathlib import Path

from flask import Flask, request

from portal import security
from portal.config import PROJECT_ROOT


def test_every_page_forbids_framing_and_inline_script(client, owner, db):
    response = client.login_as(owner).get("/counter/")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"


def test_no_template_has_inline_script_or_event_handlers():
    offending = []
    for path in Path(PROJECT_ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+=", text) or "javascript:" in text:
            offending.append(str(path))
    assert offending == []


def _bare(config):
    app = Flask(__name__)
    app.config.update(config)
    security.init_app(app)
    app.add_url_rule("/where", "where", lambda: f"{request.remote_addr} {request.scheme}")
    return app


def test_session_cookie_is_secure_outside_the_embedded_default():
    assert _bare({"SQLALCHEMY_DATABASE_URI": "postgresql://db/portal", "TESTING": True}).config["SESSION_COOKIE_SECURE"] is True
    assert _bare({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}).config["SESSION_COOKIE_SECURE"] is False
    app = _bare({"SQLALCHEMY_DATABASE_URI": "postgresql://db/portal", "TESTING": True})
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert "Strict-Transport-Security" in app.test_client().get("/where").headers


def test_forwarded_address_is_believed_only_from_configured_proxies():
    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"}
    app = _bare({"TRUSTED_PROXIES": ["10.0.0.0/8"]})
    via_proxy = app.test_client().get("/where", headers=forwarded, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert via_proxy.get_data(as_text=True) == "203.0.113.9 https"  # the address the proxy saw, not what the client claimed
    direct = app.test_client().get("/where", headers=forwarded, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert direct.get_data(as_text=True) == "198.51.100.7 http"
    untrusting = _bare({}).test_client().get("/where", headers=forwarded, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert untrusting.get_data(as_text=True) == "10.1.2.3 http"


def test_invite_links_come_from_public_base_url_not_the_host_header(app, client, owner, org, db):
    from bs4 import BeautifulSoup

    app.config["PUBLIC_BASE_URL"] = "https://portal.example.cn/"
    try:
        client.login_as(owner)
        response = client.post_form("/staff/", {"email": "new@x.cn", "name": "新人", "role": "clerk", "store_id": str(org.stores[0].id)})
    finally:
        app.config["PUBLIC_BASE_URL"] = None
    text = BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text()
    assert "https://portal.example.cn/invite/" in text and "portal.test/invite" not in text
