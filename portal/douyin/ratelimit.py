"""Client-side rate limiting: a thread-safe token bucket per (app_id, limit group).

Douyin publishes three limits (doc §8): client_token 500 calls / 5 min (else 10020),
certificate prepare 200 QPS, ledger query 20 QPS. The client waits for a token before each
attempt rather than burning a call that Douyin would refuse.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

_EPSILON = 1e-6  # seconds; a shorter wait is float rounding, not a limit

__all__ = [
    "DEFAULT_LIMITS",
    "Limit",
    "RateLimiter",
    "TokenBucket",
    "TokenBucketLimiter",
]


@dataclass(frozen=True)
class Limit:
    """`calls` per `per_seconds`; the bucket holds at most `calls` tokens (the burst)."""

    calls: int
    per_seconds: float

    @property
    def rate(self) -> float:
        return self.calls / self.per_seconds


DEFAULT_LIMITS: Mapping[str, Limit] = {
    "client_token": Limit(500, 300.0),
    "certificate_prepare": Limit(200, 1.0),
    "ledger_query": Limit(20, 1.0),
}


class RateLimiter(Protocol):
    """What DouyinClient needs: block until a call in `group` is allowed for `app_id`."""

    def acquire(self, app_id: str, group: str) -> None: ...


class TokenBucket:
    """A token bucket on an injectable clock, kept as GCRA (one "next free" timestamp).

    `acquire` reserves the next slot and sleeps until it, so waiting threads are served in
    order and a sleeper never has to re-check (no spinning on float rounding).
    """

    def __init__(
        self,
        limit: Limit,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self._now = now
        self._sleep = sleep
        self._lock = threading.Lock()
        self._interval = 1.0 / limit.rate
        self._burst = (limit.calls - 1) * self._interval
        # Times are kept relative to creation so float precision stays at the microsecond.
        self._origin = now()
        self._next_free = 0.0

    def _elapsed(self) -> float:
        return self._now() - self._origin

    def _wait(self, current: float) -> tuple[float, float]:
        due = max(self._next_free, current)
        wait = due - current - self._burst
        return due, (wait if wait > _EPSILON else 0.0)

    def try_acquire(self) -> float:
        """Take a token and return 0.0, or take nothing and return the seconds to wait."""
        with self._lock:
            due, wait = self._wait(self._elapsed())
            if wait == 0.0:
                self._next_free = due + self._interval
            return wait

    def acquire(self) -> float:
        """Take the next token, sleeping until it is due; return the seconds slept."""
        with self._lock:
            due, wait = self._wait(self._elapsed())
            self._next_free = due + self._interval
        if wait > 0.0:
            # Sleep outside the lock: the slot is already ours, others queue behind it.
            self._sleep(wait)
        return wait


class TokenBucketLimiter:
    """In-process RateLimiter: one TokenBucket per (app_id, group); unknown groups are free."""

    def __init__(
        self,
        limits: Mapping[str, Limit] = DEFAULT_LIMITS,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(limits)
        self._now = now
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, app_id: str, group: str) -> TokenBucket | None:
        limit = self.limits.get(group)
        if limit is None:
            return None
        with self._lock:
            key = (app_id, group)
            if key not in self._buckets:
                self._buckets[key] = TokenBucket(limit, now=self._now, sleep=self._sleep)
            return self._buckets[key]

    def acquire(self, app_id: str, group: str) -> None:
        bucket = self.bucket(app_id, group)
        if bucket is not None:
            bucket.acquire()


_shared_limiter = TokenBucketLimiter()


def shared_limiter() -> TokenBucketLimiter:
    """The process-wide limiter, so every client for one app draws from the same buckets."""
    return _shared_limiter
