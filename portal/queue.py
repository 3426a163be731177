"""Background jobs on RQ: queues, enqueue-after-commit, and the in-process worker.

With `REDIS_URL` set, jobs go to Redis and `flask worker` runs them. Without it, the app keeps an
in-memory Redis (fakeredis) and a worker thread, so the same enqueue code runs on a bare laptop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import fakeredis
import redis
from flask import Flask, current_app
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus
from rq.timeouts import BaseDeathPenalty
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.ops.context import current_request_id

log = logging.getLogger(__name__)

QUEUE_NAMES = ("sync", "outbox", "ledger", "default")
_ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# A batch's doorbell outlives a job that was lost by this long; the batch's periodic sweep runs
# what waits meanwhile.
BATCH_DOORBELL_SECONDS = 60
# A batch job stops taking calls after this long (RQ's default job timeout is 180 s) and queues
# the next job for the rest.
BATCH_BUDGET_SECONDS = 60.0
# A call taken by a job this long ago and still not done belongs to a job that died: the sweep
# puts it back (a call's own Douyin timeouts end it in well under a minute).
BATCH_STALE_SECONDS = 600


class BatchFailed(Exception):
    """Some calls of a batch failed (each logged); the job fails so that it is seen."""


class NoDeathPenalty(BaseDeathPenalty):
    """No job timeout for jobs run in a thread. RQ's TimerDeathPenalty raises the timeout inside
    the running thread at whatever line it is on; between a lock's acquire and its `try` (the
    logging module's handler lock, say) that leaves the lock held for ever, and every thread that
    logs then waits. The jobs' Douyin calls carry their own timeouts; `flask worker` forks a work
    horse per job and keeps RQ's timeout there."""

    def setup_death_penalty(self):
        pass

    def cancel_death_penalty(self):
        pass


class ThreadWorker(SimpleWorker):
    """A worker that runs jobs in its own thread: no fork, no signals, no job timeout."""

    death_penalty_class = NoDeathPenalty

    def _install_signal_handlers(self):  # signals belong to the main thread
        pass


@dataclass
class _State:
    connection: redis.Redis
    prefix: str
    inline_thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class _PendingJob:
    state: _State
    queue: str
    func: str
    args: tuple
    kwargs: dict
    job_id: str | None
    at: object | None
    retry: int = 0
    fresh_id: bool = False
    request_id: str | None = None  # the request that queued it: its log lines carry the same id

    def key(self) -> tuple:
        return (id(self.state), self.queue, self.func, repr(self.args), repr(sorted(self.kwargs.items())), self.job_id, self.at, self.retry)


class JobQueue:
    """The `queue` extension. `enqueue()` defers to after the current transaction commits."""

    def init_app(self, app: Flask) -> None:
        url = app.config.get("REDIS_URL")
        if url:
            connection = redis.Redis.from_url(url)
        else:
            connection = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        app.extensions["portal_queue"] = _State(connection, app.config.get("RQ_QUEUE_PREFIX", ""))
        _listen_once()

    @staticmethod
    def _state(app: Flask | None = None) -> _State:
        return (app or current_app).extensions["portal_queue"]

    def connection(self, app: Flask | None = None) -> redis.Redis:
        return self._state(app).connection

    def get(self, name: str, app: Flask | None = None) -> Queue:
        if name not in QUEUE_NAMES:
            raise ValueError(f"unknown queue {name}")
        state = self._state(app)
        return Queue(state.prefix + name, connection=state.connection)

    def all(self, app: Flask | None = None) -> list[Queue]:
        return [self.get(name, app) for name in QUEUE_NAMES]

    def enqueue(self, queue: str, func: str, *args, job_id: str | None = None, at=None, retry: int = 0, fresh_id: bool = False, **kwargs) -> None:
        """Queue `func` (a dotted path) once the session's current transaction commits.

        A rollback drops it. The same call made twice in one transaction queues one job. With
        `job_id`, a job already queued or running under that id is not queued again (a double
        click starts one run); `fresh_id` says the id names something this transaction created,
        so there is nothing to look for. `at` (aware datetime) schedules it; `retry` runs a
        failed job again up to that many times (1 s, 5 s, 30 s apart).
        """
        from portal.extensions import db

        pending = db.session.info.setdefault("pending_jobs", {})
        job = _PendingJob(self._state(), queue, func, args, kwargs, job_id, at, retry, fresh_id, current_request_id())
        pending.setdefault(job.key(), job)

    def enqueue_batched(self, func: str, *args) -> None:
        """Run `func(*args)` (JSON-able arguments) after the current transaction commits, in one
        job with every other call to `func` waiting then (`run_batched`). `func` must be safe to
        run twice with the same arguments: a call whose job died is run again.

        A busy counter confirms many codes a second; a job each costs an RQ job's creation and
        its keys. Here a call costs one entry on a Redis list and a doorbell (SET NX, one round
        trip for both): only the call that finds the doorbell free queues the job, which clears
        the doorbell and then runs every entry. A call made while the job runs either is run by
        it or rings again. A job that is lost leaves its calls on the list, and a call it had
        taken on a list of calls being run, for the periodic sweep (`run_batched(recover=True)`);
        its doorbell expires after BATCH_DOORBELL_SECONDS."""
        from portal.extensions import db

        db.session.info.setdefault("pending_batched", []).append((self._state(), func, list(args), current_request_id()))

    def run_batched(self, func: str, *, recover: bool = False, budget_seconds: float = BATCH_BUDGET_SECONDS) -> int:
        """Run the calls to `func` waiting on its list, oldest first, each on its own; how many ran.

        Clears the doorbell first, so a call added meanwhile is either run here or queues the
        next job. A call is moved to the list of calls being run (with the time it was taken)
        before it runs and dropped from it after, so one whose job dies is not lost: `recover`
        (the periodic sweep) puts back those taken over BATCH_STALE_SECONDS ago. A call that
        fails is logged and kept on a list of failed calls; the others still run, and the job
        then fails, so it shows among failed jobs and in the job metrics. After
        `budget_seconds` the rest is left to a new job (RQ's job timeout must not cut a batch)."""
        from importlib import import_module

        from portal.ops.context import request_id_bound

        state = self._state()
        connection = state.connection
        entries, doorbell = _batch_keys(state, func)
        running, taken_at, failed = entries + ":running", entries + ":taken_at", entries + ":failed"
        module, _, name = func.rpartition(".")
        target = getattr(import_module(module), name)
        if recover:
            now = time.time()
            for raw in connection.lrange(running, 0, -1):
                since = connection.hget(taken_at, raw)
                if since is None or now - float(since) > BATCH_STALE_SECONDS:
                    connection.lrem(running, 1, raw)
                    connection.hdel(taken_at, raw)
                    connection.rpush(entries, raw)
        connection.delete(doorbell)
        ran, failures, deadline = 0, 0, time.monotonic() + budget_seconds
        while True:
            if time.monotonic() > deadline:
                if connection.llen(entries):
                    _ring_for(state, func, current_request_id())  # a new job takes the rest
                break
            raw = connection.lmove(entries, running, "LEFT", "RIGHT")
            if raw is None:
                break
            connection.hset(taken_at, raw, time.time())
            ran += 1
            entry = json.loads(raw)
            try:
                with request_id_bound(entry.get("request_id")):
                    target(*entry["args"])
            except Exception:
                failures += 1
                log.exception("batched call %s%s failed", func, entry["args"])
                connection.rpush(failed, raw)
                connection.ltrim(failed, -1000, -1)
            connection.lrem(running, 1, raw)
            connection.hdel(taken_at, raw)
        if failures:
            raise BatchFailed(f"{failures} of {ran} calls to {func} failed (kept on {failed})")
        return ran

    def batched_waiting(self, func: str) -> int:
        """How many calls to `func` wait on its list."""
        state = self._state()
        return state.connection.llen(_batch_keys(state, func)[0])

    def enqueue_now(self, queue: str, func: str, *args, job_id: str | None = None, at=None, **kwargs) -> Job | None:
        """Queue immediately, outside any transaction (CLI, schedulers)."""
        return _push(_PendingJob(self._state(), queue, func, args, kwargs, job_id, at, request_id=current_request_id()))

    def start_inline_worker(self, app: Flask) -> None:
        """Run jobs in a daemon thread of this process (the embedded default)."""
        state = self._state(app)
        if state.inline_thread is not None:
            return
        with state.lock:
            if state.inline_thread is None:
                self._start_thread(app, state)

    def _start_thread(self, app: Flask, state: _State) -> None:
        from portal import jobs, schedule

        schedule.ensure_scheduled(app)

        def loop():
            jobs.bind_app(app)  # this thread's jobs run in this app, whatever other threads bind
            while not state.stop.is_set():
                try:
                    worker = ThreadWorker(self.all(app), connection=state.connection)
                    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
                except Exception:  # a broken job must not kill the loop
                    log.exception("in-process worker loop failed")
                state.stop.wait(0.5)

        state.inline_thread = threading.Thread(target=loop, name="rq-inline-worker", daemon=True)
        state.inline_thread.start()

    def stop_inline_worker(self, app: Flask) -> None:
        state = self._state(app)
        state.stop.set()
        if state.inline_thread is not None:
            state.inline_thread.join(timeout=5)
            state.inline_thread = None

    def run_burst(self, app: Flask, *, max_jobs: int | None = None) -> bool:
        """Run every queued (and due scheduled) job in this thread, then return."""
        from portal import jobs

        jobs.bind_app(app)
        worker = ThreadWorker(self.all(app), connection=self._state(app).connection)
        return worker.work(burst=True, with_scheduler=True, max_jobs=max_jobs, logging_level="WARNING")


def remove_prefix(connection: redis.Redis, prefix: str) -> None:
    """Delete everything queued under `prefix` (queues, jobs, results, registries), its queues'
    entries in RQ's set of all queues, and the workers that served them (a worker killed without
    the chance to sign off stays in RQ's set of all workers). For throw-away prefixes: a test run,
    a benchmark."""
    if not prefix:
        raise ValueError("a prefix is needed: this would clear every deployment's jobs")
    workers = set()
    for key in connection.scan_iter(f"*{prefix}*", count=1000):
        if key.startswith(b"rq:workers:"):  # the worker keys registered for one of the queues
            workers |= connection.smembers(key)
        connection.delete(key)
    if workers:
        connection.delete(*workers)
        connection.srem("rq:workers", *workers)
    members = [m for m in connection.smembers("rq:queues") if prefix.encode() in m]
    if members:
        connection.srem("rq:queues", *members)


def _rq_job_id(item: _PendingJob) -> str | None:
    # RQ ids allow [A-Za-z0-9_-]: "sync:run:42" is stored as "sync-run-42".
    return (item.state.prefix + item.job_id).replace(":", "-") if item.job_id else None


def _options(item: _PendingJob) -> dict:
    # A job with no id of ours gets a random one, as RQ would give it, but under the prefix: then
    # every key of this deployment's jobs (job, results) is under its prefix, and a Redis shared
    # by several (the test runs, a benchmark, staging) can be cleared of one of them.
    job_id = _rq_job_id(item) or (item.state.prefix.replace(":", "-") + uuid.uuid4().hex)
    options = {"job_id": job_id, "failure_ttl": 7 * 24 * 3600, "result_ttl": 24 * 3600}
    if item.request_id:
        options["meta"] = {"request_id": item.request_id}
    if item.retry:
        options["retry"] = Retry(max=item.retry, interval=[1, 5, 30])
    return options


def _push(item: _PendingJob) -> Job | None:
    state = item.state
    queue = Queue(state.prefix + item.queue, connection=state.connection)
    job_id = _rq_job_id(item)
    if job_id and not item.fresh_id:
        try:
            existing = Job.fetch(job_id, connection=state.connection)
        except Exception:
            existing = None
        if existing is not None and existing.get_status(refresh=True) in _ACTIVE:
            return existing
    options = _options(item)
    if item.at is not None:
        return queue.enqueue_at(item.at, item.func, *item.args, **options, **item.kwargs)
    return queue.enqueue(item.func, *item.args, **options, **item.kwargs)


def _push_together(items: list[_PendingJob]) -> None:
    """Jobs to run now with nothing to look up first: one Redis round trip per connection
    (a request's jobs, say the counter's report to Douyin and its figures update)."""
    by_state: dict[int, list[_PendingJob]] = {}
    for item in items:
        by_state.setdefault(id(item.state), []).append(item)
    for group in by_state.values():
        state = group[0].state
        pipe = state.connection.pipeline()
        queues: dict[str, list] = {}
        for item in group:
            queues.setdefault(item.queue, []).append(
                Queue.prepare_data(item.func, args=item.args, kwargs=item.kwargs, **_options(item))
            )
        for name, datas in queues.items():
            Queue(state.prefix + name, connection=state.connection).enqueue_many(datas, pipeline=pipe)
        pipe.execute()


def _batch_keys(state: _State, func: str) -> tuple[str, str]:
    # Under the deployment's prefix, so remove_prefix clears them with its jobs.
    return f"{state.prefix}batched:{func}", f"{state.prefix}batched:{func}:doorbell"


def _ring(calls: list) -> None:
    """Add each batched call to its list and ring its doorbell, one round trip per connection;
    queue the batch's job where the doorbell was free."""
    by_state: dict[int, list] = {}
    for call in calls:
        by_state.setdefault(id(call[0]), []).append(call)
    for group in by_state.values():
        state = group[0][0]
        pipe = state.connection.pipeline(transaction=False)  # in order: the entries, then the doorbells
        funcs: dict[str, str | None] = {}
        for _state, func, args, request_id in group:
            pipe.rpush(_batch_keys(state, func)[0], json.dumps({"args": args, "request_id": request_id}))
            funcs.setdefault(func, request_id)
        for func in funcs:
            pipe.set(_batch_keys(state, func)[1], 1, nx=True, ex=BATCH_DOORBELL_SECONDS)
        rang = pipe.execute()[-len(funcs):]
        for (func, request_id), free in zip(funcs.items(), rang):
            if free:
                _push_batch_job(state, func, request_id)


def _ring_for(state: _State, func: str, request_id: str | None) -> None:
    """Ring `func`'s doorbell alone; queue its job when it was free."""
    if state.connection.set(_batch_keys(state, func)[1], 1, nx=True, ex=BATCH_DOORBELL_SECONDS):
        _push_batch_job(state, func, request_id)


def _push_batch_job(state: _State, func: str, request_id: str | None) -> None:
    _push(_PendingJob(state, "default", "portal.jobs.default.run_batched", (func,), {}, None, None, request_id=request_id))


def _after_commit(session: Session) -> None:
    together, one_by_one = [], []
    for item in session.info.pop("pending_jobs", {}).values():
        # Together: nothing to look up first (no id, or one this transaction created), nothing to schedule.
        if item.at is None and (item.job_id is None or item.fresh_id):
            together.append(item)
        else:
            one_by_one.append(item)
    if together:
        try:
            _push_together(together)
        except redis.RedisError:
            # The state change is committed; the jobs are re-derivable by the periodic sweeps.
            log.exception("could not enqueue %s", ", ".join(item.func for item in together))
    for item in one_by_one:
        try:
            _push(item)
        except redis.RedisError:
            log.exception("could not enqueue %s", item.func)
    calls = session.info.pop("pending_batched", None)
    if calls:
        try:
            _ring(calls)
        except redis.RedisError:
            log.exception("could not add %s to its batch", ", ".join({call[1] for call in calls}))


def _after_rollback(session: Session) -> None:
    session.info.pop("pending_jobs", None)
    session.info.pop("pending_batched", None)


_listening = False


def _listen_once() -> None:
    global _listening
    if not _listening:
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, prev: _after_rollback(s) if prev.parent is None else None)
        _listening = True
