"""RQ entry points: thin functions that take ids, open an app context and call a service.

Workers never build the app at import time: `bind_app` is called by whoever runs the worker
(`flask worker`, the in-process thread, the test `queue` fixture); a bare `rq worker` builds it lazily.

The binding belongs to the thread that made it (and to processes forked from that thread, such as
RQ's work horses). Two apps in one process (a web process's worker thread next to a CLI or test
run, say) then each run their own jobs in their own app, never one's jobs in the other's app.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

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
    with app.app_context():
        yield app
