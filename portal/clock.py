"""The one source of "now". Tests and the demo move it; nothing else calls datetime.now().

In the embedded demo the portal follows the sandbox's clock (`follow`): the sandbox writes its
clock offset to a small file whenever a person moves it, and "now" here is real time plus that
offset, so "+3 天" in the sandbox console is three days later for the portal too. In production
nothing is followed and "now" is real time (portal.democlock decides which).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_lock = threading.Lock()
_offset = timedelta(0)
_frozen: datetime | None = None
_followed: str | None = None
_followed_seen: tuple[tuple[int, int], float] | None = None  # ((inode, mtime_ns), offset seconds)


def now() -> datetime:
    """The current time, aware, in UTC."""
    with _lock:
        if _frozen is not None:
            return _frozen
        offset = _offset
    return datetime.now(UTC) + offset + timedelta(seconds=followed_offset())


def follow(path: str | None) -> None:
    """Add the clock offset the sandbox writes to `path` to "now" (None: follow nothing)."""
    global _followed, _followed_seen
    with _lock:
        _followed, _followed_seen = (str(path) if path else None), None


def followed_offset() -> float:
    """Seconds the followed clock is ahead of real time; 0 when nothing is followed or the file
    is missing. The file is read again only when it changes (one stat per call)."""
    global _followed_seen
    path = _followed
    if path is None:
        return 0.0
    try:
        info = os.stat(path)
    except OSError:
        return 0.0
    stamp = (info.st_ino, info.st_mtime_ns)  # the sandbox replaces the file: a new inode each write
    seen = _followed_seen
    if seen is not None and seen[0] == stamp:
        return seen[1]
    try:
        with open(path, encoding="utf-8") as handle:
            offset = float(json.load(handle)["clock_offset_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return seen[1] if seen else 0.0  # a half-written file: keep the last offset read
    _followed_seen = (stamp, offset)
    return offset


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
