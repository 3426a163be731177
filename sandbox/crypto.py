"""Signatures as Douyin computes them (douyin-platform.md §1.2, §1.4, §1.7).

Independent of portal/ on purpose: interop tests compare two implementations.
"""
from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BYTE_AUTH_SCHEME = "SHA256-RSA2048"


class KeyError_(ValueError):
    """A PEM that is not a usable RSA-2048 key."""


def generate_keypair() -> tuple[str, str]:
    """Return (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM) of a fresh RSA-2048 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def normalize_public_key(text: str) -> str:
    """Validate an uploaded app public key and return it as SubjectPublicKeyInfo PEM.

    Accepts PKCS#1 or SPKI PEM, or the bare base64 body the Douyin console also takes.
    Raises KeyError_ when it is not an RSA key of 2048 bits.
    """
    text = (text or "").strip()
    if not text:
        raise KeyError_("公钥为空")
    if "-----BEGIN" not in text:
        body = re.sub(r"\s+", "", text)
        text = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(
            body[i:i + 64] for i in range(0, len(body), 64)
        ) + "\n-----END PUBLIC KEY-----\n"
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise KeyError_("无法解析 PEM 公钥") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyError_("公钥必须是 RSA 公钥")
    if key.key_size != 2048:
        raise KeyError_(f"公钥必须是 RSA-2048（收到 {key.key_size} 位）")
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _load_private(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def rsa_sign(private_pem: str, message: bytes) -> str:
    """Base64 RSASSA-PKCS1-v1_5 / SHA-256 signature."""
    sig = _load_private(private_pem).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def rsa_verify(public_pem: str, message: bytes, signature_b64: str) -> bool:
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        key.verify(base64.b64decode(signature_b64, validate=True), message,
                   padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def request_string(method: str, uri: str, timestamp: str, nonce: str, body: bytes | str) -> bytes:
    """METHOD\\nURI\\nTIMESTAMP\\nNONCE\\nBODY\\n, URI being path plus query string."""
    if isinstance(body, str):
        body = body.encode()
    head = f"{method.upper()}\n{uri}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def byte_authorization(appid: str, private_pem: str, method: str, uri: str, body: bytes | str,
                       timestamp: str, nonce: str, key_version: str = "1") -> str:
    """The Byte-Authorization header value, with quoted values as in the official curl."""
    sig = rsa_sign(private_pem, request_string(method, uri, timestamp, nonce, body))
    return (f'{BYTE_AUTH_SCHEME} appid="{appid}",nonce_str="{nonce}",timestamp="{timestamp}",'
            f'key_version="{key_version}",signature="{sig}"')


_PAIR = re.compile(r'\s*([a-z_]+)\s*=\s*("([^"]*)"|[^,]*)\s*(?:,|$)')


def parse_byte_authorization(header: str) -> dict | None:
    """Parse the header; values may be quoted or not (§1.3). None when malformed."""
    if not header:
        return None
    header = header.strip()
    if not header.startswith(BYTE_AUTH_SCHEME + " "):
        return None
    rest = header[len(BYTE_AUTH_SCHEME) + 1:]
    out: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PAIR.match(rest, pos)
        if not m or m.end() == pos:
            return None
        out[m.group(1)] = m.group(3) if m.group(3) is not None else m.group(2).strip()
        pos = m.end()
    needed = {"appid", "nonce_str", "timestamp", "signature"}
    return out if needed <= out.keys() else None


def callback_string(timestamp: str, nonce: str, body: bytes | str) -> bytes:
    """TIMESTAMP\\nNONCE\\nRAW_BODY\\n (§1.4)."""
    if isinstance(body, str):
        body = body.encode()
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign_callback(platform_private_pem: str, timestamp: str, nonce: str, body: bytes) -> str:
    return rsa_sign(platform_private_pem, callback_string(timestamp, nonce, body))


def verify_callback(platform_public_pem: str, timestamp: str, nonce: str, body: bytes,
                    signature: str) -> bool:
    return rsa_verify(platform_public_pem, callback_string(timestamp, nonce, body), signature)


def webhook_signature(client_secret: str, raw_body: bytes) -> str:
    """X-Douyin-Signature: hex SHA1(client_secret + raw body) (§1.7)."""
    return hashlib.sha1(client_secret.encode() + raw_body).hexdigest()
