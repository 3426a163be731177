"""Figures read from the stores when scraped, and shown as headline figures in the operator area:
queue depth and failed jobs per queue, the outbox backlog, settlement lag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db, queue


@dataclass(frozen=True)
class QueueFigures:
    name: str
    queued: int
    failed: int


@dataclass(frozen=True)
class Figures:
    queues: list[QueueFigures]
    outbox_pending: int
    outbox_failed: int
    outbox_oldest_seconds: float
    settlement_overdue: int
    settlement_lag_seconds: float

    @property
    def jobs_queued(self) -> int:
        return sum(item.queued for item in self.queues)

    @property
    def jobs_failed(self) -> int:
        return sum(item.failed for item in self.queues)


def _utc(value):
    # MIN() hands back what the driver gives: naive UTC (SQLite text, PostgreSQL timestamp).
    if isinstance(value, str):
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _age(now, then) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


def read(app: Flask | None = None) -> Figures:
    """Read every figure now (a few COUNTs on indexed columns and one Redis round trip a queue)."""
    from portal.ledger.models import LedgerOrder, LedgerOrderStatus
    from portal.outbox import OutboxMessage, OutboxStatus

    now = clock.now()
    queues = [QueueFigures(name, len(q), q.failed_job_registry.count) for name, q in zip(_names(), queue.all(app), strict=True)]
    pending, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
    ).one()
    failed = db.session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.FAILED))
    overdue, oldest_due = db.session.execute(
        select(func.count(), func.min(LedgerOrder.due_at)).where(
            LedgerOrder.status == LedgerOrderStatus.IN_TRANSIT, LedgerOrder.due_at <= now
        )
    ).one()
    return Figures(queues, pending, failed or 0, _age(now, _utc(oldest)), overdue, _age(now, _utc(oldest_due)))


def read_or_none(app: Flask | None = None) -> Figures | None:
    """`read()`, or None (logged) when a store does not answer: a scrape or a page still answers."""
    try:
        return read(app)
    except Exception:
        import logging

        logging.getLogger(__name__).exception("could not read the operations figures")
        db.session.rollback()
        return None


def _names():
    from portal.queue import QUEUE_NAMES

    return QUEUE_NAMES


class StoreCollector:
    """Prometheus collector over `read()`; a store that does not answer leaves its figures out
    and says so in `portal_figures_up` rather than failing the whole scrape."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        up = GaugeMetricFamily("portal_figures_up", "1 when the stores' figures could be read")
        figures = read_or_none(self.app)
        if figures is None:  # a scrape must still answer with the process samples
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("portal_queue_jobs", "Jobs waiting in an RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("portal_queue_failed_jobs", "Jobs in an RQ queue's failed registry", labels=["queue"])
        for item in figures.queues:
            depth.add_metric([item.name], item.queued)
            failed.add_metric([item.name], item.failed)
        yield depth
        yield failed
        outbox = GaugeMetricFamily("portal_outbox_messages", "Outbox messages by status", labels=["status"])
        outbox.add_metric(["pending"], figures.outbox_pending)
        outbox.add_metric(["failed"], figures.outbox_failed)
        yield outbox
        yield GaugeMetricFamily(
            "portal_outbox_oldest_pending_seconds", "Age of the oldest outbox message waiting", value=figures.outbox_oldest_seconds
        )
        yield GaugeMetricFamily(
            "portal_settlement_overdue_orders", "Orders due for settlement and not settled", value=figures.settlement_overdue
        )
        yield GaugeMetricFamily(
            "portal_settlement_lag_seconds", "How long the oldest due, unsettled order has waited", value=figures.settlement_lag_seconds
        )
