"""Fixtures for the Douyin sandbox tests. They override the portal's `app` and `client` here:
these tests talk to the sandbox only, through the Flask test client."""
from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import time

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sandbox import create_app  # noqa: E402

CALLBACK_URL = "http://merchant.test/douyin/callbacks/tok/trade"
MERCHANT_ORDERS_URL = "http://merchant.test/mp/tok/orders"  # derived from CALLBACK_URL by the sandbox
WEBHOOK_URL = "http://merchant.test/douyin/webhook"

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APP_PRIVATE_KEY = _KEY
APP_PUBLIC_PEM = _KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign_request(appid, method, uri, body: bytes, *, key=None, ts=None, nonce=None, quoted=True,
                 key_version="1"):
    """Byte-Authorization built here with `cryptography`, not with sandbox.crypto."""
    ts = ts or str(int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    message = f"{method}\n{uri}\n{ts}\n{nonce}\n".encode() + body + b"\n"
    sig = base64.b64encode((key or APP_PRIVATE_KEY).sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    q = '"' if quoted else ""
    return (f"SHA256-RSA2048 appid={q}{appid}{q},nonce_str={q}{nonce}{q},timestamp={q}{ts}{q},"
            f"key_version={q}{key_version}{q},signature={q}{sig}{q}")


def verify_platform_signature(public_pem: str, headers, body: bytes) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    message = f"{headers['Byte-Timestamp']}\n{headers['Byte-Nonce-Str']}\n".encode() + body + b"\n"
    try:
        key.verify(base64.b64decode(headers["Byte-Signature"]), message, padding.PKCS1v15(), hashes.SHA256())
        return True
    except Exception:
        return False


class Receiver:
    """Captures callbacks and webhooks sent by the sandbox (through `responses`)."""

    def __init__(self, mock):
        self.mock = mock
        self.calls = []
        self.replies = []  # (status, body) for the next trade callbacks, then success
        for url in (CALLBACK_URL, WEBHOOK_URL):
            mock.add_callback(responses.POST, url, callback=self._handle)

    def _handle(self, request):
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        self.calls.append({"url": request.url, "headers": dict(request.headers), "body": body,
                           "json": json.loads(body)})
        if self.replies and request.url == CALLBACK_URL:
            status, reply = self.replies.pop(0)
        else:
            status, reply = 200, self.default_reply(json.loads(body))
        return status, {"Content-Type": "application/json"}, json.dumps(reply)

    def serve_merchant(self, world):
        """Answer the mini-program's order requests as the merchant's back end would."""
        def place(request):
            asked = json.loads(request.body)
            pid = next(p for p, (sku, _, _) in world.prices.items() if sku == asked["sku_id"])
            data, authorization = world.request_order_data(pid, asked["quantity"])
            self.placed.append(asked)
            return 201, {"Content-Type": "application/json"}, json.dumps({"data": data, "byteAuthorization": authorization})
        self.placed = []
        self.mock.add_callback(responses.POST, MERCHANT_ORDERS_URL, callback=place)

    def default_reply(self, payload):
        if payload.get("type") == "pre_create_refund":
            msg = json.loads(payload["msg"])
            return {"err_no": 0, "err_tips": "success", "data": {"out_refund_no": "M-" + msg["refund_id"]}}
        return {"err_no": 0, "err_tips": "success"}

    def trade(self, event_type=None):
        out = [c for c in self.calls if c["url"] == CALLBACK_URL]
        return [c for c in out if event_type is None or c["json"]["type"] == event_type]

    def webhooks(self, event=None):
        out = [c for c in self.calls if c["url"] == WEBHOOK_URL]
        return [c for c in out if event is None or c["json"]["event"] == event]


@pytest.fixture
def receiver():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Receiver(mock)


def make_app(**config):
    cfg = {"SANDBOX_DATABASE_URL": "sqlite:///:memory:", "CALLBACK_DISPATCHER": False,
           "CALLBACK_SYNC": True, "TESTING": True}
    cfg.update(config)
    return create_app(cfg)


@pytest.fixture
def app():
    application = make_app()
    yield application
    application.extensions["sandbox"].stop()


@pytest.fixture
def client(app):
    return app.test_client()


class World:
    """One onboarded merchant: app (with uploaded public key), Laike account, two POIs, a token."""

    sign_request = staticmethod(sign_request)
    verify_platform_signature = staticmethod(verify_platform_signature)

    def __init__(self, client):
        self.client = client
        acc = client.post("/sandbox/control/accounts", json={"account_name": "老王火锅"}).get_json()
        self.account_id = acc["account_id"]
        self.poi_a = client.post("/sandbox/control/pois", json={
            "account_id": self.account_id, "poi_name": "老王火锅·A店", "address": "朝阳路1号"}).get_json()["poi_id"]
        self.poi_b = client.post("/sandbox/control/pois", json={
            "account_id": self.account_id, "poi_name": "老王火锅·B店", "address": "建国路2号"}).get_json()["poi_id"]
        app = client.post("/sandbox/control/apps", json={
            "name": "老王小程序", "public_key_pem": APP_PUBLIC_PEM, "trade_callback_url": CALLBACK_URL,
            "webhook_url": WEBHOOK_URL, "account_id": self.account_id, "onboarding_status": "APPROVED",
            "refund_needs_audit": True}).get_json()
        self.appid, self.secret = app["appid"], app["app_secret"]
        self.platform_public_key = app["platform_public_key"]
        self.key_version = app["key_version"]
        self.token = self.fetch_token()

    def fetch_token(self):
        r = self.client.post("/oauth/client_token/", json={
            "client_key": self.appid, "client_secret": self.secret, "grant_type": "client_credential"})
        return r.get_json()["data"]["access_token"]

    def get(self, path, token=None, **params):
        return self.client.get(path, query_string=params, headers={"access-token": token or self.token})

    def post(self, path, body, token=None):
        return self.client.post(path, json=body, headers={"access-token": token or self.token})

    def trade(self, name, body, *, sign=True, **sign_kw):
        path = f"/api/trade_basic/v1/developer/{name}/"
        raw = json.dumps(body).encode()
        headers = {"access-token": self.token, "Content-Type": "application/json"}
        if sign:
            headers["Byte-Authorization"] = sign_request(self.appid, "POST", path, raw,
                                                         key_version=self.key_version, **sign_kw)
        return self.client.post(path, data=raw, headers=headers)

    def control(self, **settings):
        return self.client.post("/sandbox/control", json=settings).get_json()

    def save_product(self, name="双人火锅套餐", price=9900, out_id=None, delivery_type=0, pois=None, attrs=None, product_type=1):
        """goods/product/save in the reference shape; delivery_type 1 asks for Douyin codes
        (sku attr code_source_type "1"), 0 for the developer's own codes ("2"); product_type 2 is
        courier goods (no codes)."""
        product = {"product_name": name, "product_type": product_type, "category_id": 1001000, "biz_line": 1,
                   "pois": [{"poi_id": p} for p in (pois or [self.poi_a, self.poi_b])],
                   "attr_key_value_map": dict({"image_list": json.dumps([{"url": "https://img.test/1.png"}])}, **(attrs or {}))}
        if out_id:
            product["out_id"] = out_id
        self.prices = getattr(self, "prices", {})
        r = self.post("/goodlife/v1/goods/product/save/", {
            "account_id": self.account_id, "product": product,
            "sku": {"sku_name": name, "actual_amount": price, "origin_amount": price + 2000, "status": 1,
                    "stock": {"limit_type": 1, "stock_qty": 100},
                    "attr_key_value_map": {"code_source_type": "1" if delivery_type == 1 else "2"}}})
        data = r.get_json()["data"]
        assert data["error_code"] == 0, data
        self.prices[data["product_id"]] = (out_id or data["product_id"], price, name)
        return data["product_id"]

    def approve(self, product_id):
        r = self.client.post(f"/sandbox/control/products/{product_id}/review", json={"approve": True})
        assert r.status_code == 200, r.get_json()

    def online_product(self, **kw):
        pid = self.save_product(**kw)
        self.approve(pid)
        return pid

    def request_order_data(self, product_id, quantity=1, out_order_no=None):
        """What the merchant's back end answers the mini-program: tt.requestOrder's `data` and its
        byteAuthorization (POST "/requestOrder" over data, values unquoted, as PG signs it)."""
        sku_id, price, title = self.prices[product_id]
        data = json.dumps({
            "skuList": [{"skuId": sku_id, "price": price, "quantity": quantity, "title": title,
                         "imageList": ["https://example.test/p.png"], "type": 301, "tagGroupId": "tag_group_1"}],
            "outOrderNo": out_order_no or "mp" + secrets.token_hex(8), "totalAmount": price * quantity,
            "payExpireSeconds": 1800, "orderEntrySchema": {"path": "pages/order/detail", "params": "{}"}},
            ensure_ascii=False, separators=(",", ":"))
        return data, sign_request(self.appid, "POST", "/requestOrder", data.encode(), quoted=False,
                                  key_version=self.key_version)

    def buy(self, product_id, *, quantity=1, out_order_no=None, **kw):
        data, authorization = self.request_order_data(product_id, quantity, out_order_no)
        body = {"data": data, "byteAuthorization": authorization, "poi_id": self.poi_a, "channel": "short_video",
                "tracking_code": "shortvideo_1122_douyin", "order_source": "normal", "phone": "13900001111"}
        body.update(kw)
        r = self.client.post("/sandbox/control/orders", json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def callbacks(self, event_type=None):
        q = {"appid": self.appid}
        if event_type:
            q["event_type"] = event_type
        return self.client.get("/sandbox/callbacks", query_string=q).get_json()["callbacks"]


@pytest.fixture
def world(client):
    return World(client)


@pytest.fixture
def kit():
    """Helpers for tests that build their own app (no `from conftest import`: import-mode safe)."""
    import types
    return types.SimpleNamespace(CALLBACK_URL=CALLBACK_URL, make_app=make_app, World=World, Receiver=Receiver)
