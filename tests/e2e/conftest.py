"""Real servers on ports picked at run time, and a real Chromium driven by Playwright."""

from __future__ import annotations

import threading

import pytest
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from tests.fixtures.app import wait_until  # noqa: F401  (browser tests import it from here)

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


class SandboxControl:
    """The sandbox's local control endpoint (/sandbox/control/...), for test set-up and the clock."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method: str, path: str, payload: dict | None = None) -> dict:
        import requests

        response = requests.request(method, f"{self.url}/sandbox/control{path}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str = "", payload: dict | None = None) -> dict:
        return self.call("POST", path, payload or {})

    def get(self, path: str = "") -> dict:
        return self.call("GET", path)


@pytest.fixture(scope="session")
def live_sandbox(tmp_path_factory):
    """The Douyin sandbox on its own port, its own database, callbacks retried quickly."""
    from sandbox import create_app as create_sandbox

    state = tmp_path_factory.mktemp("sandbox")
    app = create_sandbox(
        {
            "SANDBOX_DATABASE_URL": f"sqlite:///{state / 'sandbox.db'}",
            "CALLBACK_TIME_SCALE": 0.01,
            "DISPATCH_INTERVAL": 0.1,
            "DEMO_CLOCK_FILE": str(state / "demo_clock.json"),  # the portal follows it, as in `make run`
        }
    )
    server = LiveServer(app)
    server.app = app
    server.control = SandboxControl(server.url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_portal(tmp_path_factory, live_sandbox):
    """The portal on its embedded default (SQLite, in-process queue), migrated and seeded,
    talking to the live sandbox and following its clock."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.cli import seed_demo
    from portal.extensions import db

    instance = tmp_path_factory.mktemp("live-instance")
    # The operator's third-party platform is the one the sandbox registered, as `flask dev` arranges.
    component = live_sandbox.control.get("/component")
    app = create_app(
        {
            "COMPONENT_APPID": component["component_appid"],
            "COMPONENT_APPSECRET": component["component_appsecret"],
            "COMPONENT_PUSH_TOKEN": component["push_token"],
            "COMPONENT_ENCODING_AES_KEY": component["encoding_aes_key"],
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'portal.db'}",
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "e2e-secret",
            "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
            "REDIS_URL": None,
            "DOUYIN_API_BASE": live_sandbox.url,
            "DEMO_CLOCK_FILE": live_sandbox.app.config["DEMO_CLOCK_FILE"],
        }
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
    server = LiveServer(app)
    server.app = app
    app.config["PUBLIC_BASE_URL"] = server.url
    # Douyin pushes the platform's ticket and authorization events to the portal.
    live_sandbox.control.post("/component", {"push_url": f"{server.url}/douyin/component/events"})
    live_sandbox.control.post("/component/push_ticket")
    with app.app_context():
        from portal.onboarding import authorization

        assert wait_until(lambda: (db.session.remove(), authorization.latest_ticket(), db.session.remove())[1])
    yield server
    server.stop()


def connect_merchant(live_portal, live_sandbox, organization_name: str) -> dict:
    """Connect a seeded merchant to the sandbox without the wizard: a Laike account, one POI per
    store, an approved mini-program with the portal's callback URLs, and the same facts in the
    portal. For tests that start after onboarding (the wizard has its own browser test)."""
    from sqlalchemy import select

    from portal import clock, vault
    from portal.accounts.models import Organization
    from portal.douyin.signing import generate_rsa_keypair
    from portal.extensions import db
    from portal.onboarding import connection

    control = live_sandbox.control
    private_pem, public_pem = generate_rsa_keypair()
    # On SQLite every transaction holds the write lock: none is open while the sandbox is called,
    # or the portal's threads answering the sandbox would wait on this one.
    with live_portal.app.app_context():
        org = db.session.scalar(select(Organization).where(Organization.name == organization_name))
        org_id, stores = org.id, [(store.name, store.address) for store in org.stores]
        app_row = connection.get_or_create_app(org.id)
        callback_token = app_row.callback_token
        db.session.commit()
    urls = {"trade": f"{live_portal.url}/douyin/callbacks/{callback_token}/trade",
            "webhook": f"{live_portal.url}/douyin/callbacks/{callback_token}/webhook"}
    account = control.post("/accounts", {"account_name": organization_name})
    pois = [control.post("/pois", {"account_id": account["account_id"], "poi_name": name, "address": address}) for name, address in stores]
    sandbox_app = control.post("/apps", {
        "name": organization_name + "小程序",
        "public_key_pem": public_pem,
        "trade_callback_url": urls["trade"],
        "webhook_url": urls["webhook"],
        "account_id": account["account_id"],
        "onboarding_status": "APPROVED",
    })
    # The mini-program authorized the portal's third-party platform (wizard step 1).
    code = control.post("/component/authorize", {"appid": sandbox_app["appid"]})["authorization_code"]
    with live_portal.app.app_context():
        from portal.onboarding import authorization

        tokens = authorization.component_client().auth_token(authorization_code=code)
        db.session.commit()
    with live_portal.app.app_context():
        org = db.session.get(Organization, org_id)
        app_row = connection.get_or_create_app(org.id)
        app_row.enabled = True
        app_row.enabled_at = clock.now()
        app_row.laike_account_id = account["account_id"]
        app_row.laike_account_name = organization_name
        app_row.app_id = sandbox_app["appid"]
        authorization.save_tokens(app_row, tokens, now=clock.now())
        app_row.authorized_at = clock.now()
        app_row.app_secret_enc = vault.encrypt(sandbox_app["app_secret"])
        app_row.app_secret_verified_at = clock.now()
        app_row.merchant_uid = app_row.payment_merchant_uid = sandbox_app.get("merchant_uid")
        app_row.payment_channel = "hz"  # the sandbox's one ecpay channel
        app_row.private_key_enc = vault.encrypt(private_pem)
        app_row.public_key_pem = public_pem
        app_row.key_version = str(sandbox_app.get("key_version") or "1")
        app_row.platform_public_key_pem = sandbox_app["platform_public_key"]
        app_row.trade_connected_at = clock.now()
        for store, poi in zip(org.stores, pois):
            store.douyin_account_id = account["account_id"]
            store.douyin_poi_id = poi["poi_id"]
            store.douyin_poi_name = store.name
            store.poi_bound_at = clock.now()
        db.session.commit()
        return {
            "organization_id": org.id,
            "appid": sandbox_app["appid"],
            "account_id": account["account_id"],
            "poi_ids": [poi["poi_id"] for poi in pois],
        }


@pytest.fixture(scope="session")
def demo_connected(live_portal, live_sandbox):
    """示例餐饮 connected to the sandbox (once per run)."""
    return connect_merchant(live_portal, live_sandbox, "示例餐饮")


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


def online_product(live_portal, live_sandbox, demo_connected, *, out_id: str, name: str, price_fen: int = 9900) -> str:
    """A 团购 product in the demo merchant's library and online in the sandbox; its Douyin product id.

    Saved through the portal's Douyin client (as a submitted product is), then approved in the
    sandbox console; the library row is what the mini-program's order endpoint sells from.
    """
    from sqlalchemy import select

    from portal import clock
    from portal.accounts.models import Store
    from portal.catalog.models import Product
    from portal.extensions import db
    from portal.onboarding.connection import client_for

    poi_id = demo_connected["poi_ids"][0]
    with live_portal.app.app_context():
        saved = client_for(demo_connected["organization_id"]).goods_save(
            product={"out_id": out_id, "product_name": name, "product_type": 1, "biz_line": 1, "category_id": 1001000,
                     "pois": [{"poi_id": poi_id}], "sold_start_time": 0, "sold_end_time": 4102444800},
            sku={"sku_name": name, "origin_amount": price_fen + 2900, "actual_amount": price_fen, "status": 1,
                 "stock": {"limit_type": 1, "stock_qty": 100}, "attr_key_value_map": {"code_source_type": "2"}},
        )
        if db.session.scalar(select(Product).where(Product.out_id == out_id)) is None:
            now = clock.now()
            product = Product(organization_id=demo_connected["organization_id"], kind="groupon", name=name,
                              original_price_fen=price_fen + 2900, price_fen=price_fen, out_id=out_id,
                              douyin_product_id=saved["product_id"], review_status="approved",
                              local_online=True, douyin_online=True, created_at=now, updated_at=now)
            product.stores = [db.session.scalar(select(Store).where(Store.douyin_poi_id == poi_id))]
            db.session.add(product)
            db.session.commit()
    live_sandbox.control.post(f"/products/{saved['product_id']}/review", {"approve": True})
    return saved["product_id"]
