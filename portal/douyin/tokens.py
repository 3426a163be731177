"""client_token caches: `get(key) -> (token, expires_at) | None` and `set(key, token, expires_at)`.

`expires_at` is Unix seconds on the client's clock. A shared cache (Redis) matters: every
fetch of a new client_token starts the 5-minute death of the previous one (doc 1.1), so
processes must reuse one token rather than each fetching their own.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Protocol

__all__ = ["MemoryTokenCache", "RedisTokenCache", "TokenCache"]


class TokenCache(Protocol):
    def get(self, key: str) -> tuple[str, float] | None: ...

    def set(self, key: str, token: str, expires_at: float) -> None: ...


class MemoryTokenCache:
    """A per-process cache; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> tuple[str, float] | None:
        with self._lock:
            return self._entries.get(key)

    def set(self, key: str, token: str, expires_at: float) -> None:
        with self._lock:
            self._entries[key] = (token, float(expires_at))


class RedisTokenCache:
    """Tokens in Redis under `prefix + key`, expiring with the token (never before 60 s)."""

    def __init__(
        self,
        redis_connection: Any,
        prefix: str = "douyin:client_token:",
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_connection
        self._prefix = prefix
        self._now = now

    def get(self, key: str) -> tuple[str, float] | None:
        raw = self._redis.get(self._prefix + key)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            return str(entry["token"]), float(entry["expires_at"])
        except (ValueError, KeyError, TypeError):
            return None

    def set(self, key: str, token: str, expires_at: float) -> None:
        ttl = max(60, int(expires_at - self._now()) + 1)
        value = json.dumps({"token": token, "expires_at": expires_at})
        self._redis.set(self._prefix + key, value, ex=ttl)
