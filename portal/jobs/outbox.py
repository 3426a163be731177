"""Jobs on the `outbox` queue: deliveries to Douyin."""

from portal.jobs import app_context


def run_outbox_delivery(message_id: int) -> str:
    from portal import outbox
    from portal.extensions import db

    with app_context():
        status = outbox.deliver(message_id)
        db.session.commit()
        return status


def run_outbox_sweep() -> int:
    """Re-queue every due pending delivery (a lost job or a dead worker only delays it)."""
    from portal import outbox
    from portal.extensions import db, queue

    with app_context():
        ids = outbox.due()
        for message_id in ids:
            queue.enqueue("outbox", "portal.jobs.outbox.run_outbox_delivery", message_id, job_id=f"outbox:{message_id}:sweep")
        db.session.commit()
        return len(ids)
