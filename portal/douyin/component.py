"""The third-party platform (服务商, "component") side of Douyin: its own token, the authorization
of a merchant's mini-program, and the encrypted pushes it receives.

References (fixtures component_token, tpapp_auth_*, component_event_*): SK's ExtendedSDK/OpenApi
(`DouyinMicroAppOpenApiClientExecuteTpAppAuthExtensions`, Models/TpAppAuth, Events/Auth and its
`DyMsgCryptor`). The platform pushes a `component_ticket` every few minutes; with it and the
platform's AppID and AppSecret the component_access_token is fetched. A merchant authorizes the
platform on Douyin's page (the link from `auth_link`); the authorization code it yields is
exchanged for the mini-program's authorizer access token and refresh token (`auth_token`).

Pushes arrive as JSON `{Encrypt, TimeStamp, Nonce, MsgSignature}`: the signature is the lower-case
hex SHA-1 of the four strings (push token, TimeStamp, Nonce, Encrypt) sorted and joined; Encrypt is
base64 AES-256-CBC (key = base64 of EncodingAESKey + "=", IV = its first 16 bytes) of 32 random
bytes, the message length (4 bytes, big-endian), the message and the platform's AppID, padded to
a multiple of 32 bytes (PKCS#7 style).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import replies
from .client import ClientToken, DouyinClient, DouyinCredentials, Family
from .errors import DouyinConfigError

__all__ = [
    "AUTH_CODE_GRANT",
    "ComponentClient",
    "ComponentCredentials",
    "EventError",
    "REFRESH_GRANT",
    "decrypt_event",
    "encrypt_event",
    "event_signature",
]

AUTH_CODE_GRANT = "app_to_tp_authorization_code"
REFRESH_GRANT = "app_to_tp_refresh_token"
RANDOM_PREFIX = 32
BLOCK = 32


@dataclass(frozen=True)
class ComponentCredentials:
    """The third-party platform's own keys (Douyin Open Platform › 第三方小程序应用 › 开发设置)."""

    component_appid: str
    component_appsecret: str = field(repr=False)
    push_token: str = field(default="", repr=False)
    encoding_aes_key: str = field(default="", repr=False)


class EventError(ValueError):
    """A push that is not signed with our push token, or does not decrypt."""


def event_signature(push_token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([push_token, timestamp, nonce, encrypted])).encode()).hexdigest()


def _key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except ValueError as exc:
        raise DouyinConfigError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise DouyinConfigError("EncodingAESKey must be 43 characters (32 bytes)")
    return key


def decrypt_event(credentials: ComponentCredentials, envelope: Any) -> dict:
    """Verify and open one push; raises EventError when it is not ours or not readable."""
    if not isinstance(envelope, dict):
        raise EventError("push is not a JSON object")
    try:
        encrypted, timestamp, nonce, signature = (str(envelope[k]) for k in ("Encrypt", "TimeStamp", "Nonce", "MsgSignature"))
    except KeyError as exc:
        raise EventError(f"push lacks {exc}") from exc
    expected = event_signature(credentials.push_token, timestamp, nonce, encrypted)
    if not hmac.compare_digest(expected, signature.lower()):
        raise EventError("signature does not match")
    key = _key(credentials.encoding_aes_key)
    try:
        cipher = base64.b64decode(encrypted)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(cipher) + decryptor.finalize()
        pad = plain[-1]
        if 1 <= pad <= BLOCK:
            plain = plain[:-pad]
        length = int.from_bytes(plain[RANDOM_PREFIX:RANDOM_PREFIX + 4], "big")
        message = plain[RANDOM_PREFIX + 4:RANDOM_PREFIX + 4 + length]
        appid = plain[RANDOM_PREFIX + 4 + length:].decode()
        event = json.loads(message.decode())
    except (ValueError, IndexError) as exc:
        raise EventError("push does not decrypt") from exc
    if appid != credentials.component_appid or not isinstance(event, dict):
        raise EventError("push is for another platform")
    return event


def encrypt_event(credentials: ComponentCredentials, event: dict, *, timestamp: str, nonce: str | None = None) -> dict:
    """The push envelope of `event` (the inverse of `decrypt_event`; for tests and replays)."""
    key = _key(credentials.encoding_aes_key)
    message = json.dumps(event, ensure_ascii=False).encode()
    plain = secrets.token_bytes(RANDOM_PREFIX) + len(message).to_bytes(4, "big") + message + credentials.component_appid.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypted = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    nonce = nonce or secrets.token_hex(8)
    return {"Encrypt": encrypted, "TimeStamp": timestamp, "Nonce": nonce,
            "MsgSignature": event_signature(credentials.push_token, timestamp, nonce, encrypted)}


class ComponentClient(DouyinClient):
    """Calls the third-party platform makes as itself: every call but the token fetch carries the
    component_access_token, cached (key `component:<appid>`) and refreshed 5 minutes early or when
    Douyin refuses it. `ticket()` returns the latest pushed component_ticket (None: none yet)."""

    def __init__(self, component: ComponentCredentials, *, ticket: Callable[[], str | None], **options) -> None:
        super().__init__(DouyinCredentials(app_id=component.component_appid, app_secret=component.component_appsecret), **options)
        self.component = component
        self._ticket = ticket

    @property
    def _token_key(self) -> str:
        return "component:" + self.component.component_appid

    def _fetch_token(self) -> ClientToken:
        return self.fetch_component_token()

    def fetch_component_token(self) -> ClientToken:
        """GET /openapi/v2/auth/token: a component_access_token from the latest pushed ticket."""
        ticket = self._ticket()
        if not ticket:
            raise DouyinConfigError("No component_ticket has been pushed yet")
        data = self.request(
            "GET", "/openapi/v2/auth/token", family=Family.TRADE_BASIC, idempotent=True, auth=False,
            shape=replies.COMPONENT_TOKEN, limit_group="component_token",
            params={"component_appid": self.component.component_appid,
                    "component_appsecret": self.component.component_appsecret,
                    "component_ticket": ticket},
        )
        token = ClientToken(data["component_access_token"], self._now() + float(data["expires_in"]))
        self.token_cache.set(self._token_key, token.access_token, token.expires_at)
        return token

    def auth_link(self, *, redirect_uri: str, link_type: int = 1) -> str:
        """POST /api/tpapp/v3/auth/gen_link: the page where a merchant picks its mini-program and
        authorizes this platform; the browser comes back to `redirect_uri`."""
        data = self.request("POST", "/api/tpapp/v3/auth/gen_link", family=Family.TRADE_BASIC, idempotent=True,
                            shape=replies.TPAPP_AUTH_LINK, body={"link_type": link_type, "redirect_uri": redirect_uri})
        return str(data["link"])

    def auth_token(self, *, authorization_code: str | None = None, refresh_token: str | None = None) -> dict:
        """GET /api/tpapp/v2/auth/get_auth_token: the authorizer's tokens, from an authorization
        code (grant app_to_tp_authorization_code) or a refresh token (app_to_tp_refresh_token).
        A code works once, so the code exchange is never retried."""
        if bool(authorization_code) == bool(refresh_token):
            raise ValueError("pass exactly one of authorization_code, refresh_token")
        params = ({"grant_type": AUTH_CODE_GRANT, "authorization_code": authorization_code} if authorization_code
                  else {"grant_type": REFRESH_GRANT, "authorizer_refresh_token": refresh_token})
        return self.request("GET", "/api/tpapp/v2/auth/get_auth_token", family=Family.TRADE_BASIC,
                            idempotent=refresh_token is not None, shape=replies.TPAPP_AUTH_TOKEN, params=params)

    def retrieve_auth_code(self, authorizer_appid: str) -> dict:
        """POST /api/tpapp/v2/auth/retrieve_auth_code: a new authorization code for an app that
        has authorized this platform (when the first one was lost)."""
        return self.request("POST", "/api/tpapp/v2/auth/retrieve_auth_code", family=Family.TRADE_BASIC,
                            idempotent=True, shape=replies.TPAPP_AUTH_CODE, body={"authorization_appid": authorizer_appid})

