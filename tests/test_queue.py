"""Jobs are queued only after commit, once per id, and run by a worker (real Redis when it answers)."""

import json
import threading
import uuid

import fakeredis
import pytest
from flask import current_app
from rq.job import Job
from sqlalchemy import select

from portal import mail
from portal.extensions import db as _db
from portal.extensions import queue as jobs
from portal.mail import OutgoingMail
from tests.fixtures.app import _redis_answers, wait_until


def test_suite_uses_real_redis_when_it_answers(app):
    connection = jobs.connection(app)
    assert isinstance(connection, fakeredis.FakeRedis) != _redis_answers()


def test_job_is_queued_only_after_commit(db, queue):
    mail.send("a@example.test", "s", "b")
    assert queue.job_funcs() == []
    db.session.commit()
    assert queue.job_funcs() == ["portal.jobs.default.run_deliver_mail"]


def test_rollback_drops_the_pending_job(db, queue):
    mail.send("a@example.test", "s", "b")
    db.session.rollback()
    db.session.commit()
    assert queue.job_funcs() == []


def test_same_job_id_is_queued_once(db, queue):
    for _ in range(3):
        jobs.enqueue("default", "portal.jobs.default.run_deliver_mail", 999, job_id="mail:999")
    db.session.commit()
    assert queue.job_funcs() == ["portal.jobs.default.run_deliver_mail"]


def test_the_same_call_twice_in_one_transaction_queues_one_job(db, queue):
    """Two events about one order (a voucher redeemed, so the order completed) ask for one update."""
    for _ in range(2):
        jobs.enqueue("default", "portal.jobs.default.run_insights_sync", 41, retry=3)
    jobs.enqueue("default", "portal.jobs.default.run_insights_sync", 42, retry=3)
    db.session.commit()
    queued = sorted(job.args for job in jobs.get("default").jobs)
    assert queued == [(41,), (42,)]
    assert all(job.retries_left == 3 for job in jobs.get("default").jobs)


def test_jobs_for_several_queues_are_queued_together_and_run(db, queue):
    first = mail.send("d@example.test", "s", "b")
    jobs.enqueue("outbox", "portal.jobs.outbox.run_outbox_delivery", 10**9, job_id="outbox:1000000000:0", fresh_id=True)
    db.session.commit()
    assert sorted(queue.job_funcs()) == ["portal.jobs.default.run_deliver_mail", "portal.jobs.outbox.run_outbox_delivery"]
    assert [job.id for job in jobs.get("outbox").jobs] == [jobs._state().prefix.replace(":", "-") + "outbox-1000000000-0"]
    assert queue.run() is True
    db.session.expire_all()
    assert db.session.get(OutgoingMail, first.id).status == "sent"


def test_every_key_of_a_job_is_under_the_prefix(db, queue):
    """A Redis shared by several deployments (or test runs) can be cleared of one: a job queued
    without an id of ours still gets one under the prefix, and so do its results."""
    prefix = jobs._state().prefix.replace(":", "-")
    jobs.enqueue("default", "portal.jobs.default.run_insights_sync", 10**9)  # no such order: "skipped"
    db.session.commit()
    [job] = jobs.get("default").jobs
    assert job.id.startswith(prefix) and len(job.id) > len(prefix)
    assert queue.run() is True
    connection = jobs.connection(current_app)
    assert connection.exists(f"rq:job:{job.id}") and connection.exists(f"rq:results:{job.id}")
    assert Job.fetch(job.id, connection=connection).return_value() == "skipped"


def test_worker_runs_the_job_and_it_is_idempotent(db, queue):
    sent = mail.send("b@example.test", "subject", "body")
    db.session.commit()
    assert queue.run() is True
    db.session.expire_all()
    assert db.session.get(OutgoingMail, sent.id).status == "sent"
    from portal.mail import deliver

    assert deliver(sent.id) == "skipped"


def test_unknown_queue_is_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        jobs.get("nope")


def test_inline_worker_thread_runs_jobs_without_redis(tmp_path):
    """The embedded default: no REDIS_URL, jobs run in a thread of the web process."""
    from cryptography.fernet import Fernet

    from portal import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'inline.db'}",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
            "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        _db.create_all()
        sent = mail.send("c@example.test", "s", "b")
        _db.session.commit()
        mail_id = sent.id
    jobs.start_inline_worker(app)
    try:

        def delivered():
            with app.app_context():
                return _db.session.scalar(select(OutgoingMail.status).where(OutgoingMail.id == mail_id)) == "sent"

        assert wait_until(delivered, timeout=15, interval=0.05)
    finally:
        jobs.stop_inline_worker(app)


def test_a_worker_thread_runs_its_jobs_in_its_own_app(app, tmp_path):
    """A web process's worker thread (here: a second app's) and this thread each open their own
    app for their jobs, whoever bound last: a job never runs on the other app's database."""
    from cryptography.fernet import Fernet

    from portal import create_app, jobs

    other = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.db'}", "INSTANCE_PATH": str(tmp_path),
                        "SECRET_KEY": "x", "SECRETS_FERNET_KEY": Fernet.generate_key().decode(), "REDIS_URL": None})
    jobs.bind_app(app)
    bound, seen = threading.Event(), {}

    def worker():
        jobs.bind_app(other)
        bound.set()
        with jobs.app_context() as current:
            seen["worker"] = current

    thread = threading.Thread(target=worker)
    thread.start()
    bound.wait(5)
    thread.join(5)
    with jobs.app_context() as current:
        assert current is app
    assert seen["worker"] is other


def test_removing_a_prefix_leaves_nothing_of_it_and_nothing_else(app):
    from rq import Queue, SimpleWorker

    from portal.queue import remove_prefix

    connection = jobs.connection(app)
    gone, kept = f"gone{uuid.uuid4().hex[:8]}-", f"kept{uuid.uuid4().hex[:8]}-"
    workers = {}
    for prefix in (gone, kept):
        queue = Queue(prefix + "default", connection=connection)
        queue.enqueue("portal.jobs.default.run_insights_sync", 1, job_id=prefix + "job")
        # A worker that never signs off, as one killed with SIGKILL: its key and its entry in
        # RQ's set of all workers stay behind.
        workers[prefix] = worker = SimpleWorker([queue], connection=connection)
        worker.register_birth()
    remove_prefix(connection, gone)
    assert list(connection.scan_iter(f"*{gone}*")) == []
    assert not any(gone.encode() in member for member in connection.smembers("rq:queues"))
    assert not connection.exists(workers[gone].key) and not connection.sismember("rq:workers", workers[gone].key)
    assert list(connection.scan_iter(f"*{kept}*")) and any(kept.encode() in member for member in connection.smembers("rq:queues"))
    assert connection.exists(workers[kept].key) and connection.sismember("rq:workers", workers[kept].key)
    remove_prefix(connection, kept)
    assert not connection.sismember("rq:workers", workers[kept].key)
    with pytest.raises(ValueError):
        remove_prefix(connection, "")


# --- batched calls (queue.enqueue_batched): one job for the calls waiting together ----------------

CALLS: list = []
BATCHED = "tests.test_queue.record_call"


def record_call(*args):
    """A batched call's target: records its arguments; the argument "boom" fails."""
    if "boom" in args:
        raise RuntimeError("boom")
    CALLS.append(list(args))


def record_request_id(*args):
    from portal.ops.context import current_request_id

    CALLS.append([*args, current_request_id()])


@pytest.fixture
def calls():
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def test_batched_calls_of_several_commits_share_one_job(db, queue, calls):
    for n in range(3):
        jobs.enqueue_batched(BATCHED, n, f"code-{n}")
        db.session.commit()
    assert queue.job_funcs() == ["portal.jobs.default.run_batched"]
    assert jobs.batched_waiting(BATCHED) == 3
    assert calls == []
    assert queue.run() is True
    assert calls == [[0, "code-0"], [1, "code-1"], [2, "code-2"]]
    assert jobs.batched_waiting(BATCHED) == 0


def test_a_batched_call_is_dropped_by_rollback(db, queue, calls):
    mail.send("a@example.test", "s", "b")  # the transaction's own write
    jobs.enqueue_batched(BATCHED, 1)
    db.session.rollback()
    db.session.commit()
    assert queue.job_funcs() == [] and jobs.batched_waiting(BATCHED) == 0 and calls == []


def test_a_call_after_the_job_ran_queues_the_next_job(db, queue, calls):
    jobs.enqueue_batched(BATCHED, 1)
    db.session.commit()
    queue.run()
    assert queue.job_funcs() == []
    jobs.enqueue_batched(BATCHED, 2)
    db.session.commit()
    assert queue.job_funcs() == ["portal.jobs.default.run_batched"]
    queue.run()
    assert calls == [[1], [2]]


def test_a_failing_call_is_logged_kept_and_fails_the_job_while_the_others_run(db, queue, calls, caplog):
    for value in (1, "boom", 3):
        jobs.enqueue_batched(BATCHED, value)
    db.session.commit()
    [job] = [job for job in jobs.get("default").jobs if job.func_name == "portal.jobs.default.run_batched"]
    queue.run()
    assert calls == [[1], [3]]
    assert "boom" in caplog.text
    job.refresh()
    assert job.get_status() == "failed"  # seen among failed jobs and in the job metrics
    connection = jobs.connection()
    failed = connection.lrange(f"{jobs._state().prefix}batched:{BATCHED}:failed", 0, -1)
    assert [json.loads(raw)["args"] for raw in failed] == [["boom"]]


def _take_like_a_job_that_died(taken_seconds_ago: float):
    """What a job leaves when it dies in a call: the entry on the running list, with its time."""
    import time

    connection, entries = jobs.connection(), f"{jobs._state().prefix}batched:{BATCHED}"
    raw = connection.lmove(entries, entries + ":running", "LEFT", "RIGHT")
    connection.hset(entries + ":taken_at", raw, time.time() - taken_seconds_ago)


def test_a_call_taken_by_a_job_that_died_is_run_by_the_sweep(db, queue, calls):
    from portal.jobs.default import run_batched

    jobs.enqueue_batched(BATCHED, 5)
    db.session.commit()
    queue.clear_jobs_only()
    _take_like_a_job_that_died(taken_seconds_ago=3600)
    assert run_batched(BATCHED) == 0 and calls == []  # a job's own run leaves it: it may still be running
    assert run_batched(BATCHED, recover=True) == 1
    assert calls == [[5]]


def test_the_sweep_leaves_a_call_another_job_is_running_now(db, queue, calls):
    from portal.jobs.default import run_batched

    jobs.enqueue_batched(BATCHED, 6)
    db.session.commit()
    _take_like_a_job_that_died(taken_seconds_ago=5)
    assert run_batched(BATCHED, recover=True) == 0 and calls == []


def test_a_batch_over_its_time_budget_leaves_the_rest_to_a_new_job(db, queue, calls, app):
    jobs.enqueue_batched(BATCHED, 1)
    db.session.commit()
    queue.clear_jobs_only()
    assert jobs.run_batched(BATCHED, budget_seconds=-1) == 0
    assert jobs.batched_waiting(BATCHED) == 1
    assert queue.job_funcs() == ["portal.jobs.default.run_batched"]
    queue.run()
    assert calls == [[1]]


def test_each_batched_call_runs_under_the_request_id_that_queued_it(db, queue, calls):
    from portal.ops.context import request_id_bound

    for request_id in ("req-a", "req-b"):
        with request_id_bound(request_id):
            jobs.enqueue_batched("tests.test_queue.record_request_id", request_id)
            db.session.commit()
    queue.run()
    assert calls == [["req-a", "req-a"], ["req-b", "req-b"]]


def test_calls_whose_job_was_lost_run_at_the_sweep(db, queue, calls, app):
    from portal.jobs.default import run_batched

    jobs.enqueue_batched(BATCHED, 7)
    db.session.commit()
    queue.clear_jobs_only()  # the job is lost (a worker died with it); the doorbell still rings
    jobs.enqueue_batched(BATCHED, 8)
    db.session.commit()
    assert queue.job_funcs() == []  # the doorbell holds: no second job
    assert run_batched(BATCHED) == 2
    assert calls == [[7], [8]]


def test_the_counter_confirms_are_swept_every_minute():
    from portal.schedule import PERIODIC

    entry = PERIODIC["redemption-events-sweep"]
    assert entry.func == "portal.jobs.default.run_redemption_events_sweep" and entry.every.total_seconds() == 60


def slow_job(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "finished"


def test_a_job_run_in_a_thread_is_never_killed_from_outside(db, queue, app):
    """RQ's thread timer raises its timeout at whatever line the job is on, which can leave a
    lock (the logging handler's) held for ever; the thread worker sets no timer."""
    job = jobs.get("default").enqueue("tests.test_queue.slow_job", 1.2, job_timeout=1)
    assert queue.run() is True
    job.refresh()
    assert job.get_status() == "finished" and job.return_value() == "finished"
