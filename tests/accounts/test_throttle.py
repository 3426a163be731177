"""The sign-in counters are atomic: concurrent wrong passwords get exactly the limit of checks."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from portal.accounts.throttle import LoginThrottle
from tests.fixtures.app import REDIS_TEST_URL, _redis_answers


@pytest.fixture(params=["memory", "redis"])
def throttle(request):
    if request.param == "redis":
        # `make test` needs Redis (README, .ci/run starts it): a missing one fails here, never skips.
        assert _redis_answers(), f"Redis is not answering at {REDIS_TEST_URL}"
        return LoginThrottle(REDIS_TEST_URL, per_account=5, per_address=50, window_seconds=900, prefix=f"t{secrets.token_hex(4)}-")
    return LoginThrottle("memory://", per_account=5, per_address=50, window_seconds=900)


def test_twenty_attempts_at_once_get_exactly_five_checks(throttle):
    with ThreadPoolExecutor(max_workers=20) as pool:
        admitted = list(pool.map(lambda _: throttle.admit("owner@x.cn", "203.0.113.9"), range(20)))
    assert admitted.count(True) == 5


def test_a_success_clears_the_account_count_from_that_address(throttle):
    for _ in range(4):
        assert throttle.admit("owner@x.cn", "203.0.113.9")
        throttle.failed("owner@x.cn", "203.0.113.9")
    assert throttle.admit("owner@x.cn", "203.0.113.9")
    throttle.succeeded("owner@x.cn", "203.0.113.9")
    assert all(throttle.admit("owner@x.cn", "203.0.113.9") for _ in range(5))
