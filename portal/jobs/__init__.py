"""RQ entry points: thin functions that take ids, open an app context and call a service.

Workers never build the app at import time: `bind_app` is called by whoever runs the worker
(`flask worker`, the in-process thread, the test `queue` fixture); a bare `rq worker` builds it lazily.
"""

from __future__ import annotations

from contextlib import contextmanager

_app = None


def bind_app(app) -> None:
    global _app
    _app = app


@contextmanager
def app_context():
    global _app
    if _app is None:
        from portal import create_app

        _app = create_app()
    with _app.app_context():
        yield _app
