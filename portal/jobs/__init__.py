"""RQ entry points: thin functions that take ids, open an app context and call a service.

Workers never build the app at import time: `bind_app` is called by whoever runs the worker
(`flask worker`, the in-process thread, the test `queue` fixture); a bare `rq worker` builds it lazily.

The binding belongs to the thread that made it (and to processes forked from that thread, such as
RQ's work horses). Two apps in one process (a web process's worker thread next to a CLI or test
run, say) then each run their own jobs in their own app, never one's jobs in the other's app.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from rq import get_current_job

from portal.ops.context import current_request_id, request_id_bound
from portal.ops.metrics import observe_job

_bound = threading.local()
_built = None  # the app a bare `rq worker` builds for itself


def bind_app(app) -> None:
    _bound.app = app


@contextmanager
def app_context():
    global _built
    app = getattr(_bound, "app", None)
    if app is None:
        if _built is None:
            from portal import create_app

            _built = create_app()
        app = _built
    job = get_current_job()
    request_id = (job.meta or {}).get("request_id") if job is not None else None
    if request_id is None and job is not None:
        request_id = f"job:{job.id}"  # a scheduled job's own id, so its lines still group
    # A job that runs others in its context (run_batched) is observed once, not once per call,
    # and each call keeps the request id it was bound to (the one that queued it).
    outermost = not getattr(_bound, "depth", 0)
    _bound.depth = getattr(_bound, "depth", 0) + 1
    try:
        with app.app_context(), request_id_bound(request_id if outermost else current_request_id()):
            started = time.perf_counter()
            outcome = "failed"
            try:
                yield app
                outcome = "ok"
            finally:
                if job is not None and outermost:
                    observe_job(job.func_name, outcome, started)
    finally:
        _bound.depth -= 1
