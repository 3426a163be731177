"""Prometheus metrics at /metrics: who may scrape, and that requests, Douyin calls, callbacks,
jobs and the stores' figures appear (scraped and parsed)."""

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from portal.douyin.client import DouyinClient, DouyinCredentials
from portal.douyin.errors import DouyinUnavailable
from portal.ops.context import request_id_bound

BASE = "https://douyin.test"


def scrape(client, token="scrape-token") -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(autouse=True)
def metrics_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token")


def test_metrics_need_the_token_or_an_operator(client, owner, operator):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.login_as(owner).get("/metrics").status_code == 403
    assert client.login_as(operator).get("/metrics").status_code == 200


def test_requests_are_counted_by_endpoint_method_and_status(client):
    before = scrape(client)
    client.get("/login")
    client.get("/login")
    client.get("/no-such-page")
    after = scrape(client)
    key = {"endpoint": "accounts.login", "method": "GET", "status": "200"}
    assert value(after, "portal_http_requests_total", **key) - value(before, "portal_http_requests_total", **key) == 2
    missing = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "portal_http_requests_total", **missing) - value(before, "portal_http_requests_total", **missing) == 1
    count = {"endpoint": "accounts.login", "method": "GET"}
    assert value(after, "portal_http_request_duration_seconds_count", **count) - value(before, "portal_http_request_duration_seconds_count", **count) == 2


def test_douyin_calls_are_counted_by_api_and_outcome_and_carry_the_request_id(client):
    before = scrape(client)
    douyin = DouyinClient(DouyinCredentials(app_id="tt1", app_secret="s"), base_url=BASE, max_retries=0, sleep=lambda s: None)
    token = {"data": {"access_token": "clt", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}
    with responses.RequestsMock() as rsps, request_id_bound("req-douyin-1"):
        rsps.add("POST", f"{BASE}/oauth/client_token/", json=token)
        rsps.add("POST", f"{BASE}/oauth/client_token/", status=503, json={})
        douyin.fetch_client_token()
        with pytest.raises(DouyinUnavailable):
            douyin.fetch_client_token()
        assert rsps.calls[0].request.headers["X-Request-ID"] == "req-douyin-1"
    after = scrape(client)
    for outcome in ("ok", "unavailable"):
        labels = {"api": "/oauth/client_token/", "outcome": outcome}
        assert value(after, "portal_douyin_calls_total", **labels) - value(before, "portal_douyin_calls_total", **labels) == 1
    seconds = {"api": "/oauth/client_token/"}
    assert value(after, "portal_douyin_call_duration_seconds_count", **seconds) - value(before, "portal_douyin_call_duration_seconds_count", **seconds) == 2


def test_callbacks_are_counted_accepted_or_refused_by_reason(client, connected, db):
    before = scrape(client)
    message = {"order_id": "ot-m1", "out_order_no": "o-m1", "status": "SUCCESS", "total_amount": 9900, "message_id": "m-metrics-1"}
    assert connected.trade_callback("metrics_test", message).status_code == 200
    assert connected.trade_callback("metrics_test", message).status_code == 200
    assert connected.trade_callback("metrics_test", message, tamper=True).status_code == 401
    assert client.post("/douyin/callbacks/no-such-token/trade", data=b"{}").status_code == 404
    after = scrape(client)

    def delta(**labels):
        return value(after, "portal_douyin_callbacks_total", **labels) - value(before, "portal_douyin_callbacks_total", **labels)

    assert delta(source="trade", outcome="accepted", reason="") == 1
    assert delta(source="trade", outcome="duplicate", reason="") == 1
    assert delta(source="trade", outcome="refused", reason="bad signature") == 1
    assert delta(source="trade", outcome="refused", reason="unknown token") == 1


def succeeding_job():
    from portal.jobs import app_context

    with app_context():
        return "done"


def failing_job():
    from portal.jobs import app_context

    with app_context():
        raise RuntimeError("boom")


def test_a_batch_job_is_counted_once_whatever_it_ran(client, db, queue):
    """run_batched runs each waiting call, and each call opens the job's context again."""
    from portal.extensions import queue as jobs

    before = scrape(client)
    for _ in range(3):
        jobs.enqueue_batched("tests.ops.test_metrics.succeeding_job")
        db.session.commit()
    queue.run()
    after = scrape(client)
    ok = {"func": "portal.jobs.default.run_batched", "outcome": "ok"}
    assert value(after, "portal_jobs_total", **ok) - value(before, "portal_jobs_total", **ok) == 1


def test_jobs_are_counted_by_function_and_outcome(client, db, queue):
    from portal.extensions import queue as jobs

    before = scrape(client)
    jobs.enqueue("default", "tests.ops.test_metrics.succeeding_job")
    jobs.enqueue("default", "tests.ops.test_metrics.failing_job")
    db.session.commit()
    queue.run()
    after = scrape(client)
    ok = {"func": "tests.ops.test_metrics.succeeding_job", "outcome": "ok"}
    failed = {"func": "tests.ops.test_metrics.failing_job", "outcome": "failed"}
    assert value(after, "portal_jobs_total", **ok) - value(before, "portal_jobs_total", **ok) == 1
    assert value(after, "portal_jobs_total", **failed) - value(before, "portal_jobs_total", **failed) == 1
    assert value(after, "portal_queue_failed_jobs", queue="default") >= 1


def test_outbox_backlog_queue_depth_and_settlement_lag_are_read_when_scraped(client, db, org, orders, clock, queue):
    from portal import outbox

    empty = scrape(client)
    assert value(empty, "portal_figures_up") == 1
    assert value(empty, "portal_settlement_overdue_orders") == 0
    outbox.add(org.id, "metrics.test", {}, dedupe_key="metrics-1")
    order = orders.order(org, paid_fen=9900)
    orders.redeem_all(order)
    db.session.commit()
    clock.advance(hours=1)
    samples = scrape(client)
    assert value(samples, "portal_outbox_messages", status="pending") == value(empty, "portal_outbox_messages", status="pending") + 1
    assert value(samples, "portal_outbox_oldest_pending_seconds") >= 3600
    assert value(samples, "portal_queue_jobs", queue="outbox") >= 1
    clock.advance(days=4)  # past the D+3 settlement day, and the settlement job has not run
    late = scrape(client)
    assert value(late, "portal_settlement_overdue_orders") == 1
    assert value(late, "portal_settlement_lag_seconds") > 24 * 3600
