"""Deliveries to Douyin survive Douyin being down: retried with backoff, never lost, never doubled."""

import pytest
from sqlalchemy import func, select

from portal import outbox
from portal.douyin import DouyinError, DouyinUnavailable
from portal.outbox import OutboxMessage

calls = []
behaviour = {"fail": 0, "permanent": False}


@outbox.handler("test.deliver")
def deliver_test(message):
    calls.append(message.payload["n"])
    if behaviour["permanent"]:
        raise DouyinError(40001, "参数错误", retryable=False)
    if behaviour["fail"] > 0:
        behaviour["fail"] -= 1
        raise DouyinUnavailable(None, "timeout")
    return {"ok": True}


@pytest.fixture(autouse=True)
def reset():
    calls.clear()
    behaviour.update(fail=0, permanent=False)


def test_adding_twice_keeps_one_delivery(db, org, queue):
    first = outbox.add(org.id, "test.deliver", {"n": 1}, dedupe_key="k1")
    second = outbox.add(org.id, "test.deliver", {"n": 1}, dedupe_key="k1")
    db.session.commit()
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    queue.run()
    assert calls == [1]
    db.session.refresh(first)
    assert first.status == "delivered" and first.result == {"ok": True}


def test_adding_compiles_its_insert_once(db, org, compiled_for):
    # The INSERT … ON CONFLICT DO NOTHING is a cached statement: the second add runs the first's
    # compiled SQL. (The dialects' own ON CONFLICT inserts have no cache key and were compiled
    # on every add.)
    with compiled_for("INSERT INTO outbox_messages") as compiled:
        outbox.add(org.id, "test.deliver", {"n": 1}, dedupe_key="c1")
        outbox.add(org.id, "test.deliver", {"n": 2}, dedupe_key="c2")
    assert len(compiled) == 2 and compiled[0] is compiled[1]


def test_outage_delays_delivery_and_loses_nothing(db, org, queue, clock):
    behaviour["fail"] = 2
    message = outbox.add(org.id, "test.deliver", {"n": 2}, dedupe_key="k2")
    db.session.commit()
    assert outbox.deliver(message.id) == "pending"
    assert message.attempts == 1 and "timeout" in message.last_error
    assert message.next_attempt_at > clock.now()
    assert outbox.due() == []  # not yet
    clock.advance(minutes=5)
    assert outbox.due() == [message.id]
    assert outbox.deliver(message.id) == "pending"
    clock.advance(minutes=10)
    assert outbox.deliver(message.id) == "delivered"
    assert calls == [2, 2, 2]
    assert outbox.deliver(message.id) == "skipped"


def test_permanent_error_marks_failed_with_the_reason_and_retry_resends(db, org):
    behaviour["permanent"] = True
    message = outbox.add(org.id, "test.deliver", {"n": 3}, dedupe_key="k3")
    assert outbox.deliver(message.id) == "failed"
    assert "参数错误" in message.last_error
    behaviour["permanent"] = False
    outbox.retry(message)
    assert outbox.deliver(message.id) == "delivered"


def test_sweep_requeues_due_messages(db, org, queue):
    from portal.jobs.outbox import run_outbox_sweep

    message = outbox.add(org.id, "test.deliver", {"n": 4}, dedupe_key="k4")
    db.session.commit()
    queue.clear()  # the job was lost
    assert run_outbox_sweep() == 1
    queue.run()
    db.session.refresh(message)
    assert message.status == "delivered"


def test_a_delivery_that_cannot_be_attempted_says_why_and_waits_without_failing(db, org, clock):
    import portal.ledger.handlers  # noqa: F401  registers ledger.refund_audit
    from portal.jobs.outbox import run_outbox_delivery

    message = outbox.add(org.id, "ledger.refund_audit", {"refund_id": "r1", "agree": True, "deny_message": None}, dedupe_key="r1")
    db.session.commit()
    assert run_outbox_delivery(message.id) == "pending"  # the job itself succeeds
    db.session.refresh(message)
    assert message.status == "pending" and message.attempts == 0
    assert message.last_error  # the reason (no AppSecret) is shown where the message is listed
    assert message.id not in outbox.due()  # waits instead of being re-queued by every sweep
    clock.advance(hours=2)
    assert message.id in outbox.due()
