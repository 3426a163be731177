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


T = "MSG38489d04608c5f0fdeb565fc5114afff6410"


def test_template_refuses_unknown_placeholders(org, owner):
    with pytest.raises(SettingsError, match="未知的占位符 {coupon}") as error:
        service.save_template(org, template_id=T, body="核销码={coupon}", enabled=True, actor=owner)
    assert error.value.field == "body"


@pytest.mark.parametrize(("body", "problem"), [
    ("核销码 {voucher_code}", "第 1 行应写成 字段名=内容"),
    ("=x", "第 1 行应写成 字段名=内容"),
    ("门店=a\n门店=b", "字段“门店”重复"),
    ("\n  \n", "请至少填写一个模板字段"),
])
def test_template_refuses_a_field_map_that_is_not_one_field_per_line(org, owner, body, problem):
    with pytest.raises(SettingsError, match=problem) as error:
        service.save_template(org, template_id=T, body=body, enabled=True, actor=owner)
    assert error.value.field == "body"


@pytest.mark.parametrize(("template_id", "enabled", "problem"), [("", True, "开启自动发送前"), ("12345", False, "以 MSG 开头")])
def test_template_needs_a_subscription_template_id_to_be_switched_on(org, owner, template_id, enabled, problem):
    with pytest.raises(SettingsError, match=problem) as error:
        service.save_template(org, template_id=template_id, body="核销码={voucher_code}", enabled=enabled, actor=owner)
    assert error.value.field == "template_id"


def test_template_off_may_have_no_template_id(org, owner):
    template = service.save_template(org, template_id="", body="核销码＝{voucher_code}", enabled=False, actor=owner)
    assert template.body == "核销码={voucher_code}" and template.template_id == ""


def test_render_fills_store_facts(org, settings_factory):
    store = org.stores[0]
    store.opening_hours = "10:00-22:00"
    order = settings_factory.order(org, store)
    fields = service.render_fields("码={voucher_code}\n时间={opening_hours}\n店={store_name}\n电话={store_phone}", service.order_values(order))
    assert fields["码"] == order.vouchers[0].code and fields["时间"] == "10:00-22:00" and fields["店"] == store.name
    assert fields["电话"] == (store.phone or "—")


def test_paid_order_queues_the_subscription_message_and_a_callback_task(org, owner, settings_factory, db, clock):
    service.save_template(org, template_id=T, body="核销码={voucher_code}\n营业时间={opening_hours}",
                          page="pages/order?no={order_no}", enabled=True, actor=owner)
    order = settings_factory.order(org, org.stores[0])
    signals.order_paid.send(order)
    signals.order_paid.send(order)  # a replayed callback changes nothing
    messages = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == service.FOLLOWUP_KIND)).all()
    assert len(messages) == 1
    payload = messages[0].payload
    assert payload["msg_id"] == T and payload["open_id"] == "buyer-open-id"
    assert payload["data"]["核销码"] == order.vouchers[0].code and set(payload["data"]) == {"核销码", "营业时间"}
    assert payload["page"] == f"pages/order?no={order.out_order_no}"
    tasks = db.session.scalars(db.select(CallbackTask).where(CallbackTask.order_id == order.id)).all()
    assert len(tasks) == 1 and tasks[0].due_at == order.paid_at + service.CALLBACK_WINDOW


def test_disabled_template_or_feature_sends_nothing(org, owner, operator, settings_factory, db):
    service.save_template(org, template_id=T, body="码={voucher_code}", enabled=False, actor=owner)
    signals.order_paid.send(settings_factory.order(org, org.stores[0]))
    service.save_template(org, template_id=T, body="码={voucher_code}", enabled=True, actor=owner)
    features.set_feature(org, "followup_messages", False, actor=operator)
    signals.order_paid.send(settings_factory.order(org, org.stores[0]))
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == service.FOLLOWUP_KIND)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(CallbackTask)) == 2  # call-backs still happen


NOTIFY_USER = "http://douyin.test/api/notification/v2/subscription/notify_user/"


@responses.activate
def test_outbox_delivers_through_notify_user(org, owner, connected, settings_factory, db, queue):
    responses.post("http://douyin.test/oauth/client_token/", json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.post(NOTIFY_USER, json={"err_no": 0, "err_msg": "", "log_id": "l"})
    service.save_template(org, template_id=T, body="核销码={voucher_code}", enabled=True, actor=owner)
    order = settings_factory.order(org, org.stores[0])
    signals.order_paid.send(order)
    db.session.commit()
    queue.run()
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == service.FOLLOWUP_KIND))
    assert message.status == "delivered"
    sent = json.loads([c for c in responses.calls if c.request.url == NOTIFY_USER][0].request.body)
    assert sent == {"msg_id": T, "open_id": "buyer-open-id", "data": {"核销码": order.vouchers[0].code}}
    assert responses.calls[-1].request.headers["access-token"] == "clt.x"


def test_a_message_queued_before_subscription_templates_fails_for_good(org, db, connected):
    from portal import outbox

    message = outbox.add(org.id, service.FOLLOWUP_KIND, {"order_id": "o1", "open_id": "u1", "content": "旧消息"}, dedupe_key="followup:old")
    db.session.flush()
    assert outbox.deliver(message.id) == "failed"
    assert "subscription template" in message.last_error


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
