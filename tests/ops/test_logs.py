"""Request ids: taken from X-Request-ID or made, echoed, on every log line (JSON in production),
carried into the jobs a request queues and the Douyin calls they make, and shown on error pages."""

import io
import json
import logging

import pytest
import responses
from bs4 import BeautifulSoup

from portal.ops import logs
from portal.ops.context import current_request_id, request_id_bound


@pytest.fixture
def json_lines(app):
    """The portal's log handler writing JSON into a buffer: `json_lines()` gives the parsed lines."""
    handler = logs.configure({"LOG_FORMAT": "json"})
    stream, handler.stream = handler.stream, io.StringIO()
    buffer = handler.stream
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler.stream = stream
    logs.configure(app.config)


def test_a_request_id_is_made_when_none_is_given_and_echoed(client):
    first = client.get("/login").headers["X-Request-ID"]
    second = client.get("/login").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_given_request_id_is_kept_and_a_malformed_one_replaced(client):
    assert client.get("/login", headers={"X-Request-ID": "lb-7f3a.1"}).headers["X-Request-ID"] == "lb-7f3a.1"
    replaced = client.get("/login", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert replaced != "bad id <script>" and len(replaced) == 32


def test_each_request_ends_with_a_json_line_with_id_user_organization_endpoint_status_duration(client, owner, org, json_lines):
    client.login_as(owner).get("/", headers={"X-Request-ID": "req-line-1"}, follow_redirects=True)
    lines = [line for line in json_lines() if line["logger"] == "portal.request"]
    first = lines[0]
    assert first["request_id"] == "req-line-1"
    assert first["user_id"] == owner.id
    assert {"endpoint", "method", "path", "status", "duration_ms", "ts", "level", "message"} <= set(first)
    assert any(line["organization_id"] == org.id for line in lines)


def test_probes_are_not_logged(client, json_lines):
    client.get("/healthz")
    client.get("/readyz")
    assert [line for line in json_lines() if line["logger"] == "portal.request"] == []


def test_text_logs_on_the_embedded_default_json_elsewhere():
    assert logs.log_format({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}) == "text"
    assert logs.log_format({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://h/p"}) == "json"
    assert logs.log_format({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db", "LOG_FORMAT": "json"}) == "json"


def job_that_logs_and_calls_douyin():
    from portal.douyin.client import DouyinClient, DouyinCredentials
    from portal.jobs import app_context

    with app_context():
        logging.getLogger("tests.job").info("job ran")
        douyin = DouyinClient(DouyinCredentials(app_id="tt1", app_secret="s"), base_url="https://douyin.test", max_retries=0)
        douyin.fetch_client_token()
        return current_request_id()


def test_the_request_id_travels_into_the_job_and_its_douyin_call(db, queue, json_lines):
    from portal.extensions import queue as jobs

    with request_id_bound("req-counter-42"):
        jobs.enqueue("default", "tests.ops.test_metrics.succeeding_job")  # another job, its own id kept
        jobs.enqueue("default", "tests.ops.test_logs.job_that_logs_and_calls_douyin")
        db.session.commit()
    token = {"data": {"access_token": "clt", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"}
    with responses.RequestsMock() as rsps:
        rsps.add("POST", "https://douyin.test/oauth/client_token/", json=token)
        queue.run()
        assert rsps.calls[0].request.headers["X-Request-ID"] == "req-counter-42"
    lines = json_lines()
    assert {"logger": "tests.job", "message": "job ran", "request_id": "req-counter-42"}.items() <= next(
        line for line in lines if line["logger"] == "tests.job"
    ).items()
    douyin_line = next(line for line in lines if line["logger"] == "portal.douyin.client")
    assert douyin_line["request_id"] == "req-counter-42"
    assert douyin_line["douyin_api"] == "/oauth/client_token/" and douyin_line["outcome"] == "ok"


def test_a_scheduled_job_without_a_request_logs_under_its_job_id(db, queue, json_lines):
    from portal.extensions import queue as jobs

    jobs.enqueue("default", "tests.ops.test_logs.job_that_only_logs")
    db.session.commit()
    queue.run()
    line = next(line for line in json_lines() if line["logger"] == "tests.job")
    assert line["request_id"].startswith("job:")


def job_that_only_logs():
    from portal.jobs import app_context

    with app_context():
        logging.getLogger("tests.job").info("scheduled job ran")


def test_error_pages_show_the_request_id_to_quote(client, owner):
    response = client.login_as(owner).get("/orders/999999999", headers={"X-Request-ID": "req-404-1"})
    assert response.status_code == 404
    page = BeautifulSoup(response.data, "html.parser")
    assert page.select_one("#error-request-id code").text == "req-404-1"
