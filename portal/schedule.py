"""Periodic jobs, timed by RQ's scheduler.

Each entry runs through `portal.jobs.default.run_periodic(name)`, which calls the job and then
schedules the next occurrence with a deterministic id (`periodic:<name>:<slot>`), so starting
several workers, or calling `ensure_scheduled()` again, never doubles a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from portal import clock


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str
    every: timedelta | None = None
    daily_at: time | None = None  # Asia/Shanghai wall-clock time

    def next_slot(self, after: datetime) -> datetime:
        if self.every is not None:
            step = int(self.every.total_seconds())
            stamp = int(after.timestamp())
            return datetime.fromtimestamp((stamp // step + 1) * step, tz=after.tzinfo)
        local = clock.to_local(after)
        candidate = local.replace(hour=self.daily_at.hour, minute=self.daily_at.minute, second=0, microsecond=0)
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate.astimezone(after.tzinfo)


PERIODIC: dict[str, Periodic] = {}


def register(entry: Periodic) -> Periodic:
    PERIODIC[entry.name] = entry
    return entry


register(Periodic("outbox-sweep", "portal.jobs.outbox.run_outbox_sweep", every=timedelta(minutes=1)))
register(Periodic("redemption-events-sweep", "portal.jobs.default.run_redemption_events_sweep", every=timedelta(minutes=1)))
register(Periodic("webhook-sweep", "portal.jobs.default.run_webhook_sweep", every=timedelta(minutes=1)))
register(Periodic("ledger-settlement", "portal.jobs.ledger.queue_settlement", every=timedelta(minutes=10)))
register(Periodic("ledger-withdrawal-checks", "portal.jobs.ledger.run_withdrawal_checks", every=timedelta(minutes=2)))
register(Periodic("ledger-reconciliation", "portal.jobs.ledger.run_reconciliation", daily_at=time(6, 0)))
register(Periodic("catalog-sync-sweep", "portal.jobs.sync.run_catalog_sync_sweep", every=timedelta(minutes=1)))
register(Periodic("redemption-daily-export", "portal.jobs.export.run_daily_exports", daily_at=time(10, 0)))
register(Periodic("onboarding-miniapp-review-poll", "portal.onboarding.jobs.run_miniapp_review_poll", every=timedelta(minutes=5)))
register(Periodic("onboarding-authorization-renewal", "portal.onboarding.jobs.run_authorization_renewal", daily_at=time(4, 0)))


def schedule_next(name: str, app=None) -> None:
    from datetime import UTC, datetime as dt

    from portal.extensions import queue

    entry = PERIODIC[name]
    # RQ's scheduler runs on the real clock, so slots are computed from the real time.
    slot = entry.next_slot(dt.now(UTC))
    queue.enqueue_now("default", "portal.jobs.default.run_periodic", name, job_id=f"periodic:{name}:{int(slot.timestamp())}", at=slot)


def ensure_scheduled(app) -> None:
    """Make sure every periodic job has its next run scheduled (idempotent)."""
    with app.app_context():
        for name in PERIODIC:
            schedule_next(name)
