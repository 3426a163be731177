"""The embedded demo's one clock: the portal follows the sandbox's clock, and a move runs due work.

The sandbox writes its clock offset to DEMO_CLOCK_FILE whenever a person moves it ("+3 天" in its
console); `portal.clock` adds that offset to real time. So in the demo, settlement due dates, the
freshness window of signed callbacks (portal.douyin.webhooks) and every other "now" agree with the
sandbox. The portal follows only a sandbox on this machine (DOUYIN_API_BASE on 127.0.0.1 or
localhost): against the real platform "now" is real time and the freshness window stays strict.

A move is noticed within a second by a watcher thread, which queues the work a new "now" may have
made due (settlement, Douyin settle requests, withdrawal checks, the outbox sweep), so nobody waits
for the next scheduled slot.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from portal import clock

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
WATCH_INTERVAL_SECONDS = 1.0
# The periodic work a moved clock may have made due: (queue, job function, deterministic id).
DUE_WORK = (
    ("ledger", "portal.jobs.ledger.run_settlement", "ledger:settlement"),
    ("ledger", "portal.jobs.ledger.run_settle_requests", "ledger:settle-requests:clock"),
    ("ledger", "portal.jobs.ledger.run_withdrawal_checks", "ledger:withdrawal-checks:clock"),
    ("default", "portal.jobs.outbox.run_outbox_sweep", "outbox:sweep:clock"),
)


def followed_file(config) -> str | None:
    """The clock file this portal follows: DEMO_CLOCK_FILE, honoured only while Douyin's API is
    the sandbox on this machine; None (real time) otherwise."""
    path = config.get("DEMO_CLOCK_FILE")
    if not path:
        return None
    host = urlsplit(config.get("DOUYIN_API_BASE") or "").hostname
    if host not in LOCAL_HOSTS:
        log.warning("DEMO_CLOCK_FILE ignored: DOUYIN_API_BASE is not a sandbox on this machine")
        return None
    return str(path)


def init_app(app) -> None:
    path = followed_file(app.config)
    clock.follow(path)
    if path and not app.testing:
        watcher = Watcher(app)
        app.extensions["portal_democlock"] = watcher
        # Started by the first request, as the in-process worker is, so CLI commands start no thread.
        app.before_request(watcher.start_once)


def queue_due_work(app) -> None:
    """Queue every job a moved clock may have made due (each at most once at a time)."""
    from portal.extensions import queue

    with app.app_context():
        for name, func, job_id in DUE_WORK:
            queue.enqueue_now(name, func, job_id=job_id)


class Watcher:
    """Polls the followed offset; when it changes, queues the due work."""

    def __init__(self, app):
        self.app = app
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def start_once(self) -> None:
        if self.thread is not None:
            return
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="demo-clock-watcher", daemon=True)
                self.thread.start()

    def run(self) -> None:
        seen = clock.followed_offset()
        while not self.stopped.wait(WATCH_INTERVAL_SECONDS):
            offset = clock.followed_offset()
            if offset == seen:
                continue
            seen = offset
            log.info("demo clock moved to %+.0f s: queueing due work", offset)
            try:
                queue_due_work(self.app)
            except Exception:  # the next move, or the schedule, still runs it
                log.exception("queueing the due work after a clock move failed")

    def stop(self) -> None:
        self.stopped.set()
