"""Jobs on the `ledger` queue: settlement runs, Douyin settle requests, withdrawal checks,
daily reconciliation. Each is idempotent and may run as often as it likes."""

from __future__ import annotations

from portal.jobs import app_context

SETTLE_BATCH = 5000


def run_settlement(organization_id: int | None = None) -> int:
    """Settle every due order, one committed batch at a time; returns how many settled."""
    from portal import clock
    from portal.extensions import db
    from portal.ledger import service

    total = 0
    with app_context():
        while True:
            settled = service.settle_batch(now=clock.now(), limit=SETTLE_BATCH, organization_id=organization_id)
            db.session.commit()
            total += settled
            if settled < SETTLE_BATCH:
                return total


def run_settle_requests(*_ignored) -> int:
    """Deliver the due `ledger.settle_create` outbox rows now (the outbox sweep also would)."""
    from sqlalchemy import select

    from portal import clock, outbox
    from portal.extensions import db

    delivered = 0
    with app_context():
        ids = list(db.session.scalars(
            select(outbox.OutboxMessage.id).where(
                outbox.OutboxMessage.kind == "ledger.settle_create", outbox.OutboxMessage.status == outbox.OutboxStatus.PENDING,
                outbox.OutboxMessage.next_attempt_at <= clock.now(),
            ).order_by(outbox.OutboxMessage.id).limit(2000)
        ))
        for message_id in ids:
            outbox.deliver(message_id)
            db.session.commit()
            delivered += 1
    return delivered


def run_withdrawal_checks() -> int:
    """Ask Douyin (ecpay query_withdraw_order) about every withdrawal still processing and record paid/failed."""
    from sqlalchemy import select

    from portal import clock
    from portal.douyin import DouyinError
    from portal.extensions import db
    from portal.ledger import service
    from portal.ledger.models import Withdrawal, WithdrawalStatus

    checked = 0
    with app_context():
        ids = list(db.session.scalars(select(Withdrawal.id).where(Withdrawal.status == WithdrawalStatus.PROCESSING, Withdrawal.douyin_withdraw_id != "")))
        for withdrawal_id in ids:
            withdrawal = db.session.get(Withdrawal, withdrawal_id)
            account = service.platform_account(withdrawal.organization_id)
            if account is None:
                continue
            client, merchant_uid, channel = account
            try:
                data = client.query_withdraw_order(merchant_uid=merchant_uid, channel_type=channel, out_order_id=withdrawal.out_withdraw_no)
            except DouyinError:
                db.session.rollback()
                continue
            service.apply_withdraw_status(withdrawal, data, now=clock.now())
            db.session.commit()
            checked += 1
    return checked


def run_reconciliation(organization_id: int | None = None, bill_date: str | None = None) -> int:
    """Reconcile one day (default: yesterday, Shanghai) for one or every connected organization."""
    from datetime import date, timedelta

    from sqlalchemy import select

    from portal import clock
    from portal.extensions import db
    from portal.ledger import reconcile
    from portal.onboarding.connection import NotConnected, client_for
    from portal.onboarding.models import DouyinApp

    day = date.fromisoformat(bill_date) if bill_date else clock.today_local() - timedelta(days=1)
    done = 0
    with app_context():
        orgs = [organization_id] if organization_id else list(db.session.scalars(select(DouyinApp.organization_id).where(DouyinApp.app_id.is_not(None))))
        for org_id in orgs:
            try:
                client = client_for(org_id)
            except NotConnected:
                continue
            reconcile.reconcile(org_id, day, client=client, now=clock.now())
            db.session.commit()
            done += 1
    return done


def queue_settlement() -> None:
    """The periodic entry: put one settlement run on the `ledger` queue (one at a time)."""
    from portal.extensions import queue

    with app_context():
        queue.enqueue_now("ledger", "portal.jobs.ledger.run_settlement", job_id="ledger:settlement")
