"""The one HTTP client for Douyin (DESIGN.md "Douyin, inbound and outbound").

Rules every call follows:
- a (connect, read) timeout; a client_token from the cache, refreshed 5 minutes before it
  expires and once more when Douyin says it is invalid (2190002, 2190008, 10008);
- JSON bodies serialised once (compact, UTF-8, ensure_ascii=False) and sent as those bytes;
  legacy calls carry a Byte-Authorization signed over exactly those bytes and the path + query
  actually sent (trade_basic is authorised by the access-token alone, as every reference shows);
- every reply goes through `parse_envelope`, so errors are `DouyinError`s with code and log id;
- retries (exponential backoff, full jitter, Retry-After on 429) only for idempotent calls:
  a call that may create something twice is retried only when the caller gave its key.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlencode

import requests

from .errors import (
    TOKEN_ERROR_CODES,
    DouyinAuthError,
    DouyinConfigError,
    DouyinError,
    DouyinRateLimited,
    DouyinUnavailable,
    parse_envelope,
)
from .ratelimit import RateLimiter, shared_limiter
from . import replies
from .shapes import Shape, read
from .signing import byte_authorization
from .tokens import MemoryTokenCache, TokenCache
from portal.ops.context import current_request_id
from portal.ops.metrics import observe_douyin_call

__all__ = ["ClientToken", "DouyinClient", "DouyinCredentials", "Family", "encode_body"]

log = logging.getLogger(__name__)

Data = dict[str, Any]

TOKEN_REFRESH_MARGIN = 300  # seconds before expiry at which a cached token is replaced
ONLINE_PAGE_MAX = 50
DRAFT_GET_MAX = 10
POI_PAGE_SIZE = 50
LEDGER_PAGE_MAX = 50


class Family(enum.StrEnum):
    """API families: they differ in host, auth headers and envelope (doc §2)."""

    OAUTH = "oauth"  # /oauth/client_token/: no token, client_token envelope
    GOODLIFE = "goodlife"  # goodlife, trade v2 and the chosen /api/apps/v1 endpoints
    TRADE_BASIC = "trade_basic"  # access-token, err_no envelope
    LEGACY = "legacy"  # developer.toutiao.com: Byte-Authorization only, err_no/err_tips


_SIGNED_FAMILIES = frozenset({Family.LEGACY})


@dataclass(frozen=True)
class DouyinCredentials:
    """One merchant's mini-program credentials; secrets stay out of repr."""

    app_id: str
    app_secret: str = field(repr=False)
    account_id: str | None = None
    private_key_pem: str | None = field(default=None, repr=False)
    key_version: str = "1"
    platform_public_key_pem: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ClientToken:
    access_token: str
    expires_at: float


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent for a JSON body: compact, ensure_ascii=False, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _compact(values: Mapping[str, Any]) -> Data:
    return {k: v for k, v in values.items() if v is not None}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _one_of(**options: Any) -> None:
    given = [name for name, value in options.items() if value not in (None, "", [], ())]
    if len(given) != 1:
        raise ValueError(f"pass exactly one of {', '.join(options)}")


def _require(name: str, value: Any) -> None:
    if value in (None, "", [], ()):
        raise ValueError(f"{name} is required")


TOKEN_LOCK_WAIT_SECONDS = 60  # the most a caller waits on another thread's token fetch
_token_locks: dict[str, threading.Lock] = {}
_token_locks_guard = threading.Lock()


def _token_lock(app_id: str) -> threading.Lock:
    # One refresh at a time per app in this process: each fetch shortens the life of the last token.
    with _token_locks_guard:
        return _token_locks.setdefault(app_id, threading.Lock())


class DouyinClient:
    """Typed access to the Douyin endpoints the portal uses (contracts: tests/contracts/).

    Methods return the reply's `data` dict and raise `DouyinError` (or a subclass).
    """

    def __init__(
        self,
        credentials: DouyinCredentials,
        *,
        base_url: str,
        legacy_base_url: str | None = None,
        token_cache: TokenCache | None = None,
        timeout: float | tuple[float, float] = (3.05, 10),
        max_retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        rng: random.Random | None = None,
        authorizer_token: Callable[[str | None], str] | None = None,
    ) -> None:
        self.credentials = credentials
        # The mini-program's authorizer access token, held by the third-party platform it
        # authorized: `authorizer_token(stale)` returns a valid one, never `stale` again.
        self.authorizer_token = authorizer_token
        self.base_url = base_url.rstrip("/")
        self.legacy_base_url = (legacy_base_url or base_url).rstrip("/")
        self.token_cache: TokenCache = token_cache if token_cache is not None else MemoryTokenCache()
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.session = session if session is not None else requests.Session()
        self.rate_limiter: RateLimiter = rate_limiter if rate_limiter is not None else shared_limiter()
        self._sleep = sleep
        self._now = now
        self._rng = rng if rng is not None else random.Random()

    # --- plumbing ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        family: Family = Family.GOODLIFE,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
        limit_group: str | None = None,
        shape: Shape | None = None,
        authorizer: bool = False,
    ) -> Data:
        """Call any endpoint under the client's rules; the typed methods below all use this.

        `authorizer=True` sends the mini-program's authorizer access token (third-party platform
        APIs) instead of its client_token; a token error asks the provider for a fresh one.

        `idempotent=True` allows retries on retryable failures; a token error is always
        retried once with a fresh token, since Douyin refused the call before acting on it.
        With `shape`, the reply's data is checked against it and returned as a `Record`
        (DouyinContractError when a required field is missing or a type differs).
        """
        method = method.upper()
        payload = None if body is None else encode_body(body)
        query = None if not params else {k: _query_value(v) for k, v in params.items() if v is not None}
        use_token = auth and family is not Family.OAUTH and family is not Family.LEGACY
        attempt = 0
        token_refreshed = False
        stale_authorizer: str | None = None
        while True:
            if not use_token:
                token = None
            elif authorizer:
                token = self._authorizer_access_token(stale_authorizer)
            else:
                token = self._access_token()
            try:
                if limit_group is not None:
                    self.rate_limiter.acquire(self.credentials.app_id, limit_group)
                data = self._observed_send(method, path, family, query, payload, token)
                return data if shape is None else read(shape, data)
            except DouyinAuthError as exc:
                if not (use_token and exc.code in TOKEN_ERROR_CODES and not token_refreshed):
                    raise
                token_refreshed = True
                log.info("douyin %s %s: token refused (%s), refreshing", method, path, exc)
                if authorizer:
                    stale_authorizer = token
                else:
                    self._access_token(stale=token)
            except DouyinError as exc:
                if not (idempotent and exc.retryable) or attempt >= self.max_retries:
                    raise
                delay = self._retry_delay(attempt, exc)
                if delay is None:
                    raise
                attempt += 1
                log.warning(
                    "douyin %s %s failed (%s); retry %d/%d in %.2fs",
                    method, path, exc, attempt, self.max_retries, delay,
                )
                self._sleep(delay)

    def _retry_delay(self, attempt: int, exc: DouyinError) -> float | None:
        """Retry-After when Douyin sent one (None if it is longer than we wait), else full jitter."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self._rng.uniform(0.0, min(self.max_backoff, self.backoff * 2**attempt))

    def _observed_send(self, method: str, path: str, *args) -> Data:
        """`_send`, counted and timed per API and outcome (portal_douyin_calls), and logged with
        the request id that led to it."""
        started = time.perf_counter()
        try:
            data = self._send(method, path, *args)
        except DouyinError as exc:
            outcome = observe_douyin_call(path, started, exc)
            log.info("douyin %s %s: %s (%s)", method, path, outcome, exc, extra={"douyin_api": path, "outcome": outcome, "log_id": exc.log_id})
            raise
        outcome = observe_douyin_call(path, started, None)
        log.info("douyin %s %s: ok", method, path, extra={"douyin_api": path, "outcome": outcome})
        return data

    def _send(
        self,
        method: str,
        path: str,
        family: Family,
        query: Mapping[str, str] | None,
        payload: bytes | None,
        token: str | None,
    ) -> Data:
        base = self.legacy_base_url if family is Family.LEGACY else self.base_url
        url = base + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if token is not None:
            headers["access-token"] = token
        if request_id := current_request_id():
            headers["X-Request-ID"] = request_id  # for the other side's logs; Douyin ignores it
        prepared = self.session.prepare_request(
            requests.Request(method, url, data=payload, headers=headers)
        )
        if family in _SIGNED_FAMILIES:
            prepared.headers["Byte-Authorization"] = self._byte_authorization(
                method, prepared.path_url, payload or b""
            )
        settings = self.session.merge_environment_settings(prepared.url, {}, None, None, None)
        try:
            response = self.session.send(
                prepared, timeout=self.timeout, allow_redirects=False, **settings
            )
        except requests.Timeout as exc:
            raise DouyinUnavailable(None, f"Douyin timed out: {exc}") from exc
        except requests.ConnectionError as exc:
            raise DouyinUnavailable(None, f"Cannot reach Douyin: {exc}") from exc
        except requests.RequestException as exc:
            raise DouyinError(None, f"Bad request to Douyin: {exc}") from exc
        return self._interpret(response)

    def _byte_authorization(self, method: str, uri: str, payload: bytes) -> str:
        creds = self.credentials
        if not creds.private_key_pem:
            raise DouyinConfigError("This call needs the app private key (Byte-Authorization)")
        return byte_authorization(
            method=method,
            uri=uri,
            body=payload,
            app_id=creds.app_id,
            key_version=creds.key_version,
            private_key_pem=creds.private_key_pem,
            timestamp=int(self._now()),
            nonce=secrets.token_hex(16),
        )

    def _interpret(self, response: requests.Response) -> Data:
        """Map one HTTP response to data or a DouyinError (429 and 5xx are retryable)."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        header_log_id = response.headers.get("x-tt-logid")
        log_id = _body_log_id(body) or header_log_id
        if status == 429:
            raise DouyinRateLimited(
                429,
                "Douyin rate limit (HTTP 429)",
                log_id,
                retry_after=self._parse_retry_after(response.headers.get("Retry-After")),
                http_status=429,
            )
        if status >= 500:
            raise DouyinUnavailable(status, f"Douyin HTTP {status}", log_id, http_status=status)
        if body is None:
            raise DouyinError(status, f"Douyin HTTP {status} with a non-JSON body", log_id, http_status=status)
        data = parse_envelope(body, header_log_id=header_log_id, http_status=status)
        if status >= 400:
            error_class = DouyinAuthError if status in (401, 403) else DouyinError
            raise error_class(status, f"Douyin HTTP {status}", log_id, http_status=status)
        return data

    def _parse_retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - self._now())
        except (TypeError, ValueError, IndexError):
            return None

    # --- client_token ----------------------------------------------------------------------

    @property
    def _token_key(self) -> str:
        """The token cache key (and lock) of the token this client calls with."""
        return self.credentials.app_id

    def _fetch_token(self) -> ClientToken:
        """Fetch the token this client calls with and store it in the cache under `_token_key`."""
        return self.fetch_client_token()

    def _access_token(self, *, stale: str | None = None) -> str:
        """A cached token valid for 5 more minutes, else a fresh one (never `stale` again)."""
        key = self._token_key
        cached = self._usable(self.token_cache.get(key), stale)
        if cached is not None:
            return cached
        lock = _token_lock(key)
        # The holder is fetching a token under the client's own timeouts; waiting much longer
        # than those means something is wrong, and the caller gets an error, not a hang.
        if not lock.acquire(timeout=TOKEN_LOCK_WAIT_SECONDS):
            raise DouyinUnavailable(None, "another thread has been fetching the access token for too long")
        try:
            # Another thread (or process, via Redis) may have refreshed while we waited.
            cached = self._usable(self.token_cache.get(key), stale)
            if cached is not None:
                return cached
            return self._fetch_token().access_token
        finally:
            lock.release()

    def _authorizer_access_token(self, stale: str | None) -> str:
        if self.authorizer_token is None:
            raise DouyinConfigError("This call needs the mini-program's authorization (authorizer access token)")
        return self.authorizer_token(stale)

    def _usable(self, entry: tuple[str, float] | None, stale: str | None) -> str | None:
        if entry is None:
            return None
        token, expires_at = entry
        if token == stale or expires_at - self._now() <= TOKEN_REFRESH_MARGIN:
            return None
        return token

    def fetch_client_token(self) -> ClientToken:
        """POST /oauth/client_token/: fetch a new client_token and store it in the cache.

        Each fetch starts the 5-minute grace of the previous token, so prefer the cached one;
        limited to 500 calls per 5 minutes per app (10020).
        """
        data = self.request(
            "POST",
            "/oauth/client_token/",
            family=Family.OAUTH,
            idempotent=True,
            limit_group="client_token",
            shape=replies.CLIENT_TOKEN,
            body={
                "client_key": self.credentials.app_id,
                "client_secret": self.credentials.app_secret,
                "grant_type": "client_credential",
            },
        )
        token = ClientToken(data["access_token"], self._now() + float(data["expires_in"]))
        self.token_cache.set(self.credentials.app_id, token.access_token, token.expires_at)
        return token

    # --- account and app ----------------------------------------------------------------

    def _account(self, account_id: str | None) -> str:
        account = account_id or self.credentials.account_id
        if not account:
            raise DouyinConfigError("This call needs the Laike account_id")
        return account

    def basic_info(self) -> Data:
        """GET /api/apps/v2/basic_info/get_info/: the mini-program's app_id, app_name, app_state and
        subject_audit_info{subject_name, subject_type}, read with its authorizer token. Read-only."""
        return self.request("GET", "/api/apps/v2/basic_info/get_info/", family=Family.TRADE_BASIC,
                            idempotent=True, shape=replies.BASIC_INFO, authorizer=True)

    # --- goods library ------------------------------------------------------------------

    def goods_category(self, category_id: str | int | None = None, *, account_id: str | None = None) -> Data:
        """GET /goodlife/v1/goods/category/get/: data.category_infos, the children of `category_id`
        (omitted = top level)."""
        return self.request(
            "GET", "/goodlife/v1/goods/category/get/", idempotent=True, shape=replies.GOODS_CATEGORY,
            params={"account_id": self._account(account_id), "category_id": category_id},
        )

    def goods_template(self, *, product_type: int, category_id: int) -> Data:
        """GET /goodlife/v1/goods/template/get/: the attribute keys (product_attrs, sku_attrs) a
        product of this type and category may carry in its attr_key_value_map."""
        return self.request(
            "GET", "/goodlife/v1/goods/template/get/", idempotent=True, shape=replies.GOODS_TEMPLATE,
            params={"product_type": int(product_type), "category_id": int(category_id)},
        )

    def goods_save(
        self, product: Mapping[str, Any], sku: Mapping[str, Any], *, account_id: str | None = None
    ) -> Data:
        """POST /goodlife/v1/goods/product/save/: create or update and send to review; data.product_id.

        `product` and `sku` are sent as given (attr_key_value_map values are strings, JSON-encoded
        where structured). Idempotent (retried) only when product.out_id is set: Douyin upserts on it.
        """
        return self.request(
            "POST", "/goodlife/v1/goods/product/save/",
            idempotent=bool(product.get("out_id")), shape=replies.GOODS_SAVE,
            body={"account_id": self._account(account_id), "product": dict(product), "sku": dict(sku)},
        )

    def goods_operate(
        self,
        *,
        online: bool,
        product_id: str | None = None,
        out_id: str | None = None,
        account_id: str | None = None,
    ) -> Data:
        """POST /goodlife/v1/goods/product/operate/: op_type 1 puts online, 2 takes offline (idempotent)."""
        _one_of(product_id=product_id, out_id=out_id)
        return self.request(
            "POST", "/goodlife/v1/goods/product/operate/", idempotent=True, shape=replies.GOODS_OPERATE,
            body=_compact({
                "account_id": self._account(account_id),
                "product_id": product_id,
                "out_id": out_id,
                "op_type": 1 if online else 2,
            }),
        )

    def draft_query(
        self,
        *,
        cursor: str | None = None,
        count: int | None = None,
        status: int | None = None,
        account_id: str | None = None,
    ) -> Data:
        """GET /goodlife/v1/goods/product/draft/query/: drafts by review status (10, 12, 1/11, 20…)."""
        return self.request(
            "GET", "/goodlife/v1/goods/product/draft/query/", idempotent=True, shape=replies.GOODS_DRAFT_QUERY,
            params={"account_id": self._account(account_id), "cursor": cursor, "count": count, "status": status},
        )

    def draft_get(
        self,
        product_ids: Sequence[str] = (),
        *,
        out_ids: Sequence[str] = (),
        account_id: str | None = None,
    ) -> Data:
        """GET /goodlife/v1/goods/product/draft/get/: up to 10 drafts by product_ids or out_ids.

        data.product_drafts[]{draft_status, audit_msg, product, sku}.
        """
        _one_of(product_ids=product_ids, out_ids=out_ids)
        if len(product_ids or out_ids) > DRAFT_GET_MAX:
            raise ValueError(f"draft_get takes at most {DRAFT_GET_MAX} ids")
        return self.request(
            "GET", "/goodlife/v1/goods/product/draft/get/", idempotent=True, shape=replies.GOODS_DRAFT_GET,
            params={
                "account_id": self._account(account_id),
                "product_ids": list(product_ids) or None,
                "out_ids": list(out_ids) or None,
            },
        )

    def online_query(
        self, *, cursor: str | None = None, count: int = ONLINE_PAGE_MAX, account_id: str | None = None
    ) -> Data:
        """GET /goodlife/v1/goods/product/online/query/: one page (count 1..50) of online products.

        data{products:[{online_status, product{…, update_time}, sku{…, update_time}}], next_cursor, has_more}:
        an entry has no review state (that is draft/get's).
        """
        if not 1 <= count <= ONLINE_PAGE_MAX:
            raise ValueError(f"count must be between 1 and {ONLINE_PAGE_MAX}")
        return self.request(
            "GET", "/goodlife/v1/goods/product/online/query/", idempotent=True, shape=replies.GOODS_ONLINE_QUERY,
            params={"account_id": self._account(account_id), "cursor": cursor, "count": count},
        )

    def iter_online_products(
        self, page_size: int = ONLINE_PAGE_MAX, *, account_id: str | None = None
    ) -> Iterator[Data]:
        """Yield every online product entry, following next_cursor while has_more is true.

        Raises DouyinError if Douyin returns has_more with a cursor that does not advance.
        """
        cursor: str | None = None
        while True:
            page = self.online_query(cursor=cursor, count=page_size, account_id=account_id)
            yield from page["products"]
            next_cursor = page.get("next_cursor")
            if not page["has_more"] or next_cursor in (None, ""):
                return
            if str(next_cursor) == cursor:
                raise DouyinError(None, f"online/query returned the same cursor {cursor!r} again")
            cursor = str(next_cursor)

    # --- stores ------------------------------------------------------------------------------

    def poi_query(self, *, page: int = 1, size: int = POI_PAGE_SIZE, account_id: str | None = None) -> Data:
        """GET /goodlife/v1/shop/poi/query/: one page of the account's stores.

        data{pois:[{poi{poi_id, poi_name, …}, account{poi_account, parent_account}}], total}.
        """
        return self.request(
            "GET", "/goodlife/v1/shop/poi/query/", idempotent=True, shape=replies.SHOP_POI_QUERY,
            params={"account_id": self._account(account_id), "page": page, "size": size},
        )

    def iter_pois(self, *, account_id: str | None = None, size: int = POI_PAGE_SIZE) -> Iterator[Data]:
        """Yield every store entry of the account, page by page until `total` is reached.

        Douyin has no look-up by poi_id: finding one store means paging through these.
        """
        page = 1
        seen = 0
        while True:
            data = self.poi_query(page=page, size=size, account_id=account_id)
            yield from data["pois"]
            seen += len(data["pois"])
            if not data["pois"] or seen >= data["total"]:
                return
            page += 1

    # --- store pages (POI supplier sync) --------------------------------------------------

    def supplier_sync(
        self, *, poi_id: str, name: str, supplier_ext_id: str, address: str | None = None,
        contact_phone: str | None = None, contact_tel: str | None = None, open_time: Sequence[str] | None = None,
        images: Sequence[str] | None = None, type: int = 1, status: int = 1,
    ) -> Data:
        """POST /poi/supplier/sync: push a store's page (name, address, phone, opening time
        ranges "HH:mm-HH:mm", images) to its POI; Douyin reviews it (see `supplier_query`).

        Retried: supplier_ext_id makes a repeat overwrite the same page.
        """
        _require("poi_id", poi_id)
        _require("name", name)
        _require("supplier_ext_id", supplier_ext_id)
        return self.request(
            "POST", "/poi/supplier/sync", idempotent=True, shape=replies.POI_SUPPLIER_SYNC,
            body=_compact({
                "poi_id": poi_id, "name": name, "supplier_ext_id": supplier_ext_id, "type": type, "status": status,
                "address": address or None, "contact_phone": contact_phone or None, "contact_tel": contact_tel or None,
                "open_time": list(open_time) if open_time else None, "images": list(images) if images else None,
                "attributes": {},
            }),
        )

    def supplier_query(self, supplier_ext_id: str) -> Data:
        """GET /poi/supplier/query: the page as Douyin holds it (data_detail) and the review of the
        last push (sync_status{last_sync_status, fail_reason}). Read-only."""
        _require("supplier_ext_id", supplier_ext_id)
        return self.request("GET", "/poi/supplier/query", idempotent=True, shape=replies.POI_SUPPLIER_QUERY,
                            params={"supplier_ext_id": supplier_ext_id})

    # --- Douyin accounts bound to the mini-program (aweme bind) ----------------------------

    def aweme_bind_qrcode(self, *, type: str, capacity_list: Sequence[str], is_co_subject: bool | None = None) -> Data:
        """GET /api/apps/v1/capacity/get_aweme_relation_bind_qrcode/: a QR the account owner scans in
        Douyin and agrees to (qrcode_url image, qrcode_parse_content its text). Read-only for us."""
        _require("type", type)
        _require("capacity_list", capacity_list)
        return self.request(
            "GET", "/api/apps/v1/capacity/get_aweme_relation_bind_qrcode/", family=Family.TRADE_BASIC, idempotent=True,
            shape=replies.AWEME_BIND_QRCODE,
            params={"type": type, "capacity_list": list(capacity_list), "is_co_subject": is_co_subject},
        )

    def aweme_relation_list(self, *, type: str, page_num: int = 1, page_size: int = 10) -> Data:
        """GET /api/apps/v1/capacity/query_aweme_relation_list/: one page of the accounts bound (or
        being reviewed) under `type`: list[{aweme_id, user_name, bind_status, reason}], total_count.
        The only confirmed reply that names who agreed on a bind QR; it carries no avatar or phone."""
        _require("type", type)
        return self.request(
            "GET", "/api/apps/v1/capacity/query_aweme_relation_list/", family=Family.TRADE_BASIC, idempotent=True,
            shape=replies.AWEME_RELATION_LIST, params={"type": type, "page_num": page_num, "page_size": page_size},
        )

    def unbind_aweme_relation(self, *, aweme_id: str, type: str) -> Data:
        """POST /api/apps/v1/capacity/unbind_aweme_relation/: remove the binding of a Douyin account
        (抖音号) under `type` (brand / cooperation); Douyin then no longer lists it. No reply data.
        Retried: once removed, a repeat can only be refused, which the caller checks against the list."""
        _require("aweme_id", aweme_id)
        _require("type", type)
        return self.request(
            "POST", "/api/apps/v1/capacity/unbind_aweme_relation/", family=Family.TRADE_BASIC, idempotent=True,
            shape=replies.AWEME_UNBIND, body={"aweme_id": str(aweme_id), "type": type},
        )

    # --- vouchers (goodlife fulfilment) --------------------------------------------------

    def certificate_prepare(self, *, code: str | None = None, encrypted_data: str | None = None) -> Data:
        """GET /goodlife/v1/fulfilment/certificate/prepare/: verify_token, order_id, certificates (200 QPS).

        Reply: replies.CERTIFICATE_PREPARE (fixture certificate_prepare)."""
        _one_of(code=code, encrypted_data=encrypted_data)
        return self.request(
            "GET", "/goodlife/v1/fulfilment/certificate/prepare/", idempotent=True,
            limit_group="certificate_prepare", shape=replies.CERTIFICATE_PREPARE,
            params={"code": code, "encrypted_data": encrypted_data},
        )

    def certificate_verify(
        self,
        *,
        verify_token: str,
        poi_id: str,
        encrypted_codes: Sequence[str] = (),
        codes: Sequence[str] = (),
        order_id: str | None = None,
    ) -> Data:
        """POST /goodlife/v1/fulfilment/certificate/verify/: redeem the vouchers of one order.

        Retried: verify_token is the idempotency key. The caller checks every
        data.verify_results[].result (0 ok; 1208 or 2 on a retry means already verified).
        """
        _require("verify_token", verify_token)
        _require("poi_id", poi_id)
        _one_of(encrypted_codes=encrypted_codes, codes=codes)
        if codes and not order_id:
            raise ValueError("order_id is required with third-party codes")
        return self.request(
            "POST", "/goodlife/v1/fulfilment/certificate/verify/", idempotent=True,
            shape=replies.CERTIFICATE_VERIFY,
            body=_compact({
                "verify_token": verify_token,
                "poi_id": poi_id,
                "encrypted_codes": list(encrypted_codes) or None,
                "codes": list(codes) or None,
                "order_id": order_id,
            }),
        )

    def certificate_cancel(
        self, *, certificate_id: str, verify_id: str, cancel_token: str | None = None
    ) -> Data:
        """POST /goodlife/v1/fulfilment/certificate/cancel/: undo a verify within 1 h (3000001 after).

        Retried only with a cancel_token (Douyin's 1-hour idempotency key).
        """
        _require("certificate_id", certificate_id)
        _require("verify_id", verify_id)
        return self.request(
            "POST", "/goodlife/v1/fulfilment/certificate/cancel/",
            idempotent=bool(cancel_token), shape=replies.CERTIFICATE_CANCEL,
            body=_compact({"certificate_id": certificate_id, "verify_id": verify_id, "cancel_token": cancel_token}),
        )

    def certificate_get(
        self, *, encrypted_code: str | None = None, code: str | None = None, order_id: str | None = None
    ) -> Data:
        """GET /goodlife/v1/fulfilment/certificate/get/: certificate{status, verify{verify_id, certificate_id}}.

        The certificate_id of a verified certificate is under `verify` (fixture certificate_get)."""
        _one_of(encrypted_code=encrypted_code, code=code, order_id=order_id)
        return self.request(
            "GET", "/goodlife/v1/fulfilment/certificate/get/", idempotent=True,
            shape=replies.CERTIFICATE_GET,
            params={"encrypted_code": encrypted_code, "code": code, "order_id": order_id},
        )

    def push_delivery(
        self,
        *,
        out_order_no: str,
        item_order_ids: Sequence[str] = (),
        use_all: bool = False,
        poi_info: Mapping[str, Any] | None = None,
    ) -> Data:
        """POST /api/apps/trade/v2/fulfillment/push_delivery: report third-party codes as USED.

        A mini-program order's codes are ours (三方码); after we redeem one at the counter this
        tells Douyin which item orders were used (or `use_all` for the whole order), which starts
        its settlement. data.verify_results[{item_order_id, certificate_id, verify_id, verify_time}].
        Idempotent: reporting an item order used twice leaves it used. `poi_info` travels as a JSON
        string {shop_name, ext_valid_shop_id, valid_poi_id_str}, as in the reference sample.
        """
        _require("out_order_no", out_order_no)
        if bool(item_order_ids) == bool(use_all):
            raise ValueError("pass item_order_ids or use_all=True, not both")
        return self.request(
            "POST", "/api/apps/trade/v2/fulfillment/push_delivery", idempotent=True,
            shape=replies.PUSH_DELIVERY,
            body=_compact({
                "out_order_no": out_order_no,
                "item_order_list": [{"item_order_id": str(i)} for i in item_order_ids] or None,
                "use_all": bool(use_all),
                "poi_info": json.dumps(dict(poi_info), ensure_ascii=False, separators=(",", ":")) if poi_info else None,
            }),
        )

    def verify_cancel(self, *, order_id: str, certificate_id: str, verify_id: str) -> Data:
        """POST /api/apps/trade/v2/fulfillment/verify_cancel: undo a third-party-code verify
        (the certificate_id / verify_id pair push_delivery answered). Idempotent: an undone verify
        stays undone."""
        _require("order_id", order_id)
        _require("certificate_id", certificate_id)
        _require("verify_id", verify_id)
        return self.request(
            "POST", "/api/apps/trade/v2/fulfillment/verify_cancel", idempotent=True, shape=replies.VERIFY_CANCEL,
            body={"order_id": order_id, "certificate_id": certificate_id, "verify_id": verify_id},
        )

    def create_book(
        self, *, order_id: str, out_book_no: str, open_id: str, items: Sequence[Mapping[str, Any]],
    ) -> Data:
        """POST /api/apps/trade/v2/book/create_book: a buyer's booking of a paid order → {book_id}.

        `items` are item_book_info_list entries {poi_id, shop_name, ext_shop_id, goods_id,
        item_order_id, book_start_time, book_end_time (ms), user_info_list[{name, phone}]}. The
        booking then waits for the merchant's answer (`book_result_callback`). Never retried: the
        reference does not say that out_book_no makes a repeat harmless.
        """
        _require("order_id", order_id)
        _require("out_book_no", out_book_no)
        _require("open_id", open_id)
        _require("items", items)
        return self.request(
            "POST", "/api/apps/trade/v2/book/create_book", idempotent=False, shape=replies.BOOK_CREATE,
            body={"order_id": order_id, "out_book_no": out_book_no, "open_id": open_id,
                  "item_book_info_list": [_compact(dict(i)) for i in items]},
        )

    def book_result_callback(self, *, book_id: str, confirmed: bool, msg: str | None = None) -> Data:
        """POST /api/apps/trade/v2/book/book_result_callback: the merchant's answer to a booking,
        result 1 confirmed or 2 refused (with the reason in `msg`). Idempotent: it sets the one
        answer of a booking."""
        _require("book_id", book_id)
        if not confirmed:
            _require("msg", msg)
        return self.request(
            "POST", "/api/apps/trade/v2/book/book_result_callback", idempotent=True, shape=replies.BOOK_RESULT_CALLBACK,
            body=_compact({"book_id": book_id, "result": 1 if confirmed else 2, "msg": msg or None}),
        )

    # --- trade_basic: orders, refunds, settlement --------------------------------------------

    def _trade(self, name: str, body: Mapping[str, Any], *, idempotent: bool, shape: Shape | None = None) -> Data:
        return self.request(
            "POST", f"/api/trade_basic/v1/developer/{name}/",
            family=Family.TRADE_BASIC, idempotent=idempotent, body=_compact(body), shape=shape,
        )

    def order_query(self, *, order_id: str | None = None, out_order_no: str | None = None) -> Data:
        """POST /api/trade_basic/v1/developer/order_query/: pay_status, amounts (fen), and
        item_order_list[{item_order_id, sku_id, item_order_amount}], one item order per unit."""
        _one_of(order_id=order_id, out_order_no=out_order_no)
        return self._trade(
            "order_query", {"order_id": order_id, "out_order_no": out_order_no}, idempotent=True,
            shape=replies.ORDER_QUERY,
        )

    def refund_create(
        self,
        *,
        order_id: str,
        out_refund_no: str,
        refund_total_amount: int,
        item_order_detail: Sequence[Mapping[str, Any]] = (),
        refund_all: bool = False,
        refund_reason: Sequence[Mapping[str, Any]] = (),
        cp_extra: str | None = None,
        notify_url: str | None = None,
        order_entry_schema: Mapping[str, Any] | None = None,
    ) -> Data:
        """POST /api/trade_basic/v1/developer/refund_create/: refund_id, refund_audit_deadline (ms).

        Retried: out_refund_no (required) makes it idempotent. refund_reason [{code, text}] is
        required (codes 101 不想要了, 102 商家服务原因, 103 商品质量问题, 999 其他).
        """
        _require("out_refund_no", out_refund_no)
        _require("refund_reason", refund_reason)
        if bool(item_order_detail) == bool(refund_all):
            raise ValueError("pass item_order_detail or refund_all=True, not both")
        return self._trade(
            "refund_create",
            {
                "order_id": order_id,
                "out_refund_no": out_refund_no,
                "refund_total_amount": int(refund_total_amount),
                "item_order_detail": [dict(i) for i in item_order_detail] or None,
                "refund_all": True if refund_all else None,
                "refund_reason": [dict(r) for r in refund_reason] or None,
                "cp_extra": cp_extra,
                "notify_url": notify_url,
                "order_entry_schema": dict(order_entry_schema) if order_entry_schema else None,
            },
            idempotent=True,
            shape=replies.REFUND_CREATE,
        )

    def refund_query(
        self, *, refund_id: str | None = None, out_refund_no: str | None = None, order_id: str | None = None
    ) -> Data:
        """POST /api/trade_basic/v1/developer/refund_query/: refund_list[{refund_status, merchant_audit_detail…}]."""
        _one_of(refund_id=refund_id, out_refund_no=out_refund_no, order_id=order_id)
        return self._trade(
            "refund_query",
            {"refund_id": refund_id, "out_refund_no": out_refund_no, "order_id": order_id},
            idempotent=True,
            shape=replies.REFUND_QUERY,
        )

    def refund_audit(self, *, refund_id: str, agree: bool, deny_message: str | None = None) -> Data:
        """POST /api/trade_basic/v1/developer/refund_audit_callback/: 1 agree, 2 deny (with a message).

        Idempotent: it sets the one audit answer of a refund.
        """
        _require("refund_id", refund_id)
        if not agree:
            _require("deny_message", deny_message)
        return self._trade(
            "refund_audit_callback",
            {
                "refund_id": refund_id,
                "refund_audit_status": 1 if agree else 2,
                "deny_message": None if agree else deny_message,
            },
            idempotent=True,
            shape=replies.REFUND_AUDIT,
        )

    def settle_create(
        self,
        *,
        out_order_no: str,
        out_settle_no: str,
        settle_desc: str,
        settle_params: Sequence[Mapping[str, Any]] | str,
        item_order_id: str | None = None,
        ext: str | None = None,
        notify_url: str | None = None,
    ) -> Data:
        """POST /api/trade_basic/v1/developer/settle_create/: settle_id; 23111 if out_settle_no exists.

        Retried: out_settle_no (required) makes it idempotent. settle_params travels as a JSON string.
        """
        _require("out_settle_no", out_settle_no)
        if not isinstance(settle_params, str):
            settle_params = json.dumps([dict(p) for p in settle_params], ensure_ascii=False, separators=(",", ":"))
        return self._trade(
            "settle_create",
            {
                "out_order_no": out_order_no,
                "out_settle_no": out_settle_no,
                "settle_desc": settle_desc,
                "settle_params": settle_params,
                "item_order_id": item_order_id,
                "ext": ext,
                "notify_url": notify_url,
            },
            idempotent=True,
            shape=replies.SETTLE_CREATE,
        )

    def settle_query(
        self,
        *,
        settle_id: str | None = None,
        order_id: str | None = None,
        out_settle_no: str | None = None,
        out_order_no: str | None = None,
    ) -> list[Data]:
        """POST /api/trade_basic/v1/developer/settle_query/: the settlements (data is an array)."""
        if not any((settle_id, order_id, out_settle_no, out_order_no)):
            raise ValueError("pass settle_id, order_id, out_settle_no or out_order_no")
        return self._trade(
            "settle_query",
            {"settle_id": settle_id, "order_id": order_id, "out_settle_no": out_settle_no, "out_order_no": out_order_no},
            idempotent=True,
            shape=replies.SETTLE_QUERY,
        )

    def tag_query(self, goods_type: int) -> Data:
        """POST /api/trade_basic/v1/developer/tag_query/: the trade rule tag groups of a goods type.

        Read-only; the onboarding wizard uses it to prove the access token and the trade system.
        """
        if isinstance(goods_type, bool) or not isinstance(goods_type, int):
            raise ValueError("goods_type must be an integer")
        return self._trade("tag_query", {"goods_type": goods_type}, idempotent=True, shape=replies.TAG_QUERY)

    def fulfill_push_status(self, *, order_id: str, item_order_ids: Sequence[str], to_status: str) -> Data:
        """POST /api/trade_basic/v1/developer/fulfill_push_status: tell Douyin how far a goods order's
        fulfilment has come: "fulfilling" once shipped (the reference sample), "fulfilled" once
        delivered (fixture fulfill_push_status_delivered: that value is unconfirmed). The reference
        has no carrier or tracking number field. Idempotent: it sets the order's one state."""
        _require("order_id", order_id)
        _require("item_order_ids", item_order_ids)
        _require("to_status", to_status)
        return self.request(
            "POST", "/api/trade_basic/v1/developer/fulfill_push_status", family=Family.TRADE_BASIC, idempotent=True,
            shape=replies.FULFILL_PUSH_STATUS,
            body={"order_id": order_id, "item_order_id_list": [str(i) for i in item_order_ids], "to_status": to_status},
        )

    # --- money -------------------------------------------------------------------------------

    def ledger_query(
        self,
        *,
        bill_date: date | str,
        cursor: str = "0",
        size: int = LEDGER_PAGE_MAX,
        account_id: str | None = None,
    ) -> Data:
        """GET /goodlife/v1/settle/ledger/query/: one page (size ≤50) of a day's ledger (20 QPS).

        All four parameters are always sent; the first page's cursor is "0" and bill_date is
        YYYY-MM-DD (fixture settle_ledger_query). Reply: ledger_records, cursor, has_more.
        """
        if not 1 <= size <= LEDGER_PAGE_MAX:
            raise ValueError(f"size must be between 1 and {LEDGER_PAGE_MAX}")
        return self.request(
            "GET", "/goodlife/v1/settle/ledger/query/", idempotent=True, limit_group="ledger_query",
            shape=replies.SETTLE_LEDGER_QUERY,
            params={"account_id": self._account(account_id), "bill_date": bill_date, "cursor": cursor or "0", "size": size},
        )

    def iter_ledger_records(
        self, bill_date: date | str, *, page_size: int = LEDGER_PAGE_MAX, account_id: str | None = None
    ) -> Iterator[Data]:
        """Yield every ledger record of one bill date, following `cursor` until has_more is false.

        Raises DouyinError when Douyin says has_more but gives no cursor, or one it already gave
        (the loop would never end).
        """
        cursor, seen = "0", {"0"}
        while True:
            page = self.ledger_query(bill_date=bill_date, cursor=cursor, size=page_size, account_id=account_id)
            yield from page["ledger_records"]
            if not page["has_more"]:
                return
            cursor = page.get("cursor") or ""
            if not cursor or cursor in seen:
                raise DouyinError(None, f"settle/ledger/query: has_more with cursor {cursor!r} that does not advance")
            seen.add(cursor)

    # --- ecpay: payment onboarding (进件), balance and withdrawals ------------------------------

    def _ecpay(self, path: str, body: Mapping[str, Any], *, idempotent: bool, shape: Shape) -> Data:
        """The ecpay SaaS calls: POST, access-token, err_no envelope; app_id is this app (developer mode)."""
        return self.request("POST", path, family=Family.TRADE_BASIC, idempotent=idempotent, shape=shape,
                            body=_compact(dict(body, app_id=self.credentials.app_id)))

    def query_merchant_status(self, merchant_id: str) -> Data:
        """POST /api/apps/ecpay/v3/saas/query_merchant_status/: the 进件 state of a merchant id, as
        maps channel -> {status, merchant_id, reject_reason} (merchant_status_info, …). Read-only."""
        _require("merchant_id", merchant_id)
        return self._ecpay("/api/apps/ecpay/v3/saas/query_merchant_status/", {"merchant_id": merchant_id},
                           idempotent=True, shape=replies.QUERY_MERCHANT_STATUS)

    def query_merchant_balance(self, *, merchant_uid: str, channel_type: str) -> Data:
        """POST /api/apps/ecpay/saas/query_merchant_balance/: account_info {online_balance,
        withdrawable_balacne (Douyin's spelling), freeze_balance} in fen. Read-only."""
        _require("merchant_uid", merchant_uid)
        _require("channel_type", channel_type)
        return self._ecpay("/api/apps/ecpay/saas/query_merchant_balance/",
                           {"merchant_uid": merchant_uid, "channel_type": channel_type},
                           idempotent=True, shape=replies.QUERY_MERCHANT_BALANCE)

    def merchant_withdraw(
        self, *, merchant_uid: str, channel_type: str, out_order_id: str, withdraw_amount: int,
        callback: str | None = None, cp_extra: str | None = None,
    ) -> Data:
        """POST /api/apps/ecpay/saas/merchant_withdraw/: {order_id}; withdraw_amount in fen.

        Retried: out_order_id (required) makes it idempotent.
        """
        _require("merchant_uid", merchant_uid)
        _require("channel_type", channel_type)
        _require("out_order_id", out_order_id)
        if isinstance(withdraw_amount, bool) or not isinstance(withdraw_amount, int) or withdraw_amount <= 0:
            raise ValueError("withdraw_amount must be a positive integer number of fen")
        return self._ecpay(
            "/api/apps/ecpay/saas/merchant_withdraw/",
            {"merchant_uid": merchant_uid, "channel_type": channel_type, "out_order_id": out_order_id,
             "withdraw_amount": withdraw_amount, "callback": callback, "cp_extra": cp_extra},
            idempotent=True, shape=replies.MERCHANT_WITHDRAW,
        )

    def query_withdraw_order(self, *, merchant_uid: str, channel_type: str, out_order_id: str) -> Data:
        """POST /api/apps/ecpay/saas/query_withdraw_order/: {status SUCCESS|FAIL|PROCESSING|REEXCHANGE, status_msg}."""
        _require("merchant_uid", merchant_uid)
        _require("channel_type", channel_type)
        _require("out_order_id", out_order_id)
        return self._ecpay(
            "/api/apps/ecpay/saas/query_withdraw_order/",
            {"merchant_uid": merchant_uid, "channel_type": channel_type, "out_order_id": out_order_id},
            idempotent=True, shape=replies.QUERY_WITHDRAW_ORDER,
        )

    # --- mini-program package; subscription messages ---------------------------------------------

    # The third-party platform's package_version APIs (SK DouyinMicroAppOpenApiClientExecute-
    # AppsPackageVersionExtensions): access-token header, err_no envelope, no app id in the body.
    # The header's value is the authorizer access token of this mini-program (`authorizer=True`).

    def package_audit_hosts(self) -> Data:
        """GET /api/apps/v1/package_version/get_audit_hosts/: host_names[] the test version may be
        audited for (douyin, toutiao, …). Read-only."""
        return self.request("GET", "/api/apps/v1/package_version/get_audit_hosts/", family=Family.TRADE_BASIC,
                            idempotent=True, shape=replies.PACKAGE_AUDIT_HOSTS, authorizer=True)

    def package_versions(self) -> Data:
        """GET /api/apps/v1/package_version/versions/: the test version (latest), the version under
        or after audit (audit: status 0 审核中, 1 通过, 2 不通过, 3 撤回审核; reason; has_publish) and
        the online one (current); each may be absent. Read-only."""
        return self.request("GET", "/api/apps/v1/package_version/versions/", family=Family.TRADE_BASIC,
                            idempotent=True, shape=replies.PACKAGE_VERSIONS, authorizer=True)

    def package_audit(self, *, host_names: Sequence[str], audit_note: str | None = None, resubmit_failed: bool = False) -> Data:
        """POST /api/apps/v1/package_version/audit/: submit the test version for review on `host_names`.

        `resubmit_failed` sends audit_way 1 (resubmit the version that failed its last audit).
        Douyin answers the bare envelope; the outcome is read with `package_versions`. Never
        retried: there is no idempotency key.
        """
        _require("host_names", host_names)
        return self.request(
            "POST", "/api/apps/v1/package_version/audit/", family=Family.TRADE_BASIC, idempotent=False,
            shape=replies.PACKAGE_AUDIT, authorizer=True,
            body=_compact({"host_names": [str(h) for h in host_names], "audit_note": audit_note or None,
                           "audit_way": 1 if resubmit_failed else None}),
        )

    def package_release(self) -> Data:
        """POST /api/apps/v1/package_version/release/: put the approved audit version online (an
        approved version is not live until released). Retried on a timeout or 5xx: a release that
        did happen shows as audit.has_publish in `package_versions`, which callers read first."""
        return self.request("POST", "/api/apps/v1/package_version/release/", family=Family.TRADE_BASIC,
                            idempotent=True, shape=replies.PACKAGE_RELEASE, body={}, authorizer=True)

    def notify_user(self, *, msg_id: str, open_id: str, data: Mapping[str, str], page: str | None = None) -> Data:
        """POST /api/notification/v2/subscription/notify_user/: send a subscription message.

        `msg_id` is the template id (MSG…) the app chose in the developer console, `data` maps each
        of the template's field names to its text, `page` is the mini-program page it opens. The
        user must have subscribed to the template in the mini-program. The reply is the bare err_no
        envelope. Never retried: there is no idempotency key, and a repeat is a second message.
        """
        _require("msg_id", msg_id)
        _require("open_id", open_id)
        _require("data", data)
        return self.request(
            "POST", "/api/notification/v2/subscription/notify_user/", family=Family.TRADE_BASIC, idempotent=False,
            shape=replies.NOTIFY_USER,
            body=_compact({"msg_id": msg_id, "open_id": open_id, "data": {str(k): str(v) for k, v in data.items()},
                           "page": page or None}),
        )


def _body_log_id(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    extra = body.get("extra")
    if isinstance(extra, Mapping) and extra.get("logid"):
        return str(extra["logid"])
    value = body.get("log_id") or body.get("logid")
    return str(value) if value else None
