"""Douyin's refusals in the merchant's words: what happened and what to do, with Douyin's code
and log id kept apart as a small details line to quote to support.

Errors are stored as text (`str(DouyinError)`: ``[2100011] 可提现余额不足 log_id=…``, an outbox's
``2100011: [2100011] …``, or our own sentence followed by ``[code] log_id=…``); `explain` reads
any of these back. Text with neither a code nor a log id is ours already and is left as it is.
A sentence the portal composed is recognised as ours by what it is, never by its wording: a
stored message reads as `messages.Composed`, and an exception other than a DouyinError carries
our own safe message. Only older rows, stored as Chinese text, are recognised by their words.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from portal.i18n import gettext
from portal.messages import Composed

from portal.douyin.errors import AUTH_ERROR_CODES, RATE_LIMIT_CODES, RETRYABLE_CODES, DouyinError

_CODE = re.compile(r"\[(-?\d+)\]")
_LOG_ID = re.compile(r"\s*log_id=([\w.\-]+)")
_SUB = re.compile(r"\s*\(sub ([^:()]+): ([^()]*)\)")
_PREFIX = re.compile(r"^(?:-?\d+: |[A-Z]\w*(?:Error|Unavailable|Limited): )+")
_SENTENCE_END = ("。", "！", ".")


class Problem(NamedTuple):
    summary: str  # plain words: what happened and what to do
    details: str  # "错误码 … · log_id …" for support, or ""


def explain(stored: str | None) -> Problem:
    """A stored error as a sentence for the merchant and a details line for support. Douyin's
    words become one of our sentences; our own sentence (`Composed`) is kept, in any language."""
    ours = isinstance(stored, Composed)
    text = (stored or "").strip()
    code_match, log_match = _CODE.search(text), _LOG_ID.search(text)
    if not code_match and not log_match:
        return Problem(text, "")
    sub_match = _SUB.search(text)
    rest = _PREFIX.sub("", text)
    for pattern in (_SUB, _LOG_ID, _CODE):
        rest = pattern.sub("", rest)
    rest = rest.strip(" ：:，,")
    code = int(code_match.group(1)) if code_match else None
    summary = rest if rest and (ours or _is_ours(rest)) else _plain(code, rest)
    parts = []
    if code is not None:
        parts.append(gettext("错误码 %(code)s", code=code))
    if sub_match:
        parts.append(gettext("子码 %(code)s", code=sub_match.group(1).strip()))
    if log_match:
        parts.append(f"log_id {log_match.group(1)}")
    return Problem(summary, " · ".join(parts))


def explain_error(error) -> Problem:
    """`explain` for an exception just caught: a DouyinError's message is Douyin's; any other
    error's (a DomainError's) is our own safe message."""
    return explain(str(error) if isinstance(error, DouyinError) else Composed(str(error)))


def as_line(error) -> str:
    """One line for a form field: the sentence, then the details in brackets."""
    problem = explain_error(error)
    return f"{problem.summary}（{problem.details}）" if problem.details else problem.summary


def with_details(sentence: str, error) -> str:
    """Our own sentence about a Douyin refusal, keeping Douyin's code and log id for support
    (stored; shown through `explain`)."""
    code = getattr(error, "code", None)
    log_id = getattr(error, "log_id", None)
    tail = " ".join(p for p in (f"[{code}]" if code is not None else "", f"log_id={log_id}" if log_id else "") if p)
    return f"{sentence} {tail}".strip()


def _is_ours(text: str) -> bool:
    # Older rows hold our sentences as Chinese text: they end as sentences and say what to do
    # next, where Douyin's messages are short labels.
    return text.endswith(_SENTENCE_END) and any(word in text for word in ("请", "系统", "款项"))


def _plain(code: int | None, message: str) -> str:
    message = message or gettext("抖音未说明原因")
    if code in AUTH_ERROR_CODES:
        return gettext("抖音没有接受本店小程序的凭证（%(said)s）。请在「开通抖音推广」中重新填写 AppSecret 后再试。", said=message)
    if code in RATE_LIMIT_CODES or "频繁" in message:
        return gettext("抖音暂时限制了调用次数（%(said)s）。系统稍后会自动重试，无需操作。", said=message)
    if code is None or code in RETRYABLE_CODES:
        return gettext("暂时连不上抖音（%(said)s）。系统稍后会自动重试；若长时间仍未成功，请联系客服。", said=message)
    if "余额不足" in message:
        return gettext("抖音账户的可提现余额不够（%(said)s）。请按担保账户显示的抖音可提现余额重新提现。", said=message)
    return gettext("抖音没有接受这次操作：%(said)s。请按提示修改后重试；如仍不清楚，请把下面的错误码发给客服。", said=message)

