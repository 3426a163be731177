"""DouyinClient against `responses`: tokens, envelopes, retries, rate limits, signing."""

from __future__ import annotations

import json
import random
import sys
import threading
from email.utils import formatdate
from urllib.parse import parse_qs, parse_qsl, urlsplit

import fakeredis
import pytest
import requests
import responses

from portal.douyin import (
    DouyinAuthError,
    DouyinClient,
    DouyinConfigError,
    DouyinCredentials,
    DouyinError,
    DouyinRateLimited,
    DouyinUnavailable,
    Family,
    Limit,
    MemoryTokenCache,
    RedisTokenCache,
    TokenBucketLimiter,
)
from portal.douyin.errors import error_for_code
from portal.douyin.ratelimit import TokenBucket
from portal.douyin.signing import generate_rsa_keypair, parse_byte_authorization, verify_byte_authorization

BASE = "https://douyin.test"
LEGACY = "https://legacy.test"
APP_ID = "tt0123456789abcdef"
ACCOUNT = "7000000000000000001"
T0 = 1_700_000_000.0

ONLINE = f"{BASE}/goodlife/v1/goods/product/online/query/"
DRAFTS = f"{BASE}/goodlife/v1/goods/product/draft/query/"
SAVE = f"{BASE}/goodlife/v1/goods/product/save/"
TOKEN = f"{BASE}/oauth/client_token/"


def trade_url(name: str) -> str:
    return f"{BASE}/api/trade_basic/v1/developer/{name}/"


def goodlife_ok(**data) -> dict:
    return {
        "data": {"error_code": 0, "description": "success", **data},
        "extra": {"error_code": 0, "description": "success", "sub_error_code": 0, "sub_description": "", "logid": "L-ok", "now": 1},
    }


# An empty draft/query page (the reply shape of tests/contracts/fixtures/goods_product_draft_query.json):
# the plumbing tests below use draft/query as their idempotent GET.
NO_DRAFTS = {"products": [], "has_more": False}


def online_page(ids, next_cursor, has_more) -> dict:
    entries = [{"online_status": 1, "product": {"product_id": i, "product_name": f"套餐{i}"}} for i in ids]
    return goodlife_ok(products=entries, next_cursor=next_cursor, has_more=has_more)


def goodlife_error(code: int, description: str, *, logid: str = "L-err", sub_code: int = 0, sub: str = "") -> dict:
    return {
        "data": {"error_code": code, "description": description},
        "extra": {"error_code": code, "description": description, "sub_error_code": sub_code, "sub_description": sub, "logid": logid, "now": 1},
    }


def trade_ok(**data) -> dict:
    return {"err_no": 0, "err_msg": "", "log_id": "T-ok", "data": data}


class FakeClock:
    """now() and sleep() for the client and the limiter: sleeping moves time, instantly."""

    def __init__(self, start: float = T0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class MaxJitter(random.Random):
    """Full jitter that always picks the top of the window, so delays are predictable."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(clock, keypair):
    def make(*, limits=None, credentials=None, **kwargs) -> DouyinClient:
        kwargs.setdefault("rate_limiter", TokenBucketLimiter(limits or {}, now=clock.now, sleep=clock.sleep))
        kwargs.setdefault("rng", MaxJitter())
        creds = credentials or DouyinCredentials(
            app_id=APP_ID,
            app_secret="secret",
            account_id=ACCOUNT,
            private_key_pem=keypair[0],
            key_version="3",
        )
        kwargs.setdefault("authorizer_token", lambda _stale: "isvact.test")  # third-party platform calls
        return DouyinClient(creds, base_url=BASE, sleep=clock.sleep, now=clock.now, **kwargs)

    return make


@pytest.fixture
def client(make_client) -> DouyinClient:
    return make_client()


def add_token(rsps, token: str = "clt.first", expires_in: int = 7200) -> None:
    rsps.add(
        "POST",
        TOKEN,
        json={"data": {"access_token": token, "expires_in": expires_in, "error_code": 0, "description": ""}, "message": "success"},
    )


def calls_to(rsps, url: str) -> list:
    return [c for c in rsps.calls if c.request.url.split("?")[0] == url]


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --- pagination ---------------------------------------------------------------------------------


def test_iter_online_products_follows_cursors_until_has_more_is_false(client, rsps):
    add_token(rsps)
    rsps.add("GET", ONLINE, json=online_page(["1", "2"], "c1", True))
    rsps.add("GET", ONLINE, json=online_page(["3"], "c2", True))
    rsps.add("GET", ONLINE, json=online_page(["4"], "c3", False))

    ids = [entry["product"]["product_id"] for entry in client.iter_online_products(page_size=2)]

    assert ids == ["1", "2", "3", "4"]
    pages = calls_to(rsps, ONLINE)
    assert [query(c).get("cursor") for c in pages] == [None, ["c1"], ["c2"]]
    assert all(query(c)["count"] == ["2"] and query(c)["account_id"] == [ACCOUNT] for c in pages)


def test_iter_online_products_refuses_a_cursor_that_does_not_advance(client, rsps):
    add_token(rsps)
    rsps.add("GET", ONLINE, json=online_page(["1"], "c1", True))
    rsps.add("GET", ONLINE, json=online_page(["1"], "c1", True))

    with pytest.raises(DouyinError, match="same cursor"):
        list(client.iter_online_products())
    assert len(calls_to(rsps, ONLINE)) == 2


@pytest.mark.parametrize("count", [0, 51])
def test_online_query_rejects_page_sizes_outside_1_to_50(client, rsps, count):
    with pytest.raises(ValueError):
        client.online_query(count=count)
    assert len(rsps.calls) == 0


# --- retries ------------------------------------------------------------------------------------


def test_idempotent_call_retries_5xx_with_exponential_full_jitter_then_succeeds(client, rsps, clock):
    add_token(rsps)
    rsps.add("GET", DRAFTS, status=503, body="busy")
    rsps.add("GET", DRAFTS, status=502, body="bad gateway")
    rsps.add("GET", DRAFTS, status=500, json={"oops": 1})
    rsps.add("GET", DRAFTS, json=goodlife_ok(products=[], has_more=False))

    data = client.draft_query(status=10)

    assert data["has_more"] is False
    assert len(calls_to(rsps, DRAFTS)) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]  # backoff * 2**attempt, top of the jitter window


def test_full_jitter_draws_from_zero_to_the_exponential_cap(make_client, rsps, clock):
    seen: list[tuple[float, float]] = []

    class Recording(random.Random):
        def uniform(self, a, b):
            seen.append((a, b))
            return 0.0

    client = make_client(rng=Recording(), backoff=1.0, max_backoff=3.0)
    add_token(rsps)
    for _ in range(3):
        rsps.add("GET", DRAFTS, status=503)
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()

    assert seen == [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)]
    assert clock.sleeps == [0.0, 0.0, 0.0]


def test_retries_stop_after_max_retries_with_douyin_unavailable(client, rsps):
    add_token(rsps)
    for _ in range(5):
        rsps.add("GET", DRAFTS, status=503, headers={"X-Tt-Logid": "LOG503"})

    with pytest.raises(DouyinUnavailable) as raised:
        client.draft_query()

    assert len(calls_to(rsps, DRAFTS)) == 4  # one call + max_retries=3
    assert raised.value.code == 503 and raised.value.retryable is True
    assert raised.value.log_id == "LOG503"


def test_timeouts_and_connection_errors_are_retried_then_succeed(client, rsps, clock):
    add_token(rsps)
    rsps.add("GET", DRAFTS, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.add("GET", DRAFTS, body=requests.exceptions.ConnectionError("refused"))
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    assert client.draft_query()["products"] == []
    assert len(clock.sleeps) == 2


def test_timeout_after_retries_raises_unavailable(client, rsps):
    add_token(rsps)
    for _ in range(4):
        rsps.add("GET", DRAFTS, body=requests.exceptions.ConnectTimeout("connect timed out"))

    with pytest.raises(DouyinUnavailable, match="timed out") as raised:
        client.draft_query()
    assert raised.value.retryable is True


def test_every_call_carries_the_configured_timeout(make_client, rsps):
    client = make_client(timeout=(1.5, 4))
    add_token(rsps)
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()

    assert len(rsps.calls) == 2
    assert all(c.request.req_kwargs["timeout"] == (1.5, 4) for c in rsps.calls)


def test_429_waits_exactly_retry_after_seconds(client, rsps, clock):
    add_token(rsps)
    rsps.add("GET", DRAFTS, status=429, headers={"Retry-After": "7"})
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    assert client.draft_query()["has_more"] is False
    assert clock.sleeps == [7.0]


def test_429_retry_after_as_an_http_date(client, rsps, clock):
    add_token(rsps)
    rsps.add("GET", DRAFTS, status=429, headers={"Retry-After": formatdate(T0 + 12, usegmt=True)})
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()

    assert clock.sleeps == [pytest.approx(12.0)]


def test_429_with_a_retry_after_longer_than_we_wait_is_raised_at_once(client, rsps, clock):
    add_token(rsps)
    rsps.add("GET", DRAFTS, status=429, headers={"Retry-After": "3600"})

    with pytest.raises(DouyinRateLimited) as raised:
        client.draft_query()
    assert raised.value.retry_after == 3600.0
    assert clock.sleeps == []
    assert len(calls_to(rsps, DRAFTS)) == 1


NON_IDEMPOTENT_CALLS = {
    "goods_save without out_id": (
        SAVE,
        lambda c: c.goods_save({"product_name": "双人餐", "category_id": "1"}, {"sku_name": "双人餐", "actual_amount": 9900}),
    ),
    "certificate_cancel without cancel_token": (
        f"{BASE}/goodlife/v1/fulfilment/certificate/cancel/",
        lambda c: c.certificate_cancel(certificate_id="c1", verify_id="v1"),
    ),
    "package_audit": (f"{BASE}/api/apps/v1/package_version/audit/", lambda c: c.package_audit(host_names=["douyin"], audit_note="首版")),
    "notify_user": (
        f"{BASE}/api/notification/v2/subscription/notify_user/",
        lambda c: c.notify_user(msg_id="MSG1", open_id="u1", data={"核销码": "123"}),
    ),
}


@pytest.mark.parametrize("failure", ["503", "timeout", "13000"])
@pytest.mark.parametrize("name", list(NON_IDEMPOTENT_CALLS))
def test_non_idempotent_call_without_its_key_is_never_retried(client, rsps, clock, name, failure):
    url, call = NON_IDEMPOTENT_CALLS[name]
    add_token(rsps)
    if failure == "503":
        rsps.add("POST", url, status=503)
    elif failure == "timeout":
        rsps.add("POST", url, body=requests.exceptions.ReadTimeout("slow"))
    else:
        rsps.add("POST", url, json=goodlife_error(13000, "系统错误"))
    rsps.add("POST", url, json=goodlife_ok(product_id="p1", msg_id="m1", audit_id="a1"))

    with pytest.raises(DouyinError) as raised:
        call(client)

    assert raised.value.retryable is True  # retryable by someone who knows, but not by us
    assert len(calls_to(rsps, url)) == 1
    assert clock.sleeps == []


IDEMPOTENT_WITH_KEY = {
    "goods_save with out_id": (
        SAVE,
        goodlife_ok(product_id="p1"),
        lambda c: c.goods_save({"out_id": "sku-1", "product_name": "双人餐"}, {"actual_amount": 9900}),
    ),
    "certificate_cancel with cancel_token": (
        f"{BASE}/goodlife/v1/fulfilment/certificate/cancel/",
        goodlife_ok(),
        lambda c: c.certificate_cancel(certificate_id="c1", verify_id="v1", cancel_token="ct-1"),
    ),
    "certificate_verify (verify_token)": (
        f"{BASE}/goodlife/v1/fulfilment/certificate/verify/",
        goodlife_ok(verify_results=[{"result": 0}]),
        lambda c: c.certificate_verify(verify_token="vt", poi_id="poi1", encrypted_codes=["e1"]),
    ),
    "refund_create (out_refund_no)": (
        trade_url("refund_create"),
        trade_ok(refund_id="motb1", refund_audit_deadline=1),
        lambda c: c.refund_create(
            order_id="ot1", out_refund_no="r1", refund_total_amount=9900, refund_all=True,
            refund_reason=[{"code": 101, "text": "不想要了"}],
        ),
    ),
    "settle_create (out_settle_no)": (
        trade_url("settle_create"),
        trade_ok(settle_id="ots1"),
        lambda c: c.settle_create(
            out_order_no="o1", out_settle_no="s1", settle_desc="结算", settle_params=[{"merchant_uid": "m", "amount": 1}]
        ),
    ),
    "merchant_withdraw (out_order_id)": (
        f"{BASE}/api/apps/ecpay/saas/merchant_withdraw/",
        trade_ok(order_id="N1", merchant_entity=1),
        lambda c: c.merchant_withdraw(merchant_uid="m1", channel_type="hz", out_order_id="wd-1", withdraw_amount=9500),
    ),
}


@pytest.mark.parametrize("name", list(IDEMPOTENT_WITH_KEY))
def test_post_with_its_idempotency_key_is_retried(client, rsps, clock, name):
    url, success, call = IDEMPOTENT_WITH_KEY[name]
    add_token(rsps)
    rsps.add("POST", url, status=503)
    rsps.add("POST", url, body=requests.exceptions.ReadTimeout("slow"))
    rsps.add("POST", url, json=success)

    call(client)

    bodies = [c.request.body for c in calls_to(rsps, url)]
    assert len(bodies) == 3
    assert bodies[0] == bodies[1] == bodies[2]  # the same key on every attempt
    assert len(clock.sleeps) == 2


def test_non_retryable_errors_are_raised_after_one_call(client, rsps, clock):
    add_token(rsps)
    rsps.add("GET", DRAFTS, json=goodlife_error(2100004, "账户不存在"))

    with pytest.raises(DouyinError) as raised:
        client.draft_query()
    assert raised.value.retryable is False
    assert len(calls_to(rsps, DRAFTS)) == 1 and clock.sleeps == []


# --- client_token ----------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(client, rsps):
    add_token(rsps, "clt.only")
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()
    client.draft_query()
    client.draft_query()

    assert len(calls_to(rsps, TOKEN)) == 1
    assert json.loads(calls_to(rsps, TOKEN)[0].request.body) == {
        "client_key": APP_ID,
        "client_secret": "secret",
        "grant_type": "client_credential",
    }
    assert [c.request.headers["access-token"] for c in calls_to(rsps, DRAFTS)] == ["clt.only"] * 3


def test_token_is_refreshed_five_minutes_before_expiry(client, rsps, clock):
    add_token(rsps, "clt.first")
    add_token(rsps, "clt.second")
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()
    clock.t = T0 + 7200 - 301
    client.draft_query()
    clock.t = T0 + 7200 - 300
    client.draft_query()

    assert len(calls_to(rsps, TOKEN)) == 2
    assert [c.request.headers["access-token"] for c in calls_to(rsps, DRAFTS)] == [
        "clt.first",
        "clt.first",
        "clt.second",
    ]


@pytest.mark.parametrize("code", [2190008, 2190002, 10008])
def test_token_error_refreshes_the_token_and_repeats_the_call_once(client, rsps, code):
    add_token(rsps, "clt.old")
    add_token(rsps, "clt.new")
    rsps.add("GET", DRAFTS, json=goodlife_error(code, "access_token expired"))
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    assert client.draft_query()["has_more"] is False
    assert [c.request.headers["access-token"] for c in calls_to(rsps, DRAFTS)] == ["clt.old", "clt.new"]
    assert client.token_cache.get(APP_ID)[0] == "clt.new"


@pytest.mark.parametrize("code", [28001003, 28001008])
def test_err_no_token_error_refreshes_the_token_and_repeats_the_call_once(client, rsps, code):
    add_token(rsps, "clt.old")
    add_token(rsps, "clt.new")
    rsps.add("POST", trade_url("refund_query"), json={"err_no": code, "err_msg": "access_token 无效", "log_id": "T1"})
    rsps.add("POST", trade_url("refund_query"), json=trade_ok(refund_list=[]))

    assert client.refund_query(refund_id="motb1")["refund_list"] == []
    assert [c.request.headers["access-token"] for c in calls_to(rsps, trade_url("refund_query"))] == ["clt.old", "clt.new"]


@pytest.mark.parametrize("code, kind", [(28001005, DouyinError), (28001006, DouyinError), (28003017, DouyinRateLimited)])
def test_err_no_platform_failures_and_quota_are_retried(client, rsps, clock, code, kind):
    add_token(rsps)
    rsps.add("POST", trade_url("refund_query"), json={"err_no": code, "err_msg": "系统内部错误", "log_id": "T1"})
    rsps.add("POST", trade_url("refund_query"), json=trade_ok(refund_list=[]))

    assert client.refund_query(refund_id="motb1")["refund_list"] == []
    assert len(clock.sleeps) == 1
    assert type(error_for_code(code, "x")) is kind and error_for_code(code, "x").retryable


def test_token_error_twice_is_raised_as_auth_error(client, rsps):
    add_token(rsps, "clt.old")
    add_token(rsps, "clt.new")
    add_token(rsps, "clt.newer")
    rsps.add("GET", DRAFTS, json=goodlife_error(2190008, "access_token expired", logid="LX"))

    with pytest.raises(DouyinAuthError) as raised:
        client.draft_query()
    assert raised.value.code == 2190008 and raised.value.log_id == "LX"
    assert len(calls_to(rsps, TOKEN)) == 2
    assert len(calls_to(rsps, DRAFTS)) == 2


def test_token_error_on_a_non_idempotent_call_is_repeated_once(client, rsps):
    url = f"{BASE}/api/notification/v2/subscription/notify_user/"
    add_token(rsps, "clt.old")
    add_token(rsps, "clt.new")
    rsps.add("POST", url, json={"err_no": 28001008, "err_msg": "access_token expired", "log_id": "l1"})
    rsps.add("POST", url, json={"err_no": 0, "err_msg": "", "log_id": "l2"})

    assert client.notify_user(msg_id="MSG1", open_id="u", data={"核销码": "123"}) == {}
    assert len(calls_to(rsps, url)) == 2


def test_token_refresh_adopts_a_token_another_process_already_stored(make_client, rsps):
    cache = MemoryTokenCache()
    cache.set(APP_ID, "clt.stale", T0 + 7200)
    client = make_client(token_cache=cache)
    add_token(rsps, "clt.fetched")

    def expired_while_someone_else_refreshed(request):
        cache.set(APP_ID, "clt.by-other-worker", T0 + 7200)
        return 200, {}, json.dumps(goodlife_error(2190008, "access_token expired"))

    rsps.add_callback("GET", DRAFTS, callback=expired_while_someone_else_refreshed)
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()

    assert calls_to(rsps, TOKEN) == []
    assert calls_to(rsps, DRAFTS)[1].request.headers["access-token"] == "clt.by-other-worker"


def test_redis_token_cache_is_shared_between_clients(make_client, rsps, clock):
    redis = fakeredis.FakeStrictRedis()
    add_token(rsps, "clt.shared", expires_in=7200)
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    make_client(token_cache=RedisTokenCache(redis, "t:", now=clock.now)).draft_query()
    make_client(token_cache=RedisTokenCache(redis, "t:", now=clock.now)).draft_query()

    assert len(calls_to(rsps, TOKEN)) == 1
    assert RedisTokenCache(redis, "t:").get(APP_ID) == ("clt.shared", T0 + 7200)
    assert 7100 < redis.ttl(f"t:{APP_ID}") <= 7201


def test_redis_token_cache_ignores_garbage():
    redis = fakeredis.FakeStrictRedis()
    redis.set("t:tt1", b"not json")
    assert RedisTokenCache(redis, "t:").get("tt1") is None
    assert RedisTokenCache(redis, "t:").get("missing") is None


def test_fetch_client_token_reports_bad_credentials_as_auth_error(client, rsps):
    rsps.add("POST", TOKEN, json={"data": {"error_code": 10013, "description": "client_key 或 client_secret 错误"}, "message": "error"}, headers={"x-tt-logid": "LTOK"})

    with pytest.raises(DouyinAuthError) as raised:
        client.fetch_client_token()
    assert (raised.value.code, raised.value.log_id, raised.value.retryable) == (10013, "LTOK", False)
    assert "client_secret" in raised.value.message


def test_fetch_client_token_retries_10020_as_rate_limited(client, rsps, clock):
    rsps.add("POST", TOKEN, json={"data": {"error_code": 10020, "description": "请求太频繁"}, "message": "error"})
    add_token(rsps, "clt.after-wait")

    token = client.fetch_client_token()

    assert token.access_token == "clt.after-wait"
    assert token.expires_at == T0 + 0.5 + 7200
    assert clock.sleeps == [0.5]


def test_basic_info_carries_the_authorizer_token_not_the_client_token(client, rsps):
    rsps.add("GET", f"{BASE}/api/apps/v2/basic_info/get_info/",
             json={"err_no": 0, "err_msg": "", "log_id": "l1", "data": {"app_id": APP_ID, "app_name": "小店", "app_state": 0}})

    assert client.basic_info()["app_name"] == "小店"
    assert calls_to(rsps, TOKEN) == []
    assert rsps.calls[0].request.headers["access-token"] == "isvact.test"


# --- envelopes and error mapping ---------------------------------------------------------------


def test_goodlife_error_carries_code_description_sub_code_and_logid(client, rsps):
    add_token(rsps)
    rsps.add(
        "POST",
        f"{BASE}/goodlife/v1/fulfilment/certificate/cancel/",
        json=goodlife_error(3000001, "已超过可撤销时限", logid="2024LOG", sub_code=2034000910, sub="超过1小时"),
    )

    with pytest.raises(DouyinError) as raised:
        client.certificate_cancel(certificate_id="c", verify_id="v", cancel_token="t")

    error = raised.value
    assert (error.code, error.message, error.log_id) == (3000001, "已超过可撤销时限", "2024LOG")
    assert (error.sub_code, error.sub_message, error.retryable) == (2034000910, "超过1小时", False)
    assert "2024LOG" in str(error)


def test_goodlife_error_only_in_extra_is_still_an_error(client, rsps):
    add_token(rsps)
    body = goodlife_ok(**NO_DRAFTS)
    body["extra"].update(error_code=2100005, description="小程序不存在", logid="LEX")
    rsps.add("GET", DRAFTS, json=body)

    with pytest.raises(DouyinError) as raised:
        client.draft_query()
    assert (raised.value.code, raised.value.message, raised.value.log_id) == (2100005, "小程序不存在", "LEX")


@pytest.mark.parametrize(
    "description, error_class",
    [("服务器错误", DouyinError), ("访问过于频繁，请稍后重试", DouyinRateLimited)],
)
def test_goodlife_transient_messages_are_retryable_and_retried(client, rsps, description, error_class):
    add_token(rsps)
    rsps.add("GET", DRAFTS, json=goodlife_error(1, description))
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    assert client.draft_query()["has_more"] is False
    assert len(calls_to(rsps, DRAFTS)) == 2

    rsps.add("GET", DRAFTS, json=goodlife_error(1, description))
    no_retry = DouyinClient(client.credentials, base_url=BASE, max_retries=0, token_cache=client.token_cache)
    with pytest.raises(error_class) as raised:
        no_retry.draft_query()
    assert raised.value.retryable is True


def test_trade_basic_error_carries_err_no_err_msg_and_log_id(client, rsps):
    add_token(rsps)
    rsps.add("POST", trade_url("settle_create"), json={"err_no": 23111, "err_msg": "out_settle_no 已存在", "log_id": "TLOG"})

    with pytest.raises(DouyinError) as raised:
        client.settle_create(out_order_no="o", out_settle_no="s", settle_desc="d", settle_params="[]")
    assert (raised.value.code, raised.value.message, raised.value.log_id) == (23111, "out_settle_no 已存在", "TLOG")
    assert raised.value.retryable is False
    assert len(calls_to(rsps, trade_url("settle_create"))) == 1


@pytest.mark.parametrize("code", [13000, 23000])
def test_trade_basic_system_errors_are_retried(client, rsps, clock, code):
    add_token(rsps)
    rsps.add("POST", trade_url("refund_query"), json={"err_no": code, "err_msg": "系统错误", "log_id": "T1"})
    rsps.add("POST", trade_url("refund_query"), json=trade_ok(refund_list=[]))

    assert client.refund_query(out_refund_no="r1")["refund_list"] == []
    assert len(clock.sleeps) == 1


def test_trade_basic_log_id_falls_back_to_the_x_tt_logid_header(client, rsps):
    add_token(rsps)
    rsps.add("POST", trade_url("refund_query"), json={"err_no": 10000, "err_msg": "参数错误"}, headers={"X-Tt-Logid": "HDR-LOG"})

    with pytest.raises(DouyinError) as raised:
        client.refund_query(out_refund_no="r1")
    assert (raised.value.code, raised.value.log_id) == (10000, "HDR-LOG")


def test_signature_rejection_401_is_an_auth_error_and_not_retried(client, rsps):
    add_token(rsps)
    rsps.add("POST", trade_url("tag_query"), status=401, json={"err_no": 28001001, "err_msg": "签名校验失败", "log_id": "S1"})

    with pytest.raises(DouyinAuthError) as raised:
        client.tag_query(101)
    assert (raised.value.code, raised.value.log_id, raised.value.http_status) == (28001001, "S1", 401)
    assert len(calls_to(rsps, trade_url("tag_query"))) == 1


def test_legacy_family_uses_legacy_host_signature_only_and_err_tips(make_client, rsps, keypair):
    client = make_client(legacy_base_url=LEGACY)
    url = f"{LEGACY}/api/apps/trade/v2/order/query_order"
    rsps.add("POST", url, json={"err_no": 4, "err_tips": "订单不存在"}, headers={"x-tt-logid": "LEG1"})

    with pytest.raises(DouyinError) as raised:
        client.request("POST", "/api/apps/trade/v2/order/query_order", family=Family.LEGACY, idempotent=True, body={"out_order_no": "o"})

    assert (raised.value.code, raised.value.message, raised.value.log_id) == (4, "订单不存在", "LEG1")
    sent = rsps.calls[0].request
    assert "access-token" not in sent.headers
    assert verify_byte_authorization(
        header=sent.headers["Byte-Authorization"],
        method="POST",
        uri="/api/apps/trade/v2/order/query_order",
        body=sent.body,
        public_key_pem=keypair[1],
    )


def test_legacy_success_without_data_returns_the_body_fields(make_client, rsps):
    client = make_client(legacy_base_url=LEGACY)
    rsps.add("POST", f"{LEGACY}/api/apps/ecpay/v1/query_order", json={"err_no": 0, "err_tips": "", "out_order_no": "o", "payment_info": {"order_status": "SUCCESS"}})

    data = client.request("POST", "/api/apps/ecpay/v1/query_order", family=Family.LEGACY, idempotent=True, body={})

    assert data == {"out_order_no": "o", "payment_info": {"order_status": "SUCCESS"}}


def test_a_200_that_is_not_json_is_a_non_retryable_error(client, rsps):
    add_token(rsps)
    rsps.add("GET", DRAFTS, body="<html>proxy login</html>", headers={"x-tt-logid": "H1"})

    with pytest.raises(DouyinError) as raised:
        client.draft_query()
    assert raised.value.retryable is False and raised.value.log_id == "H1"
    assert len(calls_to(rsps, DRAFTS)) == 1


# --- rate limiting ---------------------------------------------------------------------------


def test_token_bucket_sleeps_until_a_token_is_refilled(clock):
    bucket = TokenBucket(Limit(2, 1.0), now=clock.now, sleep=clock.sleep)

    assert bucket.acquire() == 0.0
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    assert clock.sleeps == [pytest.approx(0.5)]
    clock.t += 10  # refilling never exceeds the burst size
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_token_bucket_is_thread_safe(clock):
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke lost updates
    try:
        bucket = TokenBucket(Limit(100, 1.0), now=clock.now, sleep=lambda s: None)
        granted: list[int] = []
        waited: list[float] = []

        barrier = threading.Barrier(8)

        def worker():
            granted.append(sum(1 for _ in range(50) if bucket.try_acquire() == 0.0))
            barrier.wait()
            waited.extend(bucket.acquire() for _ in range(200))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)

    assert sum(granted) == 100  # frozen clock: exactly the burst, never more
    # 1600 queued acquires on a frozen clock get 1600 distinct slots 10 ms apart.
    assert sorted(round(w, 6) for w in waited) == [round(0.01 * n, 6) for n in range(1, 1601)]


def test_ledger_query_waits_when_its_bucket_is_empty(make_client, rsps, clock):
    client = make_client(limits={"ledger_query": Limit(2, 1.0)})
    add_token(rsps)
    rsps.add("GET", f"{BASE}/goodlife/v1/settle/ledger/query/", json=goodlife_ok(ledger_records=[], cursor="0", has_more=False))

    for _ in range(3):
        client.ledger_query(bill_date="2024-05-01")

    assert clock.sleeps == [pytest.approx(0.5)]
    assert len(rsps.calls) == 4


LEDGER = f"{BASE}/goodlife/v1/settle/ledger/query/"


def _ledger_page(order_ids, cursor, has_more):
    records = [{"order_id": o, "amount": {"pay": 100}} for o in order_ids]
    return goodlife_ok(ledger_records=records, cursor=cursor, has_more=has_more)


def test_ledger_records_follow_the_cursor_to_the_last_page(client, rsps):
    add_token(rsps)
    rsps.add("GET", LEDGER, json=_ledger_page(["o1", "o2"], "c1", True))
    rsps.add("GET", LEDGER, json=_ledger_page(["o3"], "c2", True))
    rsps.add("GET", LEDGER, json=_ledger_page(["o4"], "c3", False))

    records = list(client.iter_ledger_records("2024-05-01", page_size=2))

    assert [r["order_id"] for r in records] == ["o1", "o2", "o3", "o4"]
    sent = [dict(parse_qsl(urlsplit(c.request.url).query)) for c in calls_to(rsps, LEDGER)]
    assert [q["cursor"] for q in sent] == ["0", "c1", "c2"]
    assert sent[0] == {"account_id": sent[0]["account_id"], "bill_date": "2024-05-01", "cursor": "0", "size": "2"}


def test_ledger_records_refuse_a_cursor_that_does_not_advance(client, rsps):
    add_token(rsps)
    rsps.add("GET", LEDGER, json=_ledger_page(["o1"], "c1", True))
    rsps.add("GET", LEDGER, json=_ledger_page(["o2"], "c1", True))

    with pytest.raises(DouyinError, match="does not advance"):
        list(client.iter_ledger_records("2024-05-01"))


def test_certificate_prepare_is_limited_per_app(make_client, rsps, clock, keypair):
    limiter = TokenBucketLimiter({"certificate_prepare": Limit(1, 1.0)}, now=clock.now, sleep=clock.sleep)
    first = make_client(rate_limiter=limiter)
    other = make_client(rate_limiter=limiter, credentials=DouyinCredentials(app_id="tt-other", app_secret="s"))
    add_token(rsps)
    rsps.add("GET", f"{BASE}/goodlife/v1/fulfilment/certificate/prepare/", json=goodlife_ok(verify_token="vt", order_id="o1", certificates=[]))

    first.certificate_prepare(code="123456789012")
    other.certificate_prepare(code="123456789012")
    assert clock.sleeps == []
    first.certificate_prepare(code="123456789012")
    assert clock.sleeps == [pytest.approx(1.0)]


def test_client_token_fetches_share_the_500_per_5_minutes_bucket(make_client, rsps, clock):
    client = make_client(limits={"client_token": Limit(500, 300.0)})
    add_token(rsps)

    for _ in range(500):
        client.fetch_client_token()
    assert clock.sleeps == []
    client.fetch_client_token()
    assert clock.sleeps == [pytest.approx(0.6)]


# --- request bytes and Byte-Authorization -------------------------------------------------------


def test_trade_basic_call_sends_the_exact_bytes_with_the_access_token_only(client, rsps):
    add_token(rsps, "clt.tok")
    rsps.add("POST", trade_url("refund_create"), json=trade_ok(refund_id="motb1", refund_audit_deadline=1))

    data = client.refund_create(
        order_id="ot1",
        out_refund_no="r-1",
        refund_total_amount=9900,
        item_order_detail=[{"item_order_id": "io1", "refund_amount": 9900}],
        refund_reason=[{"code": 101, "text": "不想要了"}],
    )

    assert data["refund_id"] == "motb1"
    sent = calls_to(rsps, trade_url("refund_create"))[0].request
    assert sent.body == (
        '{"order_id":"ot1","out_refund_no":"r-1","refund_total_amount":9900,'
        '"item_order_detail":[{"item_order_id":"io1","refund_amount":9900}],'
        '"refund_reason":[{"code":101,"text":"不想要了"}]}'
    ).encode("utf-8")
    assert sent.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent.headers["access-token"] == "clt.tok"
    assert "Byte-Authorization" not in sent.headers


def test_legacy_call_is_signed_over_the_exact_bytes_sent(make_client, rsps, keypair):
    client = make_client(legacy_base_url=LEGACY)
    url = f"{LEGACY}/api/apps/trade/v2/x"
    rsps.add("POST", url, json={"err_no": 0, "err_tips": "", "data": {}})

    client.request("POST", "/api/apps/trade/v2/x", family=Family.LEGACY, idempotent=True, body={"a": "二"})

    sent = calls_to(rsps, url)[0].request
    header = sent.headers["Byte-Authorization"]
    fields = parse_byte_authorization(header)
    assert (fields["appid"], fields["key_version"], fields["timestamp"]) == (APP_ID, "3", str(int(T0)))
    assert verify_byte_authorization(header=header, method="POST", uri="/api/apps/trade/v2/x", body=sent.body, public_key_pem=keypair[1])
    assert not verify_byte_authorization(header=header, method="POST", uri="/api/apps/trade/v2/x", body=sent.body + b" ", public_key_pem=keypair[1])


def test_each_attempt_is_signed_with_a_fresh_nonce(make_client, rsps):
    client = make_client(legacy_base_url=LEGACY)
    url = f"{LEGACY}/api/apps/trade/v2/x"
    rsps.add("POST", url, status=503)
    rsps.add("POST", url, json={"err_no": 0, "err_tips": "", "data": {}})

    client.request("POST", "/api/apps/trade/v2/x", family=Family.LEGACY, idempotent=True, body={})

    nonces = [parse_byte_authorization(c.request.headers["Byte-Authorization"])["nonce_str"] for c in calls_to(rsps, url)]
    assert len(set(nonces)) == 2


def test_signed_uri_includes_the_query_string_sent(make_client, rsps, keypair):
    client = make_client(legacy_base_url=LEGACY + "/prefix")
    rsps.add("GET", f"{LEGACY}/prefix/api/apps/trade/v2/x", json={"err_no": 0, "err_tips": "", "data": {}})

    client.request("GET", "/api/apps/trade/v2/x", family=Family.LEGACY, idempotent=True, params={"b": "二", "a": 1})

    sent = rsps.calls[0].request
    uri = urlsplit(sent.url).path + "?" + urlsplit(sent.url).query
    assert uri.startswith("/prefix/api/apps/trade/v2/x?b=")
    assert verify_byte_authorization(header=sent.headers["Byte-Authorization"], method="GET", uri=uri, body=b"", public_key_pem=keypair[1])


def test_goodlife_calls_are_not_signed(client, rsps):
    add_token(rsps)
    rsps.add("GET", DRAFTS, json=goodlife_ok(**NO_DRAFTS))

    client.draft_query()
    assert "Byte-Authorization" not in calls_to(rsps, DRAFTS)[0].request.headers


def test_signed_call_without_a_private_key_fails_before_sending(make_client, rsps):
    client = make_client(credentials=DouyinCredentials(app_id=APP_ID, app_secret="s"), legacy_base_url=LEGACY)

    with pytest.raises(DouyinConfigError):
        client.request("POST", "/api/apps/trade/v2/x", family=Family.LEGACY, idempotent=True, body={})
    assert [c for c in rsps.calls if "/api/apps/trade/v2/x" in c.request.url] == []


def test_trade_basic_call_needs_no_private_key(make_client, rsps):
    client = make_client(credentials=DouyinCredentials(app_id=APP_ID, app_secret="s"))
    add_token(rsps)
    rsps.add("POST", trade_url("tag_query"), json=trade_ok(tag_detail_list=[]))

    assert client.tag_query(101)["tag_detail_list"] == []
    assert json.loads(calls_to(rsps, trade_url("tag_query"))[0].request.body) == {"goods_type": 101}


# --- request shapes -----------------------------------------------------------------------------


def test_settle_create_sends_settle_params_as_a_json_string(client, rsps):
    add_token(rsps)
    rsps.add("POST", trade_url("settle_create"), json=trade_ok(settle_id="ots1"))

    client.settle_create(out_order_no="o1", out_settle_no="s1", settle_desc="结算", settle_params=[{"merchant_uid": "m1", "amount": 9900}])

    body = json.loads(calls_to(rsps, trade_url("settle_create"))[0].request.body)
    assert body["settle_params"] == '[{"merchant_uid":"m1","amount":9900}]'


@pytest.mark.parametrize("online, op_type", [(True, 1), (False, 2)])
def test_goods_operate_maps_online_to_op_type(client, rsps, online, op_type):
    add_token(rsps)
    url = f"{BASE}/goodlife/v1/goods/product/operate/"
    rsps.add("POST", url, json=goodlife_ok())

    client.goods_operate(product_id="p1", online=online)

    assert json.loads(calls_to(rsps, url)[0].request.body) == {"account_id": ACCOUNT, "product_id": "p1", "op_type": op_type}


def test_refund_audit_sends_status_and_requires_a_reason_to_deny(client, rsps):
    add_token(rsps)
    rsps.add("POST", trade_url("refund_audit_callback"), json=trade_ok())

    with pytest.raises(ValueError):
        client.refund_audit(refund_id="motb1", agree=False)
    client.refund_audit(refund_id="motb1", agree=False, deny_message="已核销")

    body = json.loads(calls_to(rsps, trade_url("refund_audit_callback"))[0].request.body)
    assert body == {"refund_id": "motb1", "refund_audit_status": 2, "deny_message": "已核销"}


def test_draft_get_joins_ids_and_caps_them_at_ten(client, rsps):
    add_token(rsps)
    url = f"{BASE}/goodlife/v1/goods/product/draft/get/"
    rsps.add("GET", url, json=goodlife_ok(product_drafts=[]))

    with pytest.raises(ValueError):
        client.draft_get([str(i) for i in range(11)])
    client.draft_get(["1", "2"])

    assert query(calls_to(rsps, url)[0])["product_ids"] == ["1,2"]


def test_account_id_is_required_for_goodlife_account_calls(make_client, rsps):
    client = make_client(credentials=DouyinCredentials(app_id=APP_ID, app_secret="s"))

    with pytest.raises(DouyinConfigError):
        client.online_query()
    assert len(rsps.calls) == 0


def test_merchant_withdraw_rejects_non_integer_amounts(client, rsps):
    for amount in (0, -1, 12.5, True):
        with pytest.raises(ValueError):
            client.merchant_withdraw(merchant_uid="m1", channel_type="hz", out_order_id="w1", withdraw_amount=amount)
    assert len(rsps.calls) == 0


def test_credentials_repr_hides_secrets(keypair):
    creds = DouyinCredentials(app_id=APP_ID, app_secret="very-secret", private_key_pem=keypair[0])
    assert "very-secret" not in repr(creds) and "PRIVATE" not in repr(creds)


def test_errors_survive_pickling_for_job_queues():
    import pickle

    for error in (
        DouyinRateLimited(429, "slow down", "L1", retry_after=3.0),
        DouyinConfigError("no private key"),
        DouyinUnavailable(503, "HTTP 503", "L2"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.code, copy.message, copy.log_id, copy.retryable) == (error.code, error.message, error.log_id, error.retryable)
    assert pickle.loads(pickle.dumps(DouyinRateLimited(429, "x", retry_after=3.0))).retry_after == 3.0


def test_a_token_fetch_held_too_long_by_another_thread_is_an_error_not_a_wait(client, monkeypatch):
    from portal.douyin import client as client_module

    monkeypatch.setattr(client_module, "TOKEN_LOCK_WAIT_SECONDS", 0.05)
    lock = client_module._token_lock(client._token_key)
    holder_has_it, release = threading.Event(), threading.Event()

    def holder():
        with lock:
            holder_has_it.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        holder_has_it.wait(5)
        with pytest.raises(DouyinUnavailable, match="fetching the access token"):
            client._access_token()
    finally:
        release.set()
        thread.join(5)
    assert lock.acquire(blocking=False)  # the failed wait took nothing
    lock.release()
