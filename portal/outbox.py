"""Deliveries to Douyin that must not be lost: written in the merchant's transaction, sent by a job.

A service calls `outbox.add(...)` in the same transaction as the state change Douyin must learn
about. After commit a job delivers it through the handler registered for its kind; a transient
failure (Douyin slow, down, rate limiting) reschedules it with backoff, a permanent one marks it
failed with the reason, visible to the merchant and the operator. A periodic sweep re-queues
anything due, so a lost job or a dead worker only delays delivery.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.database import insert_unless_taken
from portal.douyin import DouyinError
from portal.extensions import db, queue

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
# How long a delivery that cannot be attempted (see CannotAttempt) waits before the sweep looks again.
CANNOT_ATTEMPT_WAIT = timedelta(hours=1)
_handlers: dict[str, Callable[["OutboxMessage"], dict | None]] = {}


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    # Same key, same delivery: adding it twice keeps one row.
    dedupe_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("kind", "dedupe_key"),
        Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),
    )


def handler(kind: str):
    """Register the function that delivers messages of `kind` (it raises DouyinError on failure)."""

    def register(func):
        _handlers[kind] = func
        return func

    return register


def add(organization_id: int, kind: str, payload: dict, *, dedupe_key: str) -> OutboxMessage:
    """Record a delivery in the current transaction and queue it after commit; idempotent on
    (kind, dedupe_key): the existing row is returned and nothing is queued twice."""
    now = clock.now()
    message = OutboxMessage(
        organization_id=organization_id,
        kind=kind,
        dedupe_key=dedupe_key,
        payload=payload,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    if not insert_unless_taken(db.session, message, "kind", "dedupe_key"):
        return db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == kind, OutboxMessage.dedupe_key == dedupe_key))
    queue_delivery(message.id)
    return message


def queue_delivery(message_id: int) -> None:
    """Deliver a message this transaction wrote after it commits (`add` does; so does a service
    that writes the row in its own statement)."""
    queue.enqueue("outbox", "portal.jobs.outbox.run_outbox_delivery", message_id, job_id=f"outbox:{message_id}:0", fresh_id=True)


class CannotAttempt(Exception):
    """Raised by a handler before it calls Douyin when the delivery cannot be tried at all (the
    merchant has not entered the AppSecret yet): the message stays pending with this as its error,
    counts no attempt, and waits; the job that tried it does not fail. `reason`, when present, is
    the text to store (shown through the `douyin_error` filter)."""


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 h, with jitter so a recovering Douyin is not stampeded."""
    base = min(30 * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def deliver(message_id: int) -> str:
    """Try one delivery now. Returns the new status. Safe to call twice: a delivered message is left alone."""
    message = db.session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status != OutboxStatus.PENDING:
        return "skipped"
    func = _handlers.get(message.kind)
    if func is None:
        raise LookupError(f"no outbox handler for {message.kind}")
    message.attempts += 1
    try:
        message.result = func(message) or {}
    except CannotAttempt as error:
        message.attempts -= 1
        message.last_error = str(getattr(error, "reason", "") or error)
        message.next_attempt_at = clock.now() + CANNOT_ATTEMPT_WAIT
        log.info("outbox message %s (%s) waits: %s", message.id, message.kind, message.last_error)
        return OutboxStatus.PENDING
    except DouyinError as error:
        message.last_error = f"{error.code}: {error}" if error.code is not None else str(error)
        if error.retryable and message.attempts < MAX_ATTEMPTS:
            message.next_attempt_at = clock.now() + backoff(message.attempts)
            queue.enqueue(
                "outbox",
                "portal.jobs.outbox.run_outbox_delivery",
                message.id,
                job_id=f"outbox:{message.id}:{message.attempts}",
                at=message.next_attempt_at,
            )
            return OutboxStatus.PENDING
        message.status = OutboxStatus.FAILED
        return OutboxStatus.FAILED
    message.status = OutboxStatus.DELIVERED
    message.delivered_at = clock.now()
    message.last_error = ""
    return OutboxStatus.DELIVERED


def due(limit: int = 500) -> list[int]:
    """Ids of pending messages whose next attempt is due (the sweep re-queues them)."""
    return list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= clock.now())
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
        )
    )


def retry(message: OutboxMessage) -> None:
    """Send a failed message again (operator or merchant asked for it)."""
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = clock.now()
    queue.enqueue("outbox", "portal.jobs.outbox.run_outbox_delivery", message.id, job_id=f"outbox:{message.id}:retry{message.attempts}")
