"""Douyin errors and the mapping from the four response envelopes to them (doc §8).

Every failure of a Douyin call surfaces as a `DouyinError` carrying the platform code, a
message, the log id to quote to Douyin support, and whether trying again later can succeed.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "AUTH_ERROR_CODES",
    "RETRYABLE_CODES",
    "SIGNATURE_ERROR_CODE",
    "TOKEN_ERROR_CODES",
    "TRANSIENT_MESSAGES",
    "DouyinAuthError",
    "DouyinConfigError",
    "DouyinError",
    "DouyinRateLimited",
    "DouyinUnavailable",
    "error_for_code",
    "parse_envelope",
]

# Douyin's common status codes for err_no APIs (trade_basic, /api/apps) are those of its
# status-code page (通用错误码), as public goodlife and trade clients quote it (no repository pins
# these codes, so they are handled generically and given no user-facing meaning):
# 28001003 access_token 无效, 28001008 access_token 已过期, 28001005 系统内部错误（请重试）,
# 28001006 网络调用错误（请重试）, 28003017 quota 已用完.
# The client refreshes its client_token once and repeats the call on these: 2190002, 2190008
# and 10008 are the goodlife / oauth codes for an invalid or expired client_token.
TOKEN_ERROR_CODES = frozenset({2190002, 2190008, 10008, 28001003, 28001008})
# Sandbox's chosen code for a missing or bad Byte-Authorization (HTTP 401); no reference names one.
SIGNATURE_ERROR_CODE = 28001001
AUTH_ERROR_CODES = TOKEN_ERROR_CODES | {10003, 10004, 10013, SIGNATURE_ERROR_CODE}
# 10020 client_token quota; 28003017 the call's quota is used up.
RATE_LIMIT_CODES = frozenset({10020, 28003017})
# 13000 trade system error, 23000 settle system error, 28001005 / 28001006 platform-side failures.
RETRYABLE_CODES = RATE_LIMIT_CODES | {13000, 23000, 28001005, 28001006}
# goodlife answers transient trouble with these descriptions (doc §8, verify retries).
TRANSIENT_MESSAGES = ("服务器错误", "访问过于频繁")


class DouyinError(Exception):
    """A Douyin call failed. `retryable` says whether repeating the same request may succeed."""

    def __init__(
        self,
        code: int | None,
        message: str,
        log_id: str | None = None,
        retryable: bool = False,
        *,
        sub_code: int | str | None = None,
        sub_message: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.log_id = log_id
        self.retryable = retryable
        self.sub_code = sub_code
        self.sub_message = sub_message
        self.http_status = http_status

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}" if self.code is not None else self.message
        if self.sub_code not in (None, 0, "", "0"):
            text += f" (sub {self.sub_code}: {self.sub_message or ''})"
        if self.log_id:
            text += f" log_id={self.log_id}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"log_id={self.log_id!r}, retryable={self.retryable!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses have different __init__ signatures; rebuild from state so errors pickle.
        return (_rebuild_error, (type(self), self.args, self.__dict__))


class DouyinUnavailable(DouyinError):
    """Douyin did not answer usefully: timeout, connection error or 5xx (after retries).

    For a non-idempotent call the outcome is unknown: the request may have been applied.
    """

    def __init__(self, code: int | None, message: str, log_id: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", True)
        super().__init__(code, message, log_id, **kwargs)


class DouyinAuthError(DouyinError):
    """Credentials, token, permission or request signature were refused."""


class DouyinRateLimited(DouyinError):
    """Too many calls (HTTP 429, 10020, or the local limiter); `retry_after` seconds if known."""

    def __init__(
        self,
        code: int | None,
        message: str,
        log_id: str | None = None,
        *,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retryable", True)
        super().__init__(code, message, log_id, **kwargs)
        self.retry_after = retry_after


class DouyinConfigError(DouyinError):
    """The call cannot be made with these credentials (no private key, no account id); nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def _rebuild_error(cls: type[DouyinError], args: tuple[Any, ...], state: dict[str, Any]) -> DouyinError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_transient(*messages: Any) -> bool:
    return any(
        isinstance(m, str) and any(t in m for t in TRANSIENT_MESSAGES) for m in messages
    )


def error_for_code(
    code: int,
    message: str,
    log_id: str | None = None,
    *,
    sub_code: int | str | None = None,
    sub_message: str | None = None,
    http_status: int | None = None,
) -> DouyinError:
    """Build the right DouyinError subclass for a platform error code."""
    details = {"sub_code": sub_code, "sub_message": sub_message, "http_status": http_status}
    if code in RATE_LIMIT_CODES or "访问过于频繁" in f"{message} {sub_message or ''}":
        return DouyinRateLimited(code, message, log_id, **details)
    retryable = code in RETRYABLE_CODES or _is_transient(message, sub_message)
    if code in AUTH_ERROR_CODES or http_status == 401:
        return DouyinAuthError(code, message, log_id, retryable, **details)
    return DouyinError(code, message, log_id, retryable, **details)


def parse_envelope(
    body: Any, *, header_log_id: str | None = None, http_status: int | None = None
) -> dict[str, Any]:
    """Return the `data` of a successful reply, or raise the DouyinError it describes.

    Families: trade_basic `{err_no, err_msg, log_id, data}` (data an object, or an array for
    settle_query); legacy `{err_no, err_tips, data}`
    (a legacy reply without `data` is returned whole); goodlife `{data:{error_code,
    description}, extra:{error_code, description, sub_error_code, sub_description, logid}}`;
    client_token `{data:{error_code, description, …}, message}`. The log id comes from the
    body, else from the `x-tt-logid` header.
    """
    if not isinstance(body, Mapping):
        raise DouyinError(None, "Douyin returned an unexpected body", header_log_id, http_status=http_status)

    if "err_no" in body:
        log_id = body.get("log_id") or body.get("logid") or header_log_id
        code = _as_int(body.get("err_no"))
        if code is None:
            raise DouyinError(None, f"Bad err_no {body.get('err_no')!r}", log_id, http_status=http_status)
        if code != 0:
            message = body.get("err_msg") or body.get("err_tips") or "Douyin error"
            raise error_for_code(code, str(message), log_id, http_status=http_status)
        data = body.get("data")
        if isinstance(data, Mapping):
            return dict(data)
        if isinstance(data, list):  # settle_query answers an array
            return data
        return {k: v for k, v in body.items() if k not in ("err_no", "err_msg", "err_tips", "log_id")}

    data = body.get("data")
    extra = body.get("extra") if isinstance(body.get("extra"), Mapping) else {}
    if not isinstance(data, Mapping) and not extra:
        raise DouyinError(None, "Douyin reply has no envelope", header_log_id, http_status=http_status)
    data = data if isinstance(data, Mapping) else {}
    log_id = extra.get("logid") or body.get("log_id") or body.get("logid") or header_log_id
    data_code = _as_int(data.get("error_code"))
    extra_code = _as_int(extra.get("error_code"))
    code = data_code or extra_code
    if code:
        source = data if data_code else extra
        message = source.get("description") or extra.get("description") or body.get("message") or "Douyin error"
        raise error_for_code(
            code,
            str(message),
            log_id,
            sub_code=extra.get("sub_error_code"),
            sub_message=extra.get("sub_description"),
            http_status=http_status,
        )
    return dict(data)
