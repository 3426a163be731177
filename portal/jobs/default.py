"""Jobs on the `default` queue."""

from portal.jobs import app_context


def run_deliver_mail(mail_id: int) -> str:
    """Send one queued e-mail; idempotent (a sent mail is not sent again)."""
    from portal import mail
    from portal.extensions import db

    with app_context():
        status = mail.deliver(mail_id)
        db.session.commit()
        return status


def run_redemption_events(voucher_id: int, completed: bool, report_id: int | None = None) -> None:
    """A counter confirm committed: tell the other domains (`voucher_redeemed`, `order_completed`)
    and deliver its Douyin report (outbox message `report_id`), one job for both. Each part
    commits on its own; a report this job could not deliver is picked up by the outbox sweep."""
    from portal import outbox
    from portal.extensions import db
    from portal.redemption import service

    with app_context():
        try:
            service.send_redemption_events(voucher_id, completed=completed)
            db.session.commit()
        finally:
            if report_id is not None:
                db.session.rollback()  # nothing of a failed first part goes out with the delivery
                outbox.deliver(report_id)
                db.session.commit()


def run_batched(func: str, recover: bool = False) -> int:
    """Run every call to `func` waiting on its batch list (`queue.enqueue_batched`); `recover`
    first puts back the calls a dead job had taken."""
    from portal.extensions import queue

    with app_context():
        return queue.run_batched(func, recover=recover)


def run_redemption_events_sweep() -> int:
    """The counter's confirms whose batch job was lost or died (periodic): run what still waits."""
    return run_batched("portal.jobs.default.run_redemption_events", recover=True)


def run_webhook_sweep() -> int:
    """Queue again every stored callback whose job was lost (periodic): a dead worker delays a
    callback, never drops it."""
    from datetime import timedelta

    from flask import current_app

    from portal.douyin import webhooks
    from portal.extensions import db, queue

    with app_context():
        ids = webhooks.stalled(timedelta(seconds=current_app.config["WEBHOOK_SWEEP_AFTER_SECONDS"]))
        for event_id in ids:
            queue.enqueue("default", "portal.jobs.default.run_webhook_event", event_id, job_id=f"webhook:{event_id}:sweep")
        db.session.commit()
        return len(ids)


def run_periodic(name: str):
    """Run one periodic job, then schedule its next occurrence."""
    from importlib import import_module

    from portal import schedule

    entry = schedule.PERIODIC[name]
    module, _, func = entry.func.rpartition(".")
    try:
        return getattr(import_module(module), func)()
    finally:
        with app_context():
            schedule.schedule_next(name)


def run_webhook_event(event_id: int) -> str:
    """Hand one stored Douyin callback to its domain handler (idempotent)."""
    from portal.douyin import webhooks
    from portal.extensions import db

    with app_context():
        try:
            status = webhooks.process(event_id)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            webhooks.mark_failed(event_id, repr(error))
            db.session.commit()
            raise  # kept in RQ's failed registry for the operator to retry
        return status


SETTLEMENT_CHUNK = 2000


def run_insights_settled(organization_id: int, batch: str) -> int:
    """Record one settlement batch's cash on the overview, a committed chunk at a time (idempotent)."""
    from portal.extensions import db
    from portal.insights import aggregation
    from portal.ledger import service as ledger

    changed = 0
    with app_context():
        rows = ledger.batch_settlements(organization_id, batch)
        for start in range(0, len(rows), SETTLEMENT_CHUNK):
            changed += aggregation.apply_settlements(organization_id, rows[start : start + SETTLEMENT_CHUNK])
            db.session.commit()
    return changed


def run_insights_sync(order_id: int) -> str:
    """Re-derive one order's overview figures from its current state (idempotent)."""
    from portal.extensions import db
    from portal.insights import aggregation
    from portal.orders.models import Order

    with app_context():
        order = db.session.get(Order, order_id)
        if order is None:
            return "skipped"
        aggregation.sync_order(order)
        db.session.commit()
        return "synced"
