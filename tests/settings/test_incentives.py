"""Follow-up redemption incentives: offers, pushing one after the call-back (a subscription
message through the outbox), uptake derived from redemptions by the deadline, what the counter
shows beside the voucher, and the overview's counts."""

import json
from datetime import timedelta

import pytest
import responses
from bs4 import BeautifulSoup

from portal import signals
from portal.orders.models import VoucherStatus
from portal.outbox import OutboxMessage
from portal.settings import counter_card, features, incentives, service
from portal.settings.models import OrderIncentive

pytestmark = pytest.mark.usefixtures("request_context")

T = "MSG4fd2a0e1c93b"
NOTIFY_USER = "http://douyin.test/api/notification/v2/subscription/notify_user/"


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.fixture
def drink(org, owner, settings_factory):
    product = settings_factory.product(org, stores=org.stores, name="双人套餐")
    offer = incentives.add_offer(org, text="3 天内到店核销送饮品", gift="饮品", valid_days=3, product_ids=[product.id], template_id=T,
                                 body=incentives.DEFAULT_BODY, actor=owner)
    return product, offer


def _called_back(org, settings_factory, product, manager, clock, *, vouchers=1, store=None):
    order = settings_factory.order(org, store or org.stores[0], vouchers=vouchers)
    order.items[0].product_id = product.id
    signals.order_paid.send(order)
    task = service.list_callback_tasks(org.id, None)[-1]
    service.mark_contacted(task, actor=manager, now=clock.now())
    return order


def _redeem(voucher, at):
    voucher.status, voucher.redeemed_at = VoucherStatus.REDEEMED, at


@pytest.mark.parametrize(("change", "field"), [
    ({"text": " "}, "text"),
    ({"text": "送" * 61}, "text"),
    ({"gift": ""}, "gift"),
    ({"valid_days": 0}, "valid_days"),
    ({"valid_days": 31}, "valid_days"),
    ({"valid_days": None}, "valid_days"),
    ({"product_ids": []}, "product_ids"),
    ({"product_ids": ["999999"]}, "product_ids"),
    ({"template_id": "abc"}, "template_id"),
    ({"body": "活动内容={unknown}"}, "body"),
    ({"body": "没有等号"}, "body"),
])
def test_an_offer_with_bad_input_names_the_field_and_saves_nothing(org, owner, settings_factory, db, change, field):
    product = settings_factory.product(org, name="单人餐")
    values = dict(text="3 天内到店核销送饮品", gift="饮品", valid_days=3, product_ids=[product.id], template_id=T, body=incentives.DEFAULT_BODY)
    values.update(change)
    with pytest.raises(incentives.IncentiveError) as error:
        incentives.add_offer(org, actor=owner, **values)
    assert error.value.field == field
    assert incentives.list_offers(org.id) == []


def test_another_merchants_product_cannot_be_in_an_offer(org, accounts, owner, settings_factory):
    theirs = settings_factory.product(accounts.org("别家"), name="别家套餐")
    with pytest.raises(incentives.IncentiveError, match="适用商品"):
        incentives.add_offer(org, text="送饮品", gift="饮品", valid_days=3, product_ids=[theirs.id], template_id=T,
                             body=incentives.DEFAULT_BODY, actor=owner)


@responses.activate
def test_a_pushed_incentive_is_recorded_with_its_deadline_and_sent_through_notify_user(org, manager, drink, settings_factory, connected, db,
                                                                                       queue, clock):
    responses.post("http://douyin.test/oauth/client_token/", json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
    responses.post(NOTIFY_USER, json={"err_no": 0, "err_msg": "", "log_id": "l"})
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    assert [o.id for o in incentives.pushable_orders(org.id, None)] == [order.id]

    incentive = incentives.push(order, offer, actor=manager, now=clock.now())
    db.session.commit()
    queue.run()

    assert incentive.deadline_at == clock.now() + timedelta(days=3) and incentive.gift == "饮品"
    assert incentives.pushable_orders(org.id, None) == []
    sent = json.loads([c for c in responses.calls if c.request.url == NOTIFY_USER][0].request.body)
    assert sent["msg_id"] == T and sent["open_id"] == "buyer-open-id"
    assert sent["data"]["活动内容"] == "3 天内到店核销送饮品" and sent["data"]["核销码"] == order.vouchers[0].code
    assert db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == incentives.MESSAGE_KIND)).status == "delivered"


def test_an_order_gets_one_incentive_and_only_for_the_offers_products(org, owner, manager, drink, settings_factory, db, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    incentives.push(order, offer, actor=manager, now=clock.now())
    with pytest.raises(incentives.IncentiveError, match="已经推送过"):
        incentives.push(order, offer, actor=manager, now=clock.now())
    other = _called_back(org, settings_factory, settings_factory.product(org, name="别的商品"), manager, clock)
    with pytest.raises(incentives.IncentiveError, match="不适用"):
        incentives.push(other, offer, actor=manager, now=clock.now())
    incentives.set_offer_active(offer, False, actor=owner)
    third = _called_back(org, settings_factory, product, manager, clock)
    with pytest.raises(incentives.IncentiveError, match="已停用"):
        incentives.push(third, offer, actor=manager, now=clock.now())
    assert db.session.scalar(db.select(db.func.count()).select_from(OrderIncentive)) == 1


def test_an_order_with_nothing_left_to_redeem_gets_no_incentive(org, manager, drink, settings_factory, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    _redeem(order.vouchers[0], clock.now())
    with pytest.raises(incentives.IncentiveError, match="没有未使用的券"):
        incentives.push(order, offer, actor=manager, now=clock.now())


def test_the_counter_shows_the_gift_until_the_deadline_and_once_per_order(org, manager, drink, settings_factory, db, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock, vouchers=2)
    first, second = order.vouchers
    assert counter_card.for_voucher(first.id).incentive == ""
    incentives.push(order, offer, actor=manager, now=clock.now())
    db.session.flush()

    card = counter_card.for_voucher(first.id, now=clock.now() + timedelta(days=2))
    assert (card.incentive, card.gift) == ("give", "饮品")
    assert counter_card.for_voucher(first.id, now=clock.now() + timedelta(days=3, seconds=1)).incentive == "expired"

    _redeem(first, clock.now() + timedelta(days=1))
    db.session.flush()
    assert counter_card.for_voucher(first.id).incentive == "give"  # the confirm's card: hand it over now
    assert counter_card.for_voucher(second.id).incentive == "given"


def test_uptake_counts_a_redemption_by_the_deadline_on_its_day(org, manager, drink, settings_factory, db, clock):
    product, offer = drink
    on_time, late, open_ = (_called_back(org, settings_factory, product, manager, clock) for _ in range(3))
    for order in (on_time, late, open_):
        incentives.push(order, offer, actor=manager, now=clock.now())
    _redeem(on_time.vouchers[0], clock.now() + timedelta(days=1))
    _redeem(late.vouchers[0], clock.now() + timedelta(days=4))
    db.session.flush()
    today = clock.now().astimezone(incentives.clock.SHANGHAI).date()

    assert incentives.counts(org.id, None, today, today + timedelta(days=10)) == incentives.Counts(sent=3, taken=1)
    assert incentives.counts(org.id, None, today, today) == incentives.Counts(sent=3, taken=0)
    assert incentives.counts(org.id, frozenset({org.stores[1].id}), today, today + timedelta(days=10)) == incentives.Counts()
    states = {row.incentive.order_id: row.state(clock.now() + timedelta(days=2)) for row in incentives.list_sent(org.id, None)}
    assert (states[on_time.id], states[open_.id]) == ("taken", "open")
    states = {row.incentive.order_id: row.state(clock.now() + timedelta(days=5)) for row in incentives.list_sent(org.id, None)}
    assert states == {on_time.id: "taken", late.id: "expired", open_.id: "expired"}


# --- pages ---------------------------------------------------------------------------------------

def test_the_incentives_page_is_for_managers_and_another_tenants_order_is_not_found(client, org, clerk, manager, accounts, drink,
                                                                                     settings_factory, clock):
    assert "/login" in client.get("/settings/incentives/").headers["Location"]
    assert client.login_as(clerk).get("/settings/incentives/").status_code == 403
    product, offer = drink
    theirs = settings_factory.order(accounts.org("别家"))
    client.login_as(manager)
    assert client.post_form(f"/settings/incentives/orders/{theirs.id}/push", {"offer_id": str(offer.id)}).status_code == 404
    # a store manager may push but not create offers
    assert client.post_form("/settings/incentives/offers", {"text": "x"}).status_code == 403


def test_an_owner_adds_an_offer_and_a_bad_one_is_422_with_the_field_error(client, org, owner, settings_factory, db):
    product = settings_factory.product(org, name="火锅套餐")
    db.session.commit()
    client.login_as(owner)
    form = {"text": "3 天内到店核销送饮品", "gift": "饮品", "valid_days": "45", "product_ids": str(product.id), "template_id": T,
            "body": incentives.DEFAULT_BODY}
    bad = client.post_form("/settings/incentives/offers", form)
    assert bad.status_code == 422
    assert html(bad).select_one("#valid_days-error").get_text(strip=True) == "有效天数应在 1 到 30 之间"
    assert incentives.list_offers(org.id) == []
    good = client.post_form("/settings/incentives/offers", dict(form, valid_days="3"))
    assert good.status_code == 303
    page = html(client.get("/settings/incentives/"))
    assert "3 天内到店核销送饮品" in page.select_one("#settings-incentive-offers").get_text()


def test_a_manager_pushes_from_the_page_and_sees_it_pending(client, org, manager, drink, settings_factory, db, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    db.session.commit()
    client.login_as(manager)
    page = html(client.get("/settings/incentives/"))
    assert page.select_one(f"#settings-incentive-order-{order.id} select[name=offer_id] option")["value"] == str(offer.id)
    assert client.post_form(f"/settings/incentives/orders/{order.id}/push", {"offer_id": str(offer.id)}).status_code == 303
    page = html(client.get("/settings/incentives/"))
    assert page.select_one(f"#settings-incentive-order-{order.id}") is None
    row = page.select_one("#settings-incentive-sent tbody tr")
    assert row["data-state"] == "open" and order.douyin_order_id in row.get_text()
    again = client.post_form(f"/settings/incentives/orders/{order.id}/push", {"offer_id": str(offer.id)})
    assert again.status_code == 422  # the order is no longer offered, and the page says why
    assert "已经推送过" in html(again).select_one(f"#settings-incentive-error-{order.id}").get_text()


def test_the_push_is_refused_when_subscription_messages_are_off(client, org, operator, manager, drink, settings_factory, db, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    features.set_feature(org, "followup_messages", False, actor=operator)
    db.session.commit()
    client.login_as(manager)
    assert client.post_form(f"/settings/incentives/orders/{order.id}/push", {"offer_id": str(offer.id)}).status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(OrderIncentive)) == 0


def test_the_overview_counts_incentives_next_to_redemptions(client, org, owner, manager, drink, settings_factory, db, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    incentives.push(order, offer, actor=manager, now=clock.now())
    _redeem(order.vouchers[0], clock.now() + timedelta(hours=1))
    db.session.commit()
    text = html(client.login_as(owner).get("/insights/")).select_one("#insights-total-redemptions #insights-incentives").get_text(strip=True)
    assert text == "核销激励：推送 1 · 领取 1"


def test_another_orders_redemption_does_not_count_as_this_ones(org, manager, drink, settings_factory, db, clock):
    product, offer = drink
    order = _called_back(org, settings_factory, product, manager, clock)
    incentives.push(order, offer, actor=manager, now=clock.now())
    _redeem(settings_factory.order(org, org.stores[0]).vouchers[0], clock.now())
    db.session.flush()
    assert counter_card.for_voucher(order.vouchers[0].id).incentive == "give"
    assert incentives.list_sent(org.id, None)[0].redeemed_at is None
