"""The sync lease with real connections: workers in threads, each with its own session, on
committed rows (the rolled back `db` fixture shares one connection, so it cannot race). Runs on
PostgreSQL with TEST_DATABASE_URL, and on the SQLite file otherwise (writers queue there)."""

from __future__ import annotations

import threading

import pytest

from portal import clock as portal_clock
from portal.accounts import service as accounts
from portal.catalog import sync
from portal.catalog.models import SyncRun, SyncStatus
from portal.douyin import DouyinRateLimited
from portal.extensions import db as _db
from tests.redemption.test_concurrency import purge_organization

WORKERS = 4


class FakeGoods:
    """online/query answering `limited` 429s (Retry-After: 60) before an empty last page."""

    def __init__(self, limited: int = 0):
        self.limited = limited
        self.calls = 0
        self.lock = threading.Lock()

    def online_query(self, **_kwargs):
        with self.lock:
            self.calls += 1
            if self.limited:
                self.limited -= 1
                raise DouyinRateLimited(429, "访问过于频繁", retry_after=60.0)
        return {"products": [], "has_more": False, "next_cursor": None}

    def draft_get(self, **_kwargs):
        return {"product_drafts": []}


@pytest.fixture
def queued_run(app, clock):
    """A merchant and a queued sync run, committed for real; deleted after."""
    with app.app_context(), app.test_request_context():
        org = accounts.create_organization("租约商户")
        now = portal_clock.now()
        run = SyncRun(organization_id=org.id, active_org_id=org.id, status=SyncStatus.QUEUED, phase="online",
                      created_at=now, heartbeat_at=now, last_error="")
        _db.session.add(run)
        _db.session.commit()
        ids = {"org": org.id, "run": run.id}
        _db.session.remove()
    yield ids
    with app.app_context():
        purge_organization(ids["org"], [])
        _db.session.remove()


def in_worker(app, func):
    with app.app_context(), app.test_request_context():
        try:
            return func()
        finally:
            _db.session.remove()


def load_run(app, run_id):
    return in_worker(app, lambda: _db.session.get(SyncRun, run_id).__dict__.copy())


def test_two_jobs_for_one_queued_run_start_one_runner(app, queued_run):
    goods = FakeGoods()
    barrier = threading.Barrier(WORKERS)
    errors = []

    def worker():
        def go():
            barrier.wait(timeout=30)
            sync.run_sync(queued_run["run"], client=goods, checkpoint=_db.session.commit)
        try:
            in_worker(app, go)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    run = load_run(app, queued_run["run"])
    assert goods.calls == 1 and run["attempts"] == 1 and run["status"] == SyncStatus.SUCCEEDED


def test_a_second_worker_never_starts_on_a_run_waiting_out_retry_after(app, queued_run, clock, monkeypatch):
    """The first worker sleeps three Retry-After: 60 (well past the lease) renewing as it goes;
    meanwhile the sweep and a second worker, each on its own connection, find the run taken."""
    first, second = FakeGoods(limited=3), FakeGoods()
    waiting, checked = threading.Event(), threading.Event()
    slept = []

    def sleep(seconds):
        clock.advance(seconds=seconds)
        slept.append(seconds)
        if sum(slept) >= 150 and not waiting.is_set():
            waiting.set()
            checked.wait(timeout=30)

    monkeypatch.setattr(sync, "_sleep", sleep)
    runner = threading.Thread(target=in_worker, args=(app, lambda: sync.run_sync(
        queued_run["run"], client=first, checkpoint=_db.session.commit)))
    runner.start()
    try:
        assert waiting.wait(timeout=30)

        def sweep():
            ids = sync.resume_stale_runs()
            _db.session.commit()
            return ids

        swept = in_worker(app, sweep)
        again = in_worker(app, lambda: sync.run_sync(queued_run["run"], client=second, checkpoint=_db.session.commit).attempts)
    finally:
        checked.set()
        runner.join(timeout=60)
    assert swept == [] and again == 1 and second.calls == 0
    run = load_run(app, queued_run["run"])
    assert sum(slept) == 180 and first.calls == 4
    assert run["status"] == SyncStatus.SUCCEEDED and run["attempts"] == 1


def test_of_a_late_renewal_and_a_takeover_exactly_one_wins(app, queued_run, clock):
    """At the lease's end the old runner renews while a new one claims, on two connections."""
    held = sync.Lease()
    assert in_worker(app, lambda: (sync._claim(_db.session.get(SyncRun, queued_run["run"]), held, portal_clock.now()),
                                   _db.session.commit())[0])
    clock.advance(seconds=sync.LEASE.total_seconds() + 1)
    barrier = threading.Barrier(2)
    results = {}

    def renew():
        def go():
            barrier.wait(timeout=30)  # then load: on SQLite every transaction takes the write lock
            run = _db.session.get(SyncRun, queued_run["run"])
            try:
                sync._renew(run, held)
                _db.session.commit()
                results["renewed"] = True
            except sync.LeaseLost:
                results["renewed"] = False
        in_worker(app, go)

    def take_over():
        def go():
            barrier.wait(timeout=30)
            run = _db.session.get(SyncRun, queued_run["run"])
            results["claimed"] = sync._claim(run, sync.Lease(), portal_clock.now())
            _db.session.commit()
        in_worker(app, go)

    threads = [threading.Thread(target=renew), threading.Thread(target=take_over)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # A lapsed lease is never renewed: the new runner has it, whatever the order.
    assert results == {"renewed": False, "claimed": True}
    assert load_run(app, queued_run["run"])["attempts"] == 2
