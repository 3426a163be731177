"""What every request pays for being watched: its id, its duration, one count and one latency
sample (Prometheus), one log line (`portal.request`) unless it is a probe, and the id echoed in
`X-Request-ID`.

It runs on every request, the load balancer's probes included, so it is kept to one hook before
and one after (a hook costs a call through Flask's dispatch), reads the WSGI environ directly,
makes ids without a system call (`context.new_request_id`) and reuses the metrics' label children
(`metrics.observe_request`). `bench.ops_overhead` prints what it costs."""

from __future__ import annotations

import logging
from time import perf_counter

from flask import Flask, g, request

from portal.ops import metrics
from portal.ops.context import accept_request_id, current_request_id

# Probes and static files are fetched all the time: counted, not logged.
QUIET_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics", "static"})

access_log = logging.getLogger("portal.request")


def init_app(app: Flask) -> None:
    @app.before_request
    def begin_request():
        # The id lives on the request (g); jobs and the CLI bind theirs in a context variable instead.
        g.request_id = accept_request_id(request.environ.get("HTTP_X_REQUEST_ID"))
        g.request_started = perf_counter()

    @app.after_request
    def finish_request(response):
        state = g._get_current_object()
        started = getattr(state, "request_started", None)
        duration = perf_counter() - started if started is not None else 0.0
        req = request._get_current_object()
        endpoint = req.endpoint or "unmatched"
        status = response.status_code
        metrics.observe_request(endpoint, req.method, status, duration)
        request_id = getattr(state, "request_id", None)
        if request_id:
            response.headers.add("X-Request-ID", request_id)  # add: set() scans every header first
        if endpoint not in QUIET_ENDPOINTS:
            access_log.info(
                "%s %s %s %.1fms", req.method, req.path, status, duration * 1000,
                extra={"endpoint": endpoint, "method": req.method, "path": req.path,
                       "status": status, "duration_ms": round(duration * 1000, 1)},
            )
        return response

    @app.context_processor
    def request_id_context():
        return {"request_id": current_request_id()}
