"""The request id of the work in hand: set per web request (from `X-Request-ID` or made), carried
into the jobs that request queues and the Douyin calls they make, and read by every log line.

A web request keeps its id on the request (`g.request_id`, set by `instrument.py`); a job or a CLI
command binds one in a context variable, so threads (gunicorn's, the in-process worker's) each
keep their own. The context variable wins where both exist."""

from __future__ import annotations

import random
import re
from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_request_context

_request_id: ContextVar[str | None] = ContextVar("portal_request_id", default=None)
# What a client or a proxy may hand us: short, and safe to echo into a header and a log line.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """32 hex digits. An id needs to be unique, not secret: from `random` (seeded from the system and
    reseeded in each forked worker), since a `getrandom` system call per request (os.urandom, uuid4)
    cost the probe endpoint about a fifth of its CPU here."""
    return "%032x" % random.getrandbits(128)


def accept_request_id(given: str | None) -> str:
    """The caller's id when it is a plain token, else a new one (never an injected header)."""
    if given and _ACCEPTED.fullmatch(given):
        return given
    return new_request_id()


def current_request_id() -> str | None:
    bound = _request_id.get()
    if bound is None and has_request_context():
        return g.get("request_id")
    return bound


@contextmanager
def request_id_bound(value: str | None):
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)
