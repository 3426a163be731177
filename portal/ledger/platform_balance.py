"""Douyin's withdrawable balance for the 担保账户 pages: asked at most every 30 s per merchant.

Every page of the guaranteed account shows what Douyin holds (query_merchant_balance). A page view
asks Douyin only when the figure it has is older than `MAX_AGE`, with a short timeout and no retry,
so a slow Douyin costs a page at most a couple of seconds. When Douyin cannot answer, the page shows
the last figure Douyin gave, with its age and marked as not current; with none, it says Douyin could
not be asked. A figure is also asked again as soon as the ledger's own 可提现 moved since it was read
(a settlement, a withdrawal, an adjustment: Douyin's balance moves with them), so 可提现 follows at
once. A withdrawal never relies on this cache: its submit asks Douyin again (and refreshes it).

The figures live in Redis (the queue's connection: an in-memory Redis in the embedded setup), as
`{fen, at, local}` per organization; they are rebuilt from Douyin and never the ledger's truth.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from portal.douyin import DouyinError
from portal.extensions import queue

log = logging.getLogger(__name__)

MAX_AGE = timedelta(seconds=30)
# A page view's call: (connect, read) seconds, and no retry: the page must not hang on Douyin.
PAGE_TIMEOUT = (1.5, 2.5)
# The last known figure is kept this long for the fallback.
KEEP = timedelta(days=7)


@dataclass(frozen=True)
class PlatformBalance:
    """Douyin's withdrawable balance as a page shows it."""

    fen: int | None  # None: Douyin could not be asked and no earlier figure is known
    fetched_at: datetime | None
    current: bool  # False: Douyin did not answer now; `fen` is the last figure it gave
    error: DouyinError | None = None

    def age_seconds(self, now: datetime) -> int | None:
        if self.fetched_at is None:
            return None
        return max(0, int((now - self.fetched_at).total_seconds()))


def _key(organization_id: int, merchant_uid: str) -> str:
    # The merchant id is part of the key: a merchant who changes it never sees the old one's money.
    return f"{current_app.config.get('RQ_QUEUE_PREFIX', '')}ledger:platform_balance:{organization_id}:{merchant_uid}"


def _load(organization_id: int, merchant_uid: str) -> tuple[int, datetime, int | None] | None:
    try:
        raw = queue.connection().get(_key(organization_id, merchant_uid))
        if raw is None:
            return None
        entry = json.loads(raw)
        local = entry.get("local")
        return int(entry["fen"]), datetime.fromtimestamp(float(entry["at"]), UTC), None if local is None else int(local)
    except Exception:  # a cache that cannot be read is a cache miss, never a broken page
        log.warning("platform balance cache unreadable for organization %s", organization_id, exc_info=True)
        return None


def remember(organization_id: int, merchant_uid: str, fen: int, *, now: datetime, local_fen: int | None = None) -> None:
    """Keep Douyin's answer (from a page view or a withdrawal's own check) as the latest figure,
    with the ledger's available balance it was read beside (None: ask again at the next view)."""
    try:
        queue.connection().set(_key(organization_id, merchant_uid), json.dumps({"fen": int(fen), "at": now.timestamp(), "local": local_fen}),
                               ex=int(KEEP.total_seconds()))
    except Exception:
        log.warning("platform balance cache unwritable for organization %s", organization_id, exc_info=True)


def withdrawable_for_page(organization_id: int, *, now: datetime, local_fen: int) -> PlatformBalance | None:
    """Douyin's withdrawable balance for a page view; None when the merchant has no ecpay account.

    A figure younger than MAX_AGE, read while the ledger's available balance was `local_fen` as it is
    now, is used as it is; otherwise Douyin is asked once (short timeout,
    no retry). When that fails, the last known figure comes back with `current=False` and the
    error, or `fen=None` when there is none. Never raises DouyinError."""
    from portal.ledger.service import douyin_withdrawable, platform_account

    # The client only reads the app; nothing is asked of Douyin unless the figure is stale.
    account = platform_account(organization_id, timeout=PAGE_TIMEOUT, max_retries=0)
    if account is None:
        return None
    client, uid, channel = account
    cached = _load(organization_id, uid)
    if cached is not None and timedelta(0) <= now - cached[1] < MAX_AGE and cached[2] == local_fen:
        return PlatformBalance(cached[0], cached[1], current=True)
    try:
        fen = douyin_withdrawable(client, uid, channel)
    except DouyinError as error:
        log.info("platform balance for organization %s not current: %s", organization_id, error)
        if cached is not None:
            return PlatformBalance(cached[0], cached[1], current=False, error=error)
        return PlatformBalance(None, None, current=False, error=error)
    remember(organization_id, uid, fen, now=now, local_fen=local_fen)
    return PlatformBalance(fen, now, current=True)
