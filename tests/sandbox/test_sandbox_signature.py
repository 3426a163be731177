"""Byte-Authorization on trade_basic calls, checked against the uploaded app public key."""
import json

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization




def test_valid_signature_is_accepted(world):
    r = world.trade("tag_query", {})
    assert r.status_code == 200
    assert r.get_json()["err_no"] == 0
    assert r.get_json()["data"]["tag_list"]


def test_unquoted_header_values_are_accepted(world):
    assert world.trade("tag_query", {}, quoted=False).get_json()["err_no"] == 0


def test_missing_signature_is_rejected(world):
    r = world.trade("tag_query", {}, sign=False)
    assert r.status_code == 401
    assert r.get_json()["err_no"] == 28001001
    assert r.get_json()["err_msg"] == "签名校验失败"
    assert r.get_json()["log_id"]


def test_signature_by_another_key_is_rejected(world):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = world.trade("tag_query", {}, key=other)
    assert r.status_code == 401 and r.get_json()["err_no"] == 28001001


def test_tampered_body_is_rejected(world):
    path = "/api/trade_basic/v1/developer/order_query/"
    signed = json.dumps({"order_id": "ot1"}).encode()
    header = world.sign_request(world.appid, "POST", path, signed)
    r = world.client.post(path, data=json.dumps({"order_id": "ot2"}), headers={
        "access-token": world.token, "Byte-Authorization": header, "Content-Type": "application/json"})
    assert r.status_code == 401


def test_query_string_is_part_of_the_signed_uri(world):
    path = "/api/trade_basic/v1/developer/tag_query/"
    raw = b"{}"
    headers = {"access-token": world.token, "Content-Type": "application/json"}
    headers["Byte-Authorization"] = world.sign_request(world.appid, "POST", path, raw)
    assert world.client.post(path + "?x=1", data=raw, headers=headers).status_code == 401
    headers["Byte-Authorization"] = world.sign_request(world.appid, "POST", path + "?x=1", raw)
    assert world.client.post(path + "?x=1", data=raw, headers=headers).status_code == 200


def test_app_without_uploaded_key_is_rejected(client, world):
    bare = client.post("/sandbox/control/apps", json={"name": "无公钥"}).get_json()
    token = client.post("/oauth/client_token/", json={
        "client_key": bare["appid"], "client_secret": bare["app_secret"],
        "grant_type": "client_credential"}).get_json()["data"]["access_token"]
    path = "/api/trade_basic/v1/developer/tag_query/"
    r = client.post(path, data=b"{}", headers={
        "access-token": token, "Byte-Authorization": world.sign_request(bare["appid"], "POST", path, b"{}")})
    assert r.status_code == 401


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
