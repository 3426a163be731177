"""Step 4 keys: the app key pair, the pasted platform public key, and the signed test call."""

import functools
import json

import pytest
from bs4 import BeautifulSoup
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portal import vault
from portal.onboarding import connection
from tests.fixtures.douyin import platform_keys

TAG_QUERY = "/api/trade_basic/v1/developer/tag_query/"


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@functools.cache
def rsa_1024() -> str:
    return public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))


@pytest.fixture
def step4(db, client, owner, org, onboarding):
    app = onboarding.app(org, upto=5)
    app.platform_public_key_pem = None
    app.trade_connected_at = None
    db.session.flush()
    client.login_as(owner)
    return app


def connect(client, key, version="1"):
    return client.post_form("/onboarding/trade/connect", {"platform_public_key": key, "key_version": version})


@pytest.mark.parametrize(
    "key, message",
    [
        (lambda: rsa_1024(), "长度不足"),
        (lambda: public_pem(ec.generate_private_key(ec.SECP256R1())), "不是 RSA 公钥"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nnot base64 at all!!\n-----END PUBLIC KEY-----", "不是有效的 PEM"),
        (lambda: "随便粘贴的一段文字", "不是有效的 PEM"),
    ],
    ids=["rsa-1024", "ec-key", "garbage-pem", "garbage-text"],
)
def test_unusable_platform_keys_are_refused_before_calling_douyin(client, org, step4, douyin, key, message):
    response = connect(client, key())
    assert response.status_code == 422
    assert message in html(response).select_one("#field-platform_public_key .form-error").text
    assert connection.find_app(org.id).platform_public_key_pem is None
    assert not douyin.mock.calls


def test_a_good_key_connects_after_a_trade_test_call_with_the_access_token(client, org, step4, douyin):
    douyin.token()
    douyin.trade("tag_query", {"tag_detail_list": []})
    response = connect(client, platform_keys()[1], "2")
    assert response.status_code == 303
    stored = connection.find_app(org.id)
    assert stored.trade_connected_at is not None and stored.key_version == "2"
    assert stored.platform_public_key_pem.strip() == platform_keys()[1].strip()
    request = douyin.calls(TAG_QUERY)[0].request
    assert json.loads(request.body) == {"goods_type": 101}
    assert request.headers["access-token"] and "Byte-Authorization" not in request.headers
    assert html(client.get("/onboarding/trade")).select_one("#onboarding-connect").text.strip() == "重新接入"


def test_a_refused_trade_test_call_explains_itself_and_saves_nothing(client, org, step4, douyin):
    douyin.token()
    douyin.trade("tag_query", err_no=28001018, err_msg="应用未获得该能力")
    response = connect(client, platform_keys()[1])
    assert response.status_code == 422
    assert "28001018" in html(response).select_one("#field-platform_public_key .form-error").text
    stored = connection.find_app(org.id)
    assert stored.platform_public_key_pem is None and stored.trade_connected_at is None


def test_douyin_down_during_the_test_call_offers_a_retry(client, org, step4, douyin):
    douyin.token()
    douyin.down("POST", TAG_QUERY)
    response = connect(client, platform_keys()[1])
    assert response.status_code == 503
    assert html(response).select_one("#onboarding-platform-key #onboarding-retry") is not None
    assert connection.find_app(org.id).trade_connected_at is None


def test_generated_keys_are_rsa_2048_with_the_private_half_encrypted(db, client, org, step4):
    before = step4.public_key_pem
    step4.trade_connected_at = step4.created_at
    db.session.flush()
    assert client.post_form("/onboarding/trade/keys").status_code == 303
    stored = connection.find_app(org.id)
    assert stored.public_key_pem != before and "BEGIN" not in stored.private_key_enc
    private = serialization.load_pem_private_key(vault.decrypt(stored.private_key_enc).encode(), password=None)
    assert private.key_size == 2048
    assert public_pem(private) == stored.public_key_pem
    # New keys must be uploaded and tested again.
    assert stored.trade_connected_at is None
    page = html(client.get("/onboarding/trade"))
    assert page.select_one("#onboarding-public-key").text.strip() == stored.public_key_pem.strip()


def test_ka_reminder_must_be_confirmed(db, client, org, step4):
    step4.ka_confirmed_at = None
    db.session.flush()
    response = client.post_form("/onboarding/trade/ka", {})
    assert response.status_code == 422
    assert "请确认此项" in html(response).select_one("#field-confirmed .form-error").text
    assert client.post_form("/onboarding/trade/ka", {"confirmed": "y"}).status_code == 303
    assert connection.find_app(org.id).ka_confirmed_at is not None
