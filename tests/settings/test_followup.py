"""After-payment follow-up: template placeholders, sending through the outbox, call-back tasks."""

import json

import pytest
import responses

from portal import signals
from portal.outbox import OutboxMessage
from portal.settings import features, service
from portal.settings.errors import SettingsError
from portal.settings.models import CallbackTask

pytestmark = pytest.mark.usefixtures("request_context")


def test_template_refuses_unknown_placeholders(org, owner):
    with pytest.raises(SettingsError, match="未知的占位符 {coupon}") as error:
        service.save_template(org, body="码 {coupon}", enabled=True, actor=owner)
    assert error.value.field == "body"


def test_render_fills_store_facts(org, settings_factory):
    store = org.stores[0]
    store.opening_hours = "10:00-22:00"
    order = settings_factory.order(org, store)
    text = service.render_template_text("码{voucher_code} 时间{opening_hours} 店{store_name}", service.order_values(order))
    assert order.vouchers[0].code in text and "10:00-22:00" in text and store.name in text


def test_paid_order_queues_the_message_and_a_callback_task(org, owner, settings_factory, db, clock):
    service.save_template(org, body="您的核销码 {voucher_code}，营业时间 {opening_hours}", enabled=True, actor=owner)
    order = settings_factory.order(org, org.stores[0])
    signals.order_paid.send(order)
    signals.order_paid.send(order)  # a replayed callback changes nothing
    messages = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == service.FOLLOWUP_KIND)).all()
    assert len(messages) == 1
    assert order.vouchers[0].code in messages[0].payload["content"]
    assert messages[0].payload["open_id"] == "buyer-open-id"
    tasks = db.session.scalars(db.select(CallbackTask).where(CallbackTask.order_id == order.id)).all()
    assert len(tasks) == 1 and tasks[0].due_at == order.paid_at + service.CALLBACK_WINDOW


def test_disabled_template_or_feature_sends_nothing(org, owner, operator, settings_factory, db):
    service.save_template(org, body="{voucher_code}", enabled=False, actor=owner)
    signals.order_paid.send(settings_factory.order(org, org.stores[0]))
    service.save_template(org, body="{voucher_code}", enabled=True, actor=owner)
    features.set_feature(org, "followup_messages", False, actor=operator)
    signals.order_paid.send(settings_factory.order(org, org.stores[0]))
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == service.FOLLOWUP_KIND)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(CallbackTask)) == 2  # call-backs still happen


@responses.activate
def test_outbox_delivers_through_message_send(org, owner, connected, settings_factory, db, queue):
    responses.post("http://douyin.test/oauth/client_token/", json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.post("http://douyin.test/api/apps/v1/message/send/", json={"data": {"msg_id": "m-1", "error_code": 0, "description": ""}, "extra": {"error_code": 0, "description": "", "logid": "l"}})
    service.save_template(org, body="核销码 {voucher_code}", enabled=True, actor=owner)
    order = settings_factory.order(org, org.stores[0])
    signals.order_paid.send(order)
    db.session.commit()
    queue.run()
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == service.FOLLOWUP_KIND))
    assert message.status == "delivered" and message.result["msg_id"] == "m-1"
    sent = json.loads([c for c in responses.calls if "message/send" in c.request.url][0].request.body)
    assert sent["order_id"] == order.douyin_order_id and order.vouchers[0].code in sent["content"]


def test_callback_list_shows_only_uncontacted_and_marks_late(org, manager, owner, settings_factory, clock, db):
    first = settings_factory.order(org, org.stores[0])
    other_store = settings_factory.order(org, org.stores[1])
    signals.order_paid.send(first)
    signals.order_paid.send(other_store)
    scoped = service.list_callback_tasks(org.id, frozenset({org.stores[0].id}))
    assert [t.order_id for t in scoped] == [first.id]
    clock.advance(minutes=61)
    service.mark_contacted(scoped[0], actor=manager, now=clock.now(), note="已电话")
    assert service.list_callback_tasks(org.id, frozenset({org.stores[0].id})) == []
    entry = db.session.scalar(db.select(service.AuditEntry).where(service.AuditEntry.code == "settings.callback.contacted"))
    assert entry.payload["late"] is True
