"""Settings' reactions, registered at start-up (listed in portal.wiring.HANDLER_MODULES):
the after-payment follow-up and call-back task, its outbox delivery, a booking's result for
Douyin, and notification e-mail."""

from portal import notifications, outbox, signals
from portal.settings import bookings, service, storepage
from portal.settings import incentives, linked


def _order_paid(order, **_):
    service.on_order_paid(order)


signals.order_paid.connect(_order_paid, weak=False)
outbox.handler(service.FOLLOWUP_KIND)(service.deliver_followup)
outbox.handler(bookings.RESULT_KIND)(bookings.deliver_result)
# A follow-up incentive is a subscription message like the after-payment one (notify_user).
outbox.handler(incentives.MESSAGE_KIND)(service.deliver_followup)
outbox.handler(storepage.PUSH_KIND)(storepage.deliver_push)
outbox.handler(linked.UNBIND_KIND)(linked.deliver_unbind)
if service.email_notification not in notifications.delivery_hooks:
    notifications.delivery_hooks.append(service.email_notification)
