"""刷新列表: the background sync of the product library with Douyin.

A run has three phases, each resumable from what is stored on the run row:
1. `online`: page through goods/product/online/query (cursor, ≤50 a page). Each page is applied
   and committed together with the next cursor, so a worker that dies loses at most the page in
   hand and a rerun continues from there to the same end state.
2. `missing`: products we believe are online on Douyin but that no page listed are marked offline.
3. `review`: products still 审核中 are looked up with draft/get (≤10 ids a call) to learn approval
   or rejection (online/query entries carry no review state). A draft whose submission is still
   in the outbox is skipped: what Douyin says about it predates the submission.

Douyin's changes are applied unless the product was edited locally since the last sync; then the
product gets a ProductConflict holding both versions, and nothing is overwritten.

One runner at a time, by a lease: a runner claims the run by bumping `attempts` (its fencing
token) while no live lease is held, and renews `heartbeat_at` with every page and every few
seconds while it waits (a Retry-After, the client's own retries). Every renewal and every commit
is conditional on the token and on the lease still being live, so a runner that was frozen past
its lease stops without writing, and a second job for a live run does nothing. A run whose lease
ran out (its worker died) is queued again by the sweep and taken over where it stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, clock
from portal.accounts.models import Store
from portal.catalog.models import Product, ProductConflict, ReviewStatus, SyncChange, SyncRun, SyncStatus
from portal.catalog.service import (
    REVIEW_BY_DRAFT_STATUS,
    apply_content,
    content_from_douyin,
    content_of,
    record_review,
    unsent_saves,
)
from portal.douyin import DouyinError, Limit
from portal.douyin.ratelimit import TokenBucket
from portal.extensions import db, queue
from portal.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

PAGE_SIZE = 50
DRAFT_BATCH = 10
PAGE_ATTEMPTS = 5
# A run whose lease was not renewed for this long has no live runner. Far longer than any one
# blocking step between renewals (an HTTP call: 3 s connect + 10 s read; a wait slice).
LEASE = timedelta(minutes=2)
RENEW_EVERY = 15.0  # seconds: a long wait is slept in slices this long, renewing after each


class LeaseLost(Exception):
    """The runner no longer holds the run's lease (it lapsed, or another runner took over)."""


@dataclass
class Lease:
    """The attempt number a runner claimed a run under: its fencing token. A job that retries
    after a database error passes the same Lease to go on under the lease it holds."""

    attempt: int | None = None


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def find_active_run(organization_id: int) -> SyncRun | None:
    return db.session.scalar(select(SyncRun).where(SyncRun.active_org_id == organization_id))


_LATEST_RUN = select(SyncRun).where(SyncRun.organization_id == bindparam("org")).order_by(SyncRun.id.desc()).limit(1)


def latest_run(organization_id: int) -> SyncRun | None:
    return db.session.scalar(_LATEST_RUN, {"org": organization_id})


def _job_id(run: SyncRun) -> str:
    return f"sync:run:{run.id}" if run.attempts == 0 else f"sync:run:{run.id}:resume{run.attempts}"


_T = SyncRun.__table__
_LAST_BEAT = func.coalesce(_T.c.heartbeat_at, _T.c.created_at)


def is_stale(run: SyncRun, now: datetime) -> bool:
    """Queued or running, but its lease ran out: no worker holds it (or none picked it up)."""
    last = run.heartbeat_at or run.created_at
    return run.status_enum.active and now - last > LEASE


def start_sync_run(organization_id: int, *, actor, now: datetime | None = None) -> tuple[SyncRun, bool]:
    """Start a 刷新列表 run, or return the one already queued or running (a double click is one run).

    Returns (run, started). A run whose worker died is queued again to resume where it stopped.
    """
    now = now or clock.now()
    run = find_active_run(organization_id)
    if run is not None:
        if is_stale(run, now):
            resume(run, now=now)
        return run, False
    run = SyncRun(
        organization_id=organization_id,
        active_org_id=organization_id,
        status=SyncStatus.QUEUED,
        requested_by_id=getattr(actor, "id", None),
        phase="online",
        created_at=now,
        heartbeat_at=now,
        last_error="",
    )
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:  # another request started one at the same moment
        return find_active_run(organization_id), False
    queue.enqueue("sync", "portal.jobs.sync.run_catalog_sync", run.id, job_id=_job_id(run))
    audit.record("catalog.sync.started", actor=actor, organization_id=organization_id, obj=run)
    return run, True


def resume(run: SyncRun, *, now: datetime | None = None) -> bool:
    """Queue a run whose lease ran out again; it continues from its stored phase and cursor.

    Only while the lease is still expired (checked in the same UPDATE, so a runner that just took
    the run over is left alone); the run waits as queued, with a fresh lease time so the sweep
    does not queue it again every minute. Returns whether it was queued.
    """
    now = now or clock.now()
    done = db.session.execute(
        update(_T)
        .where(_T.c.id == run.id, _T.c.active_org_id.is_not(None), _LAST_BEAT < now - LEASE)
        .values(status=SyncStatus.QUEUED.value, heartbeat_at=now)
    ).rowcount
    if not done:
        return False
    set_committed_value(run, "status", SyncStatus.QUEUED.value)
    set_committed_value(run, "heartbeat_at", now)
    queue.enqueue("sync", "portal.jobs.sync.run_catalog_sync", run.id, job_id=f"sync:run:{run.id}:resume{run.attempts}")
    return True


def resume_stale_runs(now: datetime | None = None) -> list[int]:
    """Re-queue every run whose worker died (the periodic sweep)."""
    now = now or clock.now()
    runs = [r for r in db.session.scalars(select(SyncRun).where(SyncRun.active_org_id.is_not(None))) if is_stale(r, now)]
    return [run.id for run in runs if resume(run, now=now)]


def _claim(run: SyncRun, lease: Lease, now: datetime) -> bool:
    """Take the run's lease: when it is queued, its lease ran out, or `lease` already holds it.
    One conditional UPDATE, so of two runners only one gets it (on PostgreSQL the second waits
    for the first's row lock, then finds the lease live)."""
    free = or_(_T.c.status == SyncStatus.QUEUED.value, _LAST_BEAT < now - LEASE)
    attempts = _T.c.attempts + 1
    if lease.attempt is not None:
        held = _T.c.attempts == lease.attempt
        free, attempts = or_(free, held), case((held, _T.c.attempts), else_=_T.c.attempts + 1)
    done = db.session.execute(
        update(_T)
        .where(_T.c.id == run.id, _T.c.active_org_id.is_not(None), free)
        .values(status=SyncStatus.RUNNING.value, attempts=attempts, heartbeat_at=now,
                started_at=func.coalesce(_T.c.started_at, now))
    ).rowcount
    db.session.refresh(run)
    if done:
        lease.attempt = run.attempts
    return bool(done)


def _renew(run: SyncRun, lease: Lease) -> None:
    """Extend the lease, if this runner still holds it; raises LeaseLost otherwise. Part of the
    transaction the next checkpoint commits: a page is committed only under a live lease."""
    now = clock.now()
    done = db.session.execute(
        update(_T)
        .where(_T.c.id == run.id, _T.c.attempts == lease.attempt, _T.c.status == SyncStatus.RUNNING.value,
               _T.c.active_org_id.is_not(None), _T.c.heartbeat_at >= now - LEASE)
        .values(heartbeat_at=now)
    ).rowcount
    if not done:
        raise LeaseLost(f"sync run {run.id}: attempt {lease.attempt} no longer holds the lease")
    set_committed_value(run, "heartbeat_at", now)


class _Runner:
    def __init__(self, run: SyncRun, lease: Lease, client, checkpoint, page_size: int):
        self.run = run
        self.lease = lease
        self.client = client
        self.slept = 0.0  # seconds waited since the last renewal (counted: tests sleep in no time)
        self.renewed = time.monotonic()
        self.checkpoint = checkpoint
        self.page_size = page_size
        qps = float(current_app.config.get("CATALOG_SYNC_QPS", 30))
        self.bucket = TokenBucket(Limit(max(1, int(qps)), 1.0), sleep=_sleep)
        self.stores_by_poi = {
            s.douyin_poi_id: s
            for s in db.session.scalars(
                select(Store).where(Store.organization_id == run.organization_id, Store.douyin_poi_id.is_not(None))
            )
        }

    def call(self, func, **kwargs):
        """One Douyin call, paced, retried on transient trouble beyond the client's own retries."""
        for attempt in range(PAGE_ATTEMPTS):
            self.keep_alive()
            self.bucket.acquire()
            try:
                return func(**kwargs)
            except DouyinError as error:
                if not error.retryable or attempt == PAGE_ATTEMPTS - 1:
                    raise
                wait = getattr(error, "retry_after", None)
                self.wait(min(float(wait) if wait is not None else 2.0**attempt, 60.0))
        raise AssertionError("unreachable")

    def wait(self, seconds: float) -> None:
        """Sleep, renewing the lease every RENEW_EVERY seconds of it: a long Retry-After is a
        live runner waiting, not a dead one. Called between pages, when nothing is pending."""
        remaining = float(seconds)
        while remaining > 0:
            step = min(remaining, RENEW_EVERY)
            _sleep(step)
            remaining -= step
            self.slept += step
            self.keep_alive()

    def finish(self, status: SyncStatus) -> None:
        _renew(self.run, self.lease)
        _finish(self.run, status)
        self.checkpoint()

    def keep_alive(self) -> None:
        if self.slept >= RENEW_EVERY or time.monotonic() - self.renewed >= RENEW_EVERY:
            self.beat()

    def beat(self) -> None:
        """Renew the lease and commit the progress so far (LeaseLost if the lease is gone)."""
        _renew(self.run, self.lease)
        self.slept, self.renewed = 0.0, time.monotonic()
        self.checkpoint()

    # --- phase 1 -------------------------------------------------------------------------

    def online_phase(self) -> None:
        run = self.run
        while True:
            page = self.call(self.client.online_query, cursor=run.cursor, count=self.page_size)
            entries = page["products"]
            self.apply_page(entries)
            run.pages += 1
            next_cursor = page.get("next_cursor")
            if not page["has_more"] or next_cursor in (None, "") or str(next_cursor) == run.cursor:
                run.cursor = None
                run.phase = "missing"
                self.beat()
                return
            run.cursor = str(next_cursor)
            self.beat()

    def apply_page(self, entries: list[dict]) -> None:
        run = self.run
        now = clock.now()
        ids = [str((e.get("product") or {}).get("product_id") or "") for e in entries]
        outs = [str((e.get("product") or {}).get("out_id") or "") for e in entries]
        scoped = select(Product).where(Product.organization_id == run.organization_id).options(selectinload(Product.stores))
        # Two indexed look-ups (an OR of both would scan the table on SQLite).
        products = list(db.session.scalars(scoped.where(Product.douyin_product_id.in_([i for i in ids if i]))))
        by_douyin = {p.douyin_product_id: p for p in products}
        unmatched = [o for i, o in zip(ids, outs) if o and i not in by_douyin]
        if unmatched:
            products += [p for p in db.session.scalars(scoped.where(Product.out_id.in_(unmatched))) if p not in products]
        by_out = {p.out_id: p for p in products}
        self.versions: dict[int, tuple[Product, dict | None]] = {}
        conflicts = {
            c.product_id: c
            for c in db.session.scalars(
                select(ProductConflict).where(
                    ProductConflict.product_id.in_([p.id for p in products]), ProductConflict.resolved_at.is_(None)
                )
            )
        }
        for entry, douyin_id, out_id in zip(entries, ids, outs):
            run.seen += 1
            product = by_douyin.get(douyin_id) or by_out.get(out_id)
            if product is None:
                self.record(None, douyin_id, (entry.get("product") or {}).get("product_name") or "", "unmatched", {},
                            _l("抖音上有此商品，但商品库中没有对应商品"))
                continue
            try:
                self.reconcile(product, entry, douyin_id, conflicts.get(product.id), now)
            except (KeyError, TypeError, ValueError) as error:
                run.errors += 1
                self.record(product, douyin_id, product.name, "error", {}, f"{type(error).__name__}: {error}")
        self.mark_seen(now)

    def mark_seen(self, now: datetime) -> None:
        """One executemany for the bookkeeping of every product of the page (not an ORM UPDATE each)."""
        if not self.versions:
            return
        db.session.flush()
        db.session.execute(
            update(Product.__table__).where(Product.__table__.c.id == bindparam("pid")).values(
                last_seen_run_id=bindparam("run"), synced_at=bindparam("now"), douyin_version=bindparam("version")
            ),
            [{"pid": pid, "run": self.run.id, "now": now, "version": version} for pid, (_p, version) in self.versions.items()],
        )
        for product, version in self.versions.values():
            set_committed_value(product, "last_seen_run_id", self.run.id)
            set_committed_value(product, "synced_at", now)
            set_committed_value(product, "douyin_version", version)
        self.versions = {}

    def reconcile(self, product: Product, entry: dict, douyin_id: str, conflict: ProductConflict | None, now: datetime) -> None:
        run = self.run
        fields: dict = {}
        if douyin_id and product.douyin_product_id != douyin_id:
            product.douyin_product_id = douyin_id
        sku_id = (entry.get("sku") or {}).get("sku_id")
        if sku_id and product.douyin_sku_id != str(sku_id):
            product.douyin_sku_id = str(sku_id)
        online = int(entry["online_status"]) == 1
        if product.douyin_online != online:
            fields["douyin_online"] = [product.douyin_online, online]
            product.douyin_online = online
        remote = content_from_douyin(entry)
        self.approve_if_online(product, entry, remote, fields, now)
        version = product.douyin_version
        action = "updated"
        message = ""
        if conflict is not None:
            if conflict.douyin_version != remote:
                conflict.douyin_version = remote
                conflict.local_version = content_of(product)
                action, message = "conflict", _l("抖音上的版本又有变化，冲突仍待处理")
                run.conflicts += 1
        else:
            local = content_of(product)
            base = product.douyin_version
            if remote == local or remote == product.submitted_version:
                version = remote
            elif remote != base:
                dirty = local != (base if base is not None else product.submitted_version)
                if dirty:
                    db.session.add(
                        ProductConflict(
                            organization_id=product.organization_id,
                            product_id=product.id,
                            run_id=run.id,
                            local_version=local,
                            douyin_version=remote,
                            detected_at=now,
                            resolution="",
                        )
                    )
                    action, message = "conflict", _l("上次同步后本地有修改，抖音上的版本也变了：请选择保留哪个版本")
                    run.conflicts += 1
                    fields.update({k: [local[k], remote[k]] for k in local if local[k] != remote[k]})
                else:
                    fields.update(apply_content(product, remote, self.stores_by_poi, now=now))
                    version = remote
        self.versions[product.id] = (product, version)
        if action == "conflict":
            self.record(product, douyin_id, product.name, "conflict", fields, message)
        elif fields:
            run.changed += 1
            self.record(product, douyin_id, product.name, "updated", fields, "")

    def approve_if_online(self, product: Product, entry: dict, remote: dict, fields: dict, now: datetime) -> None:
        """Douyin shows online only approved content: the online version being our pending
        submission, changed after we submitted it, means it was approved."""
        if product.review_status != ReviewStatus.REVIEWING or remote != product.submitted_version:
            return
        times = [_int(entry["product"].get("update_time")), _int((entry.get("sku") or {}).get("update_time"))]
        updated = max((t for t in times if t is not None), default=None)
        if product.submitted_at is not None and (updated is None or updated < int(product.submitted_at.timestamp())):
            return
        self.apply_review(product, ReviewStatus.APPROVED, "", fields, now)

    def reconcile_review(self, product: Product, entry: dict, fields: dict, now: datetime) -> None:
        """Apply the review state of a draft/get entry."""
        status = REVIEW_BY_DRAFT_STATUS.get(entry["draft_status"])
        if status is None:
            return
        if product.review_status == ReviewStatus.DRAFT and status == ReviewStatus.REVIEWING:
            return
        self.apply_review(product, status, entry.get("audit_msg") or "", fields, now)

    def apply_review(self, product: Product, status: ReviewStatus, reason: str, fields: dict, now: datetime) -> None:
        before_status, before_reason = product.review_status, product.review_reason
        if record_review(product, status, reason, now=now, source="sync"):
            if before_status != product.review_status:
                fields["review_status"] = [before_status, product.review_status]
            if before_reason != product.review_reason:
                fields["review_reason"] = [before_reason, product.review_reason]

    def record(self, product, douyin_id, name, action, fields, message) -> None:
        db.session.add(
            SyncChange(
                run_id=self.run.id,
                product_id=product.id if product is not None else None,
                douyin_product_id=douyin_id or "",
                name=str(name)[:100],
                action=action,
                fields=fields,
                message=message,
            )
        )

    # --- phase 2 -------------------------------------------------------------------------

    def missing_phase(self) -> None:
        run = self.run
        missing = list(
            db.session.scalars(
                select(Product).where(
                    Product.organization_id == run.organization_id,
                    Product.douyin_online.is_(True),
                    (Product.last_seen_run_id.is_(None)) | (Product.last_seen_run_id != run.id),
                )
            )
        )
        for product in missing:
            product.douyin_online = False
            product.synced_at = clock.now()
            run.changed += 1
            self.record(product, product.douyin_product_id, product.name, "missing", {"douyin_online": [True, False]},
                        _l("抖音在线商品列表中没有此商品，已标记为抖音未上架"))
        run.phase = "review"
        run.cursor = None
        self.beat()

    # --- phase 3 -------------------------------------------------------------------------

    def review_phase(self) -> None:
        run = self.run
        while True:
            after = int(run.cursor or 0)
            batch = list(
                db.session.scalars(
                    select(Product)
                    .where(
                        Product.organization_id == run.organization_id,
                        Product.review_status == ReviewStatus.REVIEWING,
                        Product.douyin_product_id.is_not(None),
                        Product.id > after,
                    )
                    .order_by(Product.id)
                    .limit(DRAFT_BATCH)
                )
            )
            if not batch:
                run.cursor = None
                run.phase = "done"
                self.beat()
                return
            data = self.call(self.client.draft_get, product_ids=[p.douyin_product_id for p in batch])
            by_id = {e["product"]["product_id"]: e for e in data["product_drafts"]}
            unsent = unsent_saves(run.organization_id, [p.id for p in batch])
            now = clock.now()
            for product in batch:
                run.seen += 1
                entry = by_id.get(product.douyin_product_id)
                if entry is None or product.id in unsent:
                    continue
                fields: dict = {}
                self.reconcile_review(product, entry, fields, now)
                product.last_seen_run_id = run.id
                product.synced_at = now
                if fields:
                    run.changed += 1
                    self.record(product, product.douyin_product_id, product.name, "updated", fields, "")
            run.pages += 1
            run.cursor = str(batch[-1].id)
            self.beat()


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _finish(run: SyncRun, status: SyncStatus) -> None:
    run.status = status
    run.finished_at = clock.now()
    run.heartbeat_at = run.finished_at
    run.active_org_id = None
    audit.record("catalog.sync.finished", organization_id=run.organization_id, obj=run, status=status.value,
                 seen=run.seen, changed=run.changed, conflicts=run.conflicts, errors=run.errors)


def run_sync(run_id: int, *, client=None, checkpoint=None, page_size: int = PAGE_SIZE, lease: Lease | None = None) -> SyncRun | None:
    """Do (or continue) one sync run. Idempotent: a finished run is left alone; a run restarted
    after its worker died resumes from its stored phase and cursor and ends in the same state.

    Exclusive: a run another runner holds a live lease on is left alone (returned as it is), and a
    runner that loses its lease stops, rolling back what it had not committed (LeaseLost is not
    raised). `lease` is filled with the attempt claimed; pass it again to continue under it.

    `checkpoint` commits progress (the job passes db.session.commit); a Douyin failure that
    outlasts the retries ends the run as partial (or failed if nothing was done), keeping what it did.
    """
    from portal.onboarding.connection import NotConnected, client_for

    checkpoint = checkpoint or db.session.flush
    lease = lease if lease is not None else Lease()
    run = db.session.get(SyncRun, run_id)
    if run is None or not run.status_enum.active:
        return run
    if not _claim(run, lease, clock.now()):
        log.info("sync run %s: another runner holds the lease (attempt %s)", run.id, run.attempts)
        return run
    checkpoint()
    runner = _Runner(run, lease, None, checkpoint, page_size)
    try:
        try:
            runner.client = client or client_for(run.organization_id, max_retries=3, sleep=runner.wait)
        except NotConnected as error:
            run.last_error = error.reason
            run.errors += 1
            runner.finish(SyncStatus.FAILED)
            return run
        try:
            if run.phase == "online":
                runner.online_phase()
            if run.phase == "missing":
                runner.missing_phase()
            if run.phase == "review":
                runner.review_phase()
        except DouyinError as error:
            # Pages are applied only after their call succeeded, so nothing half-done is pending here.
            run.errors += 1
            run.last_error = str(error)[:2000]
            did_something = run.pages > 0 or run.changed > 0
            runner.finish(SyncStatus.PARTIAL if did_something else SyncStatus.FAILED)
            return run
        runner.finish(SyncStatus.SUCCEEDED if run.errors == 0 else SyncStatus.PARTIAL)
    except LeaseLost as error:
        log.warning("%s: stopping without writing", error)
        db.session.rollback()
        db.session.refresh(run)
    return run
