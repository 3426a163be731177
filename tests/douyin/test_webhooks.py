"""Inbound callbacks: verified, stored once, acknowledged, handed to handlers after commit."""

import json

import pytest
from sqlalchemy import func, select

from portal.douyin import webhooks
from portal.douyin.events import WebhookEvent
from portal.douyin.signing import generate_rsa_keypair

seen = []


@pytest.fixture(autouse=True)
def payment_handler():
    seen.clear()

    def record(event):
        seen.append((event.event_type, event.payload["order_id"]))

    webhooks.handler("test_payment")(record)
    yield
    webhooks._handlers["test_payment"].remove(record)


def count(db):
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


PAYMENT = {"order_id": "ot123", "out_order_no": "o-1", "status": "SUCCESS", "total_amount": 9900, "message_id": "m-1"}


def test_signed_callback_is_stored_once_and_acknowledged(connected, db, queue):
    response = connected.trade_callback("test_payment", PAYMENT)
    assert response.status_code == 200
    assert response.get_json() == {"err_no": 0, "err_tips": "success"}
    assert count(db) == 1
    event = db.session.scalars(select(WebhookEvent)).one()
    assert event.organization_id == connected.org.id and event.payload["total_amount"] == 9900
    assert json.loads(event.raw_body)["type"] == "test_payment"
    queue.run()
    assert seen == [("test_payment", "ot123")]
    db.session.expire_all()
    assert event.status == "processed"


def test_replayed_callback_is_acknowledged_and_changes_nothing(connected, db, queue):
    for _ in range(3):
        assert connected.trade_callback("test_payment", PAYMENT).get_json()["err_no"] == 0
    assert count(db) == 1
    queue.run()
    assert seen == [("test_payment", "ot123")]


def test_tampered_body_is_rejected_and_nothing_is_stored(connected, db, caplog):
    response = connected.trade_callback("test_payment", PAYMENT, tamper=True)
    assert response.status_code == 401
    assert count(db) == 0
    assert "rejected Douyin callback" in caplog.text


def test_callback_signed_with_another_key_is_rejected(connected, db):
    other_private, _ = generate_rsa_keypair()
    assert connected.trade_callback("test_payment", PAYMENT, key=other_private).status_code == 401
    assert count(db) == 0


def test_stale_timestamp_is_rejected(connected, db, clock):
    stale = int(clock.now().timestamp()) - 3600
    assert connected.trade_callback("test_payment", PAYMENT, timestamp=stale).status_code == 401
    future = int(clock.now().timestamp()) + 3600
    assert connected.trade_callback("test_payment", PAYMENT, timestamp=future).status_code == 401
    assert count(db) == 0


def test_unknown_callback_url_is_not_found(client, db):
    assert client.post("/douyin/callbacks/nope/trade", data=b"{}").status_code == 404


def test_missing_headers_are_rejected(connected, db):
    response = connected.client.post(connected.trade_url, data=b'{"type":"payment","msg":"{}"}')
    assert response.status_code == 401
    assert count(db) == 0


def test_synchronous_responder_answers_in_the_ack(connected, db):
    webhooks.responder("test_pre_refund")(lambda event: {"out_refund_no": "r-" + event.payload["order_id"]})
    try:
        reply = connected.trade_callback("test_pre_refund", {"order_id": "ot9", "refund_id": "rf1"}).get_json()
    finally:
        webhooks._responders.pop("test_pre_refund")
    assert reply == {"err_no": 0, "err_tips": "success", "data": {"out_refund_no": "r-ot9"}}


def test_goodlife_webhook_dedupes_on_the_signed_body_not_the_msg_id_header(connected, db):
    content = {"product_id": "7001", "status": "PASS", "reason": ""}
    for msg_id in ("a", "b", "c", None):
        assert connected.goodlife_webhook("life_product_audit", content, msg_id=msg_id).status_code == 200
    assert count(db) == 1


def test_goodlife_webhook_checks_the_sha1_signature_and_dedupes_on_msg_id(connected, db):
    content = {"product_id": "7001", "status": "PASS", "reason": ""}
    assert connected.goodlife_webhook("life_product_audit", content, msg_id="abc").status_code == 200
    assert connected.goodlife_webhook("life_product_audit", content, msg_id="abc").status_code == 200
    assert count(db) == 1
    assert connected.goodlife_webhook("life_product_audit", content, msg_id="def", secret="wrong").status_code == 401
    assert count(db) == 1


def test_goodlife_signature_hex_is_compared_in_any_case(connected, db):
    from portal.douyin.signing import webhook_signature

    raw = json.dumps({"event": "life_product_audit", "client_key": connected.app.app_id, "content": "{}", "log_id": "x"}).encode()
    signature = webhook_signature(connected.app_secret, raw)
    for given in (signature.upper(), signature.lower()):
        reply = connected.client.post(connected.webhook_url, data=raw, headers={"X-Douyin-Signature": given, "Content-Type": "application/json"})
        assert reply.status_code == 200
    assert count(db) == 1


def test_goodlife_url_verification_echoes_the_challenge(connected, db):
    reply = connected.goodlife_webhook("verify_webhook", {"challenge": 12345})
    assert reply.get_json() == {"challenge": 12345}
    assert count(db) == 0


def test_failing_handler_marks_the_event_failed_and_replay_runs_it_again(connected, db, queue):
    calls = []

    def flaky(event):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    webhooks.handler("test_flaky")(flaky)
    try:
        connected.trade_callback("test_flaky", {"order_id": "ot5", "message_id": "f-1"})
        queue.run()
        event = db.session.scalars(select(WebhookEvent)).one()
        db.session.refresh(event)
        assert event.status == "failed" and "boom" in event.error
        webhooks.replay(event)
        db.session.commit()
        queue.run()
        db.session.refresh(event)
        assert event.status == "processed" and len(calls) == 2
    finally:
        webhooks._handlers["test_flaky"].remove(flaky)


def test_a_callback_whose_job_was_lost_is_queued_again_by_the_sweep_and_handled_once(connected, db, queue, clock):
    from portal.jobs.default import run_webhook_sweep

    assert connected.trade_callback("test_payment", PAYMENT).status_code == 200
    queue.clear()  # the worker running it was killed: the job is gone, the event still received
    assert run_webhook_sweep() == 0  # too young: its job may still be running
    clock.advance(minutes=3)
    assert run_webhook_sweep() == 1
    queue.run()
    assert seen == [("test_payment", "ot123")]
    assert run_webhook_sweep() == 0
    queue.run()
    assert seen == [("test_payment", "ot123")]
