"""Standalone Douyin open-platform client: signing, HTTP calls, errors. Imports nothing from portal."""

from .client import ClientToken, DouyinClient, DouyinCredentials, Family
from .errors import (
    DouyinAuthError,
    DouyinConfigError,
    DouyinError,
    DouyinRateLimited,
    DouyinUnavailable,
)
from .ratelimit import Limit, TokenBucketLimiter
from .tokens import MemoryTokenCache, RedisTokenCache

__all__ = [
    "ClientToken",
    "DouyinAuthError",
    "DouyinClient",
    "DouyinConfigError",
    "DouyinCredentials",
    "DouyinError",
    "DouyinRateLimited",
    "DouyinUnavailable",
    "Family",
    "Limit",
    "MemoryTokenCache",
    "RedisTokenCache",
    "TokenBucketLimiter",
]
