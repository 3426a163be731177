"""Signature schemes: the published vectors byte for byte, RSA round trips and tampering."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.douyin.signing import (
    PublicKeyError,
    byte_authorization,
    ecpay_callback_signature,
    ecpay_sign,
    generate_rsa_keypair,
    load_public_key_info,
    parse_byte_authorization,
    sign_callback,
    verify_byte_authorization,
    verify_callback,
    webhook_signature,
)


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture(scope="module")
def other_keypair() -> tuple[str, str]:
    return generate_rsa_keypair()


def pkcs1_private(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


# --- doc 1.5: ecpay MD5 + SALT ---------------------------------------------------------------

SETTLE_VECTOR = {
    "app_id": "tt07e3715e98c9aac0",
    "out_order_no": "mock_settle_no",
    "out_settle_no": "mock_settle_no",
    "settle_desc": "开始结算与分账",
    "settle_params": '[{"merchant_uid":"123345","amount":1}]',
    "notify_url": "https://callback.com",
}


def test_ecpay_sign_matches_the_published_settle_vector():
    assert ecpay_sign(SETTLE_VECTOR, "your_payment_salt") == "3c9421d0268a974138f4b36e9cefa1f1"


def test_ecpay_sign_serialises_a_settle_params_list_as_compact_json():
    params = dict(SETTLE_VECTOR, settle_params=[{"merchant_uid": "123345", "amount": 1}])
    assert ecpay_sign(params, "your_payment_salt") == "3c9421d0268a974138f4b36e9cefa1f1"


def test_ecpay_sign_matches_the_published_create_order_vector():
    params = {
        "app_id": "tta2e4d4593dd752cc01",
        "out_order_no": "509428213924556800",
        "total_amount": 5990,
        "subject": "充值 59.9 元",
        "body": "充值 59.9 元",
        "valid_time": 7200,
        "sign": "",
        "cp_extra": "20231106180550.952",
        "notify_url": "",
        "thirdparty_id": "",
        "disable_msg": 0,
    }
    assert ecpay_sign(params, "n5NZ1sQb8euPHV7BsPxARQ") == "ac65148dbe5fe6ca969a76aaa66f1c2e"


def test_ecpay_sign_matches_the_third_vector_and_skips_app_id():
    params = {"app_id": "appid12345", "out_trade_no": "out_trade_no", "total_amount": 100}
    assert ecpay_sign(params, "test") == "2001ff1c8ffa0f6b4bfb592133a84294"
    assert ecpay_sign(dict(params, app_id="another"), "test") == "2001ff1c8ffa0f6b4bfb592133a84294"


def test_ecpay_sign_drops_empty_null_and_excluded_values_but_keeps_zero():
    base = {"out_trade_no": "out_trade_no", "total_amount": 100}
    expected = ecpay_sign(base, "test")
    noisy = dict(
        base,
        cp_extra="",
        extra="null",
        store_uid=None,
        memo='  ""  ',
        sign="abc",
        thirdparty_id="tp",
        other_settle_params='[{"x":1}]',
    )
    assert ecpay_sign(noisy, "test") == expected
    assert ecpay_sign(dict(base, disable_msg=0), "test") != expected


# --- doc 1.6: ecpay callback SHA1 ----------------------------------------------------------

VECTOR_MSG_1 = (
    '{"appid":"tta2e4d4593dd752cc01","cp_orderno":"509674359901237248","cp_extra":"20231107102356.988",'
    '"way":"2","channel_no":"2023110722001478031451493029","channel_gateway_no":"",'
    '"payment_order_no":"DPS2311071023579038593541272896","out_channel_order_no":"2023110722001478031451493029",'
    '"total_amount":1,"status":"SUCCESS","seller_uid":"72886065940053875560","extra":"","item_id":"",'
    '"paid_at":1699323852,"message":"","order_id":"N7298540284277819658",'
    '"ec_pay_trade_no":"DTPP2311071023579038592558232896"}'
)
VECTOR_MSG_2 = (
    r'{\"appid\":\"tt07e3715e98c9aac0\",\"cp_orderno\":\"out_order_no_1\",\"cp_extra\":\"\",'
    r'\"way\":\"2\",\"payment_order_no\":\"2021070722001450071438803941\",\"total_amount\":9980,'
    r'\"status\":\"SUCCESS\",\"seller_uid\":\"69631798443938962290\",\"extra\":\"null\",\"item_id\":\"\"}'
)


def test_ecpay_callback_signature_matches_the_first_published_vector():
    signature = ecpay_callback_signature(
        token="XTaSqbuSx5Mxxxxx", timestamp="1699323852", nonce="5069", msg=VECTOR_MSG_1
    )
    assert signature == "8af88d7063a638da5d20d0996e9efc6f899929a3"


def test_ecpay_callback_signature_matches_the_second_published_vector():
    assert "\\" in VECTOR_MSG_2  # the backslashes are part of the signed string
    signature = ecpay_callback_signature(
        token="12345", timestamp="123456689", nonce="121212121", msg=VECTOR_MSG_2
    )
    assert signature == "f01dea530d78c831ca23447bb445aefb44ea2941"


def test_ecpay_callback_signature_changes_with_the_token():
    signature = ecpay_callback_signature(
        token="XTaSqbuSx5Mxxxxy", timestamp="1699323852", nonce="5069", msg=VECTOR_MSG_1
    )
    assert signature != "8af88d7063a638da5d20d0996e9efc6f899929a3"


# --- doc 1.7: webhooks ------------------------------------------------------------------------


def test_webhook_signature_is_hex_sha1_of_secret_then_body():
    body = b'{"event":"verify_webhook","content":{"challenge":12345}}'
    assert webhook_signature("s3cr3t", body) == "f4d6a0cd48a163e65b70ae141dc84ad728ef3d53"
    assert webhook_signature("密钥", '{"a":"中"}'.encode()) == "105ab84fab7d7436eae9864b1c50d14c9fa483d6"


# --- doc 1.2: Byte-Authorization ---------------------------------------------------------------

BODY = '{"order_id":"ot7300000000000000001","refund_reason":[{"code":101,"text":"不想要了"}]}'.encode()


def sign_request(private_pem: str, **overrides) -> str:
    args = dict(
        method="POST",
        uri="/api/trade_basic/v1/developer/refund_create/",
        body=BODY,
        app_id="tt1234567890abcdef",
        key_version="2",
        private_key_pem=private_pem,
        timestamp=1700000000,
        nonce="a1b2c3",
    )
    args.update(overrides)
    return byte_authorization(**args)


def test_byte_authorization_header_has_the_documented_shape(keypair):
    header = sign_request(keypair[0])
    assert re.fullmatch(
        r'SHA256-RSA2048 appid="tt1234567890abcdef",nonce_str="a1b2c3",timestamp="1700000000",'
        r'key_version="2",signature="[A-Za-z0-9+/]+=*"',
        header,
    )


def test_byte_authorization_signs_the_five_line_string_with_pkcs1v15_sha256(keypair):
    header = sign_request(keypair[0], method="post")
    signature = base64.b64decode(parse_byte_authorization(header)["signature"])
    public_key = serialization.load_pem_public_key(keypair[1].encode())
    message = b"POST\n/api/trade_basic/v1/developer/refund_create/\n1700000000\na1b2c3\n" + BODY + b"\n"
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())  # raises if wrong


def test_byte_authorization_round_trips_through_verify(keypair):
    header = sign_request(keypair[0])
    assert verify_byte_authorization(
        header=header,
        method="POST",
        uri="/api/trade_basic/v1/developer/refund_create/",
        body=BODY,
        public_key_pem=keypair[1],
    )


def test_byte_authorization_gives_the_same_signature_for_pkcs1_and_pkcs8_keys(keypair):
    pkcs8, pkcs1 = keypair[0], pkcs1_private(keypair[0])
    assert "BEGIN PRIVATE KEY" in pkcs8 and "BEGIN RSA PRIVATE KEY" in pkcs1
    assert sign_request(pkcs8) == sign_request(pkcs1)


def test_byte_authorization_signs_an_empty_body_for_get(keypair):
    header = sign_request(keypair[0], method="GET", uri="/goodlife/v1/x/?a=1&b=2", body=b"")
    assert verify_byte_authorization(
        header=header, method="GET", uri="/goodlife/v1/x/?a=1&b=2", body=b"", public_key_pem=keypair[1]
    )
    assert not verify_byte_authorization(
        header=header, method="GET", uri="/goodlife/v1/x/", body=b"", public_key_pem=keypair[1]
    )


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY[:-2] + b"X}"},
        {"uri": "/api/trade_basic/v1/developer/refund_query/"},
        {"method": "PUT"},
    ],
    ids=["one body byte", "uri", "method"],
)
def test_verify_byte_authorization_rejects_a_changed_request(keypair, change):
    header = sign_request(keypair[0])
    request = dict(method="POST", uri="/api/trade_basic/v1/developer/refund_create/", body=BODY)
    request.update(change)
    assert not verify_byte_authorization(header=header, public_key_pem=keypair[1], **request)


@pytest.mark.parametrize(
    "old, new",
    [('timestamp="1700000000"', 'timestamp="1700000001"'), ('nonce_str="a1b2c3"', 'nonce_str="a1b2c4"')],
    ids=["timestamp", "nonce"],
)
def test_verify_byte_authorization_rejects_a_changed_header_field(keypair, old, new):
    header = sign_request(keypair[0]).replace(old, new)
    assert not verify_byte_authorization(
        header=header,
        method="POST",
        uri="/api/trade_basic/v1/developer/refund_create/",
        body=BODY,
        public_key_pem=keypair[1],
    )


def test_verify_byte_authorization_accepts_unquoted_values(keypair):
    header = sign_request(keypair[0]).replace('"', "")
    assert "appid=tt1234567890abcdef," in header
    assert verify_byte_authorization(
        header=header,
        method="POST",
        uri="/api/trade_basic/v1/developer/refund_create/",
        body=BODY,
        public_key_pem=keypair[1],
    )


def test_verify_byte_authorization_rejects_another_key(keypair, other_keypair):
    assert not verify_byte_authorization(
        header=sign_request(keypair[0]),
        method="POST",
        uri="/api/trade_basic/v1/developer/refund_create/",
        body=BODY,
        public_key_pem=other_keypair[1],
    )


def test_verify_byte_authorization_checks_freshness_only_when_given_now(keypair):
    request = dict(method="POST", uri="/api/trade_basic/v1/developer/refund_create/", body=BODY)
    header = sign_request(keypair[0])
    assert verify_byte_authorization(header=header, public_key_pem=keypair[1], now=1700003600, **request)
    assert not verify_byte_authorization(header=header, public_key_pem=keypair[1], now=1700003601, **request)


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", 'HMAC appid="x"', 'SHA256-RSA2048 appid="tt",nonce_str="n"', b"bytes"],
)
def test_verify_byte_authorization_returns_false_on_malformed_headers(keypair, header):
    assert (
        verify_byte_authorization(header=header, method="GET", uri="/", body=b"", public_key_pem=keypair[1])
        is False
    )


@settings(max_examples=200, deadline=None)
@given(header=st.text(), uri=st.text(), body=st.binary(), pem=st.text())
def test_verify_byte_authorization_never_raises(header, uri, body, pem):
    assert verify_byte_authorization(header=header, method="POST", uri=uri, body=body, public_key_pem=pem) is False


def test_parse_byte_authorization_keeps_base64_padding():
    fields = parse_byte_authorization(
        'SHA256-RSA2048 appid=tt1,nonce_str=n,timestamp=1,key_version=1,signature=YWJjZA=='
    )
    assert fields == {
        "appid": "tt1",
        "nonce_str": "n",
        "timestamp": "1",
        "key_version": "1",
        "signature": "YWJjZA==",
    }


# --- doc 1.4: trade callbacks --------------------------------------------------------------

CALLBACK_BODY = '{"version":"3.0","type":"payment","msg":"{\\"out_order_no\\":\\"o1\\",\\"status\\":\\"SUCCESS\\"}"}'.encode()


def test_callback_signature_round_trips(keypair):
    signature = sign_callback(private_key_pem=keypair[0], timestamp="1700000000", nonce="n0", body=CALLBACK_BODY)
    assert verify_callback(
        public_key_pem=keypair[1], timestamp="1700000000", nonce="n0", body=CALLBACK_BODY, signature=signature
    )


def test_callback_signature_is_over_timestamp_nonce_body_lines(keypair):
    signature = sign_callback(private_key_pem=keypair[0], timestamp="1700000000", nonce="n0", body=CALLBACK_BODY)
    public_key = serialization.load_pem_public_key(keypair[1].encode())
    public_key.verify(
        base64.b64decode(signature),
        b"1700000000\nn0\n" + CALLBACK_BODY + b"\n",
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_callback_signature_from_a_pkcs1_key_verifies(keypair):
    signature = sign_callback(
        private_key_pem=pkcs1_private(keypair[0]), timestamp="1", nonce="n", body=CALLBACK_BODY
    )
    assert verify_callback(public_key_pem=keypair[1], timestamp="1", nonce="n", body=CALLBACK_BODY, signature=signature)


@pytest.mark.parametrize(
    "change",
    [
        {"body": CALLBACK_BODY.replace(b"SUCCESS", b"SUCCESs")},
        {"body": CALLBACK_BODY + b" "},
        {"timestamp": "1700000001"},
        {"nonce": "n1"},
    ],
    ids=["one body byte", "trailing space", "timestamp", "nonce"],
)
def test_verify_callback_rejects_tampering(keypair, change):
    signature = sign_callback(private_key_pem=keypair[0], timestamp="1700000000", nonce="n0", body=CALLBACK_BODY)
    args = dict(timestamp="1700000000", nonce="n0", body=CALLBACK_BODY)
    args.update(change)
    assert not verify_callback(public_key_pem=keypair[1], signature=signature, **args)


def test_verify_callback_rejects_a_reserialised_body(keypair):
    body = b'{"version": "3.0", "type": "payment"}'
    signature = sign_callback(private_key_pem=keypair[0], timestamp="1", nonce="n", body=body)
    assert not verify_callback(
        public_key_pem=keypair[1], timestamp="1", nonce="n", body=b'{"version":"3.0","type":"payment"}', signature=signature
    )


@pytest.mark.parametrize(
    "override",
    [
        {"public_key_pem": "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----"},
        {"public_key_pem": "garbage"},
        {"public_key_pem": None},
        {"signature": "%%% not base64 %%%"},
        {"signature": base64.b64encode(b"short").decode()},
        {"signature": None},
        {"timestamp": None},
        {"nonce": None},
        {"body": None},
    ],
)
def test_verify_callback_returns_false_on_bad_input(keypair, override):
    signature = sign_callback(private_key_pem=keypair[0], timestamp="1", nonce="n", body=CALLBACK_BODY)
    args = dict(public_key_pem=keypair[1], timestamp="1", nonce="n", body=CALLBACK_BODY, signature=signature)
    assert verify_callback(**args) is True
    args.update(override)
    assert verify_callback(**args) is False


def test_verify_callback_rejects_another_platform_key(keypair, other_keypair):
    signature = sign_callback(private_key_pem=keypair[0], timestamp="1", nonce="n", body=CALLBACK_BODY)
    assert not verify_callback(
        public_key_pem=other_keypair[1], timestamp="1", nonce="n", body=CALLBACK_BODY, signature=signature
    )


# --- keys for the onboarding wizard -----------------------------------------------------------


def test_generate_rsa_keypair_gives_matching_2048_bit_pems(keypair):
    private_pem, public_pem = keypair
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert load_public_key_info(public_pem) == ("RSA", 2048)
    signature = sign_callback(private_key_pem=private_pem, timestamp="1", nonce="n", body=b"x")
    assert verify_callback(public_key_pem=public_pem, timestamp="1", nonce="n", body=b"x", signature=signature)


def test_generate_rsa_keypair_refuses_short_keys():
    with pytest.raises(ValueError):
        generate_rsa_keypair(1024)


def test_load_public_key_info_accepts_pkcs1_and_bare_base64(keypair):
    key = serialization.load_pem_public_key(keypair[1].encode())
    pkcs1 = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    assert "BEGIN RSA PUBLIC KEY" in pkcs1
    assert load_public_key_info(pkcs1) == ("RSA", 2048)
    bare = "".join(keypair[1].strip().splitlines()[1:-1])
    assert load_public_key_info(bare) == ("RSA", 2048)
    assert load_public_key_info("\r\n" + keypair[1].replace("\n", "\r\n")) == ("RSA", 2048)


def test_load_public_key_info_reports_bigger_keys():
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert load_public_key_info(pem) == ("RSA", 3072)


@pytest.mark.parametrize("text", ["", "hello", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
def test_load_public_key_info_rejects_non_pem(text):
    with pytest.raises(PublicKeyError) as raised:
        load_public_key_info(text)
    assert raised.value.reason == "not_pem"
    assert isinstance(raised.value, ValueError)


def test_load_public_key_info_rejects_a_private_key(keypair):
    with pytest.raises(PublicKeyError) as raised:
        load_public_key_info(keypair[0])
    assert raised.value.reason == "not_pem"


def test_load_public_key_info_rejects_non_rsa_keys():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(PublicKeyError, match="RSA") as raised:
        load_public_key_info(pem)
    assert raised.value.reason == "not_rsa"


def test_load_public_key_info_rejects_keys_under_2048_bits():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(PublicKeyError, match="1024") as raised:
        load_public_key_info(pem)
    assert raised.value.reason == "too_short"
