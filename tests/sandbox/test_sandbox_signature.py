"""trade_basic calls are authorised by the access-token alone; the app public key is still uploaded
(the mini-program signs its requestOrder with the key pair)."""

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization




def test_trade_basic_is_authorised_by_the_access_token_alone(world):
    r = world.trade("tag_query", {"goods_type": 101}, sign=False)
    assert r.status_code == 200
    assert r.get_json()["err_no"] == 0
    assert r.get_json()["data"]["tag_detail_list"][0]["tag_list"]


def test_trade_basic_ignores_a_byte_authorization_header(world):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert world.trade("tag_query", {}, key=other).get_json()["err_no"] == 0


def test_trade_basic_without_a_token_is_refused(world):
    path = "/api/trade_basic/v1/developer/tag_query/"
    r = world.client.post(path, data=b"{}", headers={"Content-Type": "application/json"})
    assert r.get_json()["err_no"] != 0


def test_expired_token_on_trade_basic_reports_2190008(world):
    world.control(advance_seconds=7201)
    r = world.trade("tag_query", {})
    assert r.status_code == 200 and r.get_json()["err_no"] == 2190008


def test_public_key_upload_requires_rsa_2048(client, world):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    r = client.post(f"/sandbox/control/apps/{world.appid}", json={"public_key_pem": small})
    assert r.status_code == 400 and "2048" in r.get_json()["error"]
    r = client.post(f"/sandbox/control/apps/{world.appid}", json={"public_key_pem": "not a key"})
    assert r.status_code == 400
    # still the old key and version
    assert world.trade("tag_query", {}).get_json()["err_no"] == 0
