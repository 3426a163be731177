"""Real servers on ports picked at run time, and a real Chromium driven by Playwright."""

from __future__ import annotations

import threading

import pytest
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    """A WSGI app served on 127.0.0.1 and a port the OS picks (port 0)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_portal(tmp_path_factory):
    """The portal on its embedded default (SQLite, in-process queue), migrated and seeded."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.cli import seed_demo
    from portal.extensions import db

    instance = tmp_path_factory.mktemp("live-instance")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'portal.db'}",
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "e2e-secret",
            "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
    server = LiveServer(app)
    server.app = app
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def sign_in(page, base_url: str, email: str, password: str = "demo-pass-1234"):
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-submit")
