"""Notification switches decide e-mail; the centre scopes by store; read marks."""

from portal import notifications
from portal.accounts.models import Role
from portal.mail import OutgoingMail
from portal.settings import features, service
import pytest

pytestmark = pytest.mark.usefixtures("request_context")


def mails(db):
    return db.session.scalars(db.select(OutgoingMail).order_by(OutgoingMail.id)).all()


def test_notification_is_emailed_to_admins_when_switch_on(org, owner, accounts, db):
    hq = accounts.user(Role.HQ_ADMIN, org)
    accounts.user(Role.CLERK, org, org.stores[0])
    notifications.notify(org.id, "refund_request", "退款申请", "订单 1 申请退款")
    assert sorted(m.to for m in mails(db)) == sorted([owner.email, hq.email])
    assert mails(db)[0].subject == "[退款申请] 退款申请"


def test_switch_off_keeps_only_the_in_app_entry(org, owner, db):
    service.set_notification_switch(org, "refund_request", False, actor=owner)
    note = notifications.notify(org.id, "refund_request", "退款申请")
    assert mails(db) == [] and note.id is not None


def test_email_feature_off_sends_nothing(org, owner, operator, db):
    features.set_feature(org, "email_notifications", False, actor=operator)
    notifications.notify(org.id, "withdrawal", "提现成功")
    assert mails(db) == []


def test_store_notice_goes_to_that_store_manager_too(org, owner, manager, accounts, db):
    other_manager = accounts.user(Role.STORE_MANAGER, org, org.stores[1])
    notifications.notify(org.id, "anomaly", "异常", store_id=org.stores[0].id)
    recipients = {m.to for m in mails(db)}
    assert manager.email in recipients and other_manager.email not in recipients


def test_unread_count_scoped_and_mark_all(org, clock, db):
    notifications.notify(org.id, "system", "全局")
    notifications.notify(org.id, "anomaly", "门店一", store_id=org.stores[0].id)
    notifications.notify(org.id, "anomaly", "门店二", store_id=org.stores[1].id)
    assert service.unread_count(org.id, None) == 3
    assert service.unread_count(org.id, frozenset({org.stores[0].id})) == 1
    assert service.mark_all_read(org.id, frozenset({org.stores[0].id}), now=clock.now()) == 1
    assert service.unread_count(org.id, None) == 2
