"""Prometheus metrics (prometheus_client).

Counters and histograms are recorded where things happen (requests here, Douyin calls in the
client, callbacks in the webhook views, jobs in `portal.jobs`). Figures that live in a store
(queue depth, failed jobs, the outbox, settlement lag) are read when scraped, by `figures.py`.

Under gunicorn with several processes set `PROMETHEUS_MULTIPROC_DIR` (deploy/gunicorn.conf.py
does): each process writes its samples there and a scrape of any one of them adds them all up.
The directory must be set before this module is first imported, and emptied when the server
starts (gunicorn's `on_starting` hook does both)."""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("portal_http_requests", "HTTP requests answered", ["endpoint", "method", "status"])
REQUEST_SECONDS = Histogram(
    "portal_http_request_duration_seconds", "Time to answer an HTTP request", ["endpoint", "method"], buckets=LATENCY_BUCKETS
)
DOUYIN_CALLS = Counter("portal_douyin_calls", "HTTP exchanges with Douyin", ["api", "outcome"])
DOUYIN_SECONDS = Histogram(
    "portal_douyin_call_duration_seconds", "Time of one HTTP exchange with Douyin", ["api"], buckets=LATENCY_BUCKETS
)
CALLBACKS = Counter("portal_douyin_callbacks", "Douyin callbacks received", ["source", "outcome", "reason"])
JOBS = Counter("portal_jobs", "Background jobs run", ["func", "outcome"])
JOB_SECONDS = Histogram("portal_job_duration_seconds", "Time a background job ran", ["func"], buckets=LATENCY_BUCKETS)


# A client may send any method; a label takes only these (and OTHER), so the series stay few.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_request_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and sample its latency. Called on every request, probes too:
    the label children are looked up once per (endpoint, method, status) and kept."""
    if method not in HTTP_METHODS:
        method = "OTHER"
    key = (endpoint, method, status)
    children = _request_children.get(key)
    if children is None:
        children = (REQUESTS.labels(endpoint, method, str(status)), REQUEST_SECONDS.labels(endpoint, method))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def douyin_outcome(exc: BaseException | None) -> str:
    """A small fixed set of outcomes: ok, rate_limited, unavailable, auth, error."""
    if exc is None:
        return "ok"
    from portal.douyin.errors import DouyinAuthError, DouyinRateLimited, DouyinUnavailable

    if isinstance(exc, DouyinRateLimited):
        return "rate_limited"
    if isinstance(exc, DouyinUnavailable):
        return "unavailable"
    if isinstance(exc, DouyinAuthError):
        return "auth"
    return "error"


def observe_douyin_call(api: str, started: float, exc: BaseException | None) -> str:
    outcome = douyin_outcome(exc)
    DOUYIN_CALLS.labels(api, outcome).inc()
    DOUYIN_SECONDS.labels(api).observe(time.perf_counter() - started)
    return outcome


def observe_job(func: str, outcome: str, started: float) -> None:
    JOBS.labels(func, outcome).inc()
    JOB_SECONDS.labels(func).observe(time.perf_counter() - started)


def callback(source: str, outcome: str, reason: str = "") -> None:
    CALLBACKS.labels(source, outcome, reason).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def scrape(app: Flask) -> bytes:
    """The exposition text: this process's (or every gunicorn process's) samples and the stores' figures."""
    from portal.ops.figures import StoreCollector

    registry = CollectorRegistry()  # one per scrape: concurrent scrapes share nothing
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessSamples())
    registry.register(StoreCollector(app))
    return generate_latest(registry)


class _ProcessSamples:
    """This process's own samples (the default registry), when there is no multiprocess directory."""

    def collect(self):
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def authorized(app: Flask) -> bool:
    """A scraper shows `Authorization: Bearer <METRICS_TOKEN>`; a signed-in operator needs nothing more."""
    token = app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated and getattr(current_user, "is_operator", False))
