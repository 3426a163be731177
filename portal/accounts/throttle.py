"""Sign-in throttling with atomic counters (the `limits` library: Redis when REDIS_URL is set, so
every web process shares them; in memory on the embedded default, which has one process).

Three moving windows of LOGIN_FAILURE_WINDOW_SECONDS:

- one e-mail from one client address: LOGIN_MAX_FAILURES attempts, taken *before* the password
  is checked, so twenty wrong passwords sent at once still get only that many checks;
- one e-mail from anywhere: twenty times that, against guessing spread over many addresses;
- one client address, over all e-mails: LOGIN_MAX_FAILURES_PER_ADDRESS failures. It throttles that
  address only: what one address sends never locks anyone else out of their account.

A successful sign-in clears the e-mail-and-address window. The client address is
`request.remote_addr`, which believes X-Forwarded-For only from TRUSTED_PROXIES (portal.security).
"""

from __future__ import annotations

import threading

from flask import current_app
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LoginThrottle:
    def __init__(self, storage_uri: str, *, per_account: int, per_address: int, window_seconds: int, prefix: str = ""):
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.storage_uri = storage_uri
        self.account_here = RateLimitItemPerSecond(per_account, window_seconds, namespace=f"{prefix}login-account-address")
        self.account = RateLimitItemPerSecond(per_account * 20, window_seconds, namespace=f"{prefix}login-account")
        self.address = RateLimitItemPerSecond(per_address, window_seconds, namespace=f"{prefix}login-address")

    def admit(self, email: str, address: str) -> bool:
        """Take one attempt for `email` from `address`; False (nothing taken) when over a limit."""
        if not self.limiter.test(self.address, address):
            return False
        if not self.limiter.hit(self.account_here, email, address):
            return False
        return self.limiter.hit(self.account, email)

    def failed(self, email: str, address: str) -> None:
        self.limiter.hit(self.address, address)

    def succeeded(self, email: str, address: str) -> None:
        self.limiter.clear(self.account_here, email, address)

    def reset(self) -> None:
        """Forget every count (tests)."""
        self.limiter.storage.reset()


_building = threading.Lock()


def current() -> LoginThrottle:
    """The app's throttle, built on first use from its settings. Once per app, under a lock: the
    first sign-ins of a threaded process arriving together must share one in-memory counter, not
    each count in a throttle of its own."""
    app = current_app._get_current_object()
    throttle = app.extensions.get("login_throttle")
    if throttle is not None:
        return throttle
    with _building:
        throttle = app.extensions.get("login_throttle")
        if throttle is not None:
            return throttle
        config = app.config
        uri = config.get("LOGIN_THROTTLE_STORAGE") or config.get("REDIS_URL") or "memory://"
        throttle = LoginThrottle(
            uri,
            per_account=config["LOGIN_MAX_FAILURES"],
            per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            window_seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"],
            prefix=config.get("RQ_QUEUE_PREFIX", ""),
        )
        app.extensions["login_throttle"] = throttle
    return throttle
