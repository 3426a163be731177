"""The one source of "now". Tests and the demo move it; nothing else calls datetime.now()."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_lock = threading.Lock()
_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """The current time, aware, in UTC."""
    with _lock:
        if _frozen is not None:
            return _frozen
        return datetime.now(UTC) + _offset


def local_now() -> datetime:
    return now().astimezone(SHANGHAI)


def today_local() -> date:
    """Today's date in Asia/Shanghai, where the merchants' business days are."""
    return local_now().date()


def to_local(value: datetime) -> datetime:
    return value.astimezone(SHANGHAI)


def local_text(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as people here read it (Shanghai time), or "—" when there is none."""
    return to_local(value).strftime(fmt) if value else "—"


def freeze(at: datetime) -> None:
    """Stop the clock at `at` (aware)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    with _lock:
        _frozen = at.astimezone(UTC)


def advance(delta: timedelta) -> None:
    """Move "now" forward (or back), frozen or not."""
    global _frozen, _offset
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + delta
        else:
            _offset = _offset + delta


def reset() -> None:
    global _frozen, _offset
    with _lock:
        _frozen = None
        _offset = timedelta(0)
