"""Fixtures for the contract suite: a client against served reference replies, and a sandbox."""

from __future__ import annotations

import pytest
import responses

from portal.douyin import DouyinClient, DouyinCredentials, MemoryTokenCache
from tests.fixtures.douyin import app_keys

BASE = "https://open.douyin.test"
APP_ID = "tt0123456789abcdef"
ACCOUNT_ID = "7136075595087087628"


class _NoLimit:
    def acquire(self, *args, **kwargs) -> None:
        return None


@pytest.fixture
def reference_client():
    """A DouyinClient whose every request is captured by `responses` (nothing leaves the process)."""
    credentials = DouyinCredentials(
        app_id=APP_ID, app_secret="secret", account_id=ACCOUNT_ID, private_key_pem=app_keys()[0]
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        client = DouyinClient(
            credentials, base_url=BASE, token_cache=MemoryTokenCache(), rate_limiter=_NoLimit(),
            sleep=lambda _s: None, max_retries=0, authorizer_token=lambda _stale: "isvact.reference",
        )
        yield client, mock


@pytest.fixture
def sandbox_world():
    from tests.sandbox.conftest import World, make_app

    application = make_app()
    try:
        yield World(application.test_client())
    finally:
        application.extensions["sandbox"].stop()
