"""Douyin signature schemes as pure functions (docs/douyin-platform.md §1).

Every function here is deterministic given its inputs: no clock, no randomness except
`generate_rsa_keypair`. Verifiers return False on any bad input and never raise, so a
webhook view can call them on untrusted bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from functools import lru_cache
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "BYTE_AUTH_SCHEME",
    "PublicKeyError",
    "byte_authorization",
    "byte_authorization_message",
    "ecpay_callback_signature",
    "ecpay_sign",
    "generate_rsa_keypair",
    "load_public_key_info",
    "parse_byte_authorization",
    "request_order_authorization",
    "sign_callback",
    "verify_byte_authorization",
    "verify_callback",
    "webhook_signature",
]

BYTE_AUTH_SCHEME = "SHA256-RSA2048"
MIN_RSA_BITS = 2048

# Fields the ecpay v1 `sign` never covers (doc 1.5 step 1).
_ECPAY_SKIPPED = frozenset({"app_id", "thirdparty_id", "sign", "other_settle_params"})
_BYTE_AUTH_FIELDS = ("appid", "nonce_str", "timestamp", "key_version", "signature")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


class PublicKeyError(ValueError):
    """A pasted public key is unusable; `reason` is one of not_pem, not_rsa, too_short."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- keys --------------------------------------------------------------------------------


def generate_rsa_keypair(bits: int = 2048) -> tuple[str, str]:
    """Return (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM) for a new RSA key."""
    if bits < MIN_RSA_BITS:
        raise ValueError(f"RSA keys must be at least {MIN_RSA_BITS} bits")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def load_public_key_info(pem: str) -> tuple[str, int]:
    """Return ("RSA", bits) for a usable platform/app public key.

    Accepts SPKI (`BEGIN PUBLIC KEY`) and PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM, and the bare
    base64 body of an SPKI key as the Douyin console displays it. Raises PublicKeyError (a
    ValueError) for anything that is not such a key, not RSA, or under 2048 bits.
    """
    key = _parse_public_key(pem)
    if key is None:
        raise PublicKeyError("not_pem", "Not a PEM public key (expected -----BEGIN PUBLIC KEY-----).")
    if not isinstance(key, rsa.RSAPublicKey):
        raise PublicKeyError("not_rsa", "The key is not an RSA key; Douyin requires RSA-2048.")
    if key.key_size < MIN_RSA_BITS:
        raise PublicKeyError(
            "too_short", f"The RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required."
        )
    return "RSA", key.key_size


def _parse_public_key(pem: Any) -> Any:
    """Parse any public key (or None); never raises."""
    if isinstance(pem, bytes):
        try:
            pem = pem.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(pem, str) or not pem.strip():
        return None
    return _parse_public_key_cached(pem.strip())


@lru_cache(maxsize=64)
def _parse_public_key_cached(text: str) -> Any:
    match = _PEM_BLOCK.search(text)
    try:
        if match is None:
            der = base64.b64decode("".join(text.split()), validate=True)
            return serialization.load_der_public_key(der)
        if match.group(1) == "CERTIFICATE":
            return None
        return serialization.load_pem_public_key(match.group(0).encode("ascii"))
    except Exception:  # noqa: BLE001 - untrusted input: any parse failure means "no key"
        return None


@lru_cache(maxsize=32)
def _load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Load an unencrypted PKCS#1 or PKCS#8 RSA private key (cached: signing is per request)."""
    key = serialization.load_pem_private_key(pem.strip().encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("The private key is not an RSA key")
    return key


def _rsa_sign(private_key_pem: str, message: bytes) -> str:
    key = _load_private_key(private_key_pem)
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def _rsa_verify(public_key_pem: Any, message: bytes, signature_b64: Any) -> bool:
    key = _parse_public_key(public_key_pem)
    if not isinstance(key, rsa.RSAPublicKey) or not isinstance(signature_b64, (str, bytes)):
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return True


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("body must be bytes or str")


# --- Byte-Authorization (doc 1.2, 1.3) --------------------------------------------------------


def byte_authorization_message(
    *, method: str, uri: str, timestamp: int | str, nonce: str, body: bytes
) -> bytes:
    """The signed string: METHOD, URI (path + query), TIMESTAMP, NONCE, BODY, each + "\\n"."""
    head = f"{method.upper()}\n{uri}\n{timestamp}\n{nonce}\n".encode("utf-8")
    return head + _as_bytes(body) + b"\n"


def byte_authorization(
    *,
    method: str,
    uri: str,
    body: bytes,
    app_id: str,
    key_version: str,
    private_key_pem: str,
    timestamp: int,
    nonce: str,
) -> str:
    """The whole `Byte-Authorization` header value, values quoted as in the official curl.

    `body` must be the exact bytes sent (b"" for GET); `uri` is the path plus query string.
    """
    message = byte_authorization_message(
        method=method, uri=uri, timestamp=timestamp, nonce=nonce, body=body
    )
    signature = _rsa_sign(private_key_pem, message)
    return (
        f'{BYTE_AUTH_SCHEME} appid="{app_id}",nonce_str="{nonce}",timestamp="{timestamp}",'
        f'key_version="{key_version}",signature="{signature}"'
    )


REQUEST_ORDER_URI = "/requestOrder"


def request_order_authorization(
    *, data: str, app_id: str, key_version: str, private_key_pem: str, timestamp: int, nonce: str
) -> str:
    """The `byteAuthorization` argument of the mini-program's tt.requestOrder.

    Douyin signs it as a POST of `data` (the exact JSON string handed to tt.requestOrder) to the
    URI "/requestOrder", and the header's values are not quoted (likuisuper/pay-gateway
    douyinGeneralTrade.go RequestOrder/GetByteAuthorization; NinjaKanami/duanju-api DYSign.java).
    """
    message = byte_authorization_message(
        method="POST", uri=REQUEST_ORDER_URI, timestamp=timestamp, nonce=nonce, body=data.encode("utf-8")
    )
    signature = _rsa_sign(private_key_pem, message)
    return (
        f"{BYTE_AUTH_SCHEME} appid={app_id},nonce_str={nonce},timestamp={timestamp},"
        f"key_version={key_version},signature={signature}"
    )


def parse_byte_authorization(header: Any) -> dict[str, str] | None:
    """Split a Byte-Authorization value into its five fields (quoted or unquoted); None if malformed."""
    if not isinstance(header, str):
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme != BYTE_AUTH_SCHEME or not rest:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        fields[name.strip()] = value
    if any(not fields.get(name) for name in _BYTE_AUTH_FIELDS):
        return None
    return fields


def verify_byte_authorization(
    *,
    header: str,
    method: str,
    uri: str,
    body: bytes,
    public_key_pem: str,
    now: int | None = None,
    max_age: int = 3600,
) -> bool:
    """True if `header` signs this exact request with the key matching `public_key_pem`.

    With `now` given, a timestamp more than `max_age` seconds away is also rejected (the
    freshness window is unverified upstream, doc 1.2). Never raises.
    """
    try:
        fields = parse_byte_authorization(header)
        if fields is None or not isinstance(method, str) or not isinstance(uri, str):
            return False
        if now is not None:
            if not fields["timestamp"].isdigit() or abs(int(fields["timestamp"]) - now) > max_age:
                return False
        message = byte_authorization_message(
            method=method,
            uri=uri,
            timestamp=fields["timestamp"],
            nonce=fields["nonce_str"],
            body=body,
        )
    except (TypeError, ValueError):
        return False
    return _rsa_verify(public_key_pem, message, fields["signature"])


# --- trade-system callbacks (doc 1.4) -----------------------------------------------------


def _callback_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode("utf-8") + _as_bytes(body) + b"\n"


def sign_callback(*, private_key_pem: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Base64 SHA256withRSA over "TIMESTAMP\\nNONCE\\nBODY\\n" (what Douyin puts in Byte-Signature)."""
    return _rsa_sign(private_key_pem, _callback_message(str(timestamp), nonce, body))


def verify_callback(
    *, public_key_pem: str, timestamp: str, nonce: str, body: bytes, signature: str
) -> bool:
    """True if Byte-Signature matches the raw body under the platform public key; never raises."""
    if not isinstance(timestamp, (str, int)) or not isinstance(nonce, str):
        return False
    try:
        message = _callback_message(str(timestamp), nonce, body)
    except (TypeError, UnicodeEncodeError):
        return False
    return _rsa_verify(public_key_pem, message, signature)


# --- legacy ecpay v1 (doc 1.5, 1.6) ----------------------------------------------------------


def _ecpay_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text


def ecpay_sign(params: Mapping[str, Any], salt: str) -> str:
    """Legacy ecpay `sign`: MD5 of the sorted non-empty values plus SALT, joined by "&".

    app_id, thirdparty_id, sign and other_settle_params are skipped; None, "" and "null" are
    dropped; 0 is kept; objects and arrays count as their compact JSON text.
    """
    values = [salt]
    for key, value in params.items():
        if key in _ECPAY_SKIPPED or value is None:
            continue
        text = _ecpay_value(value)
        if text and text != "null":
            values.append(text)
    values.sort(key=lambda v: v.encode("utf-8"))
    return hashlib.md5("&".join(values).encode("utf-8")).hexdigest()


def ecpay_callback_signature(*, token: str, timestamp: str, nonce: str, msg: str) -> str:
    """Legacy ecpay callback `msg_signature`: SHA1 of sorted [token, timestamp, nonce, msg], no separator."""
    parts = sorted((str(token), str(timestamp), str(nonce), msg), key=lambda v: v.encode("utf-8"))
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


# --- open-platform webhooks (doc 1.7) ------------------------------------------------------


def webhook_signature(client_secret: str, body: bytes) -> str:
    """`X-Douyin-Signature`: hex SHA1 of client_secret followed by the raw body."""
    return hashlib.sha1(client_secret.encode("utf-8") + _as_bytes(body)).hexdigest()
