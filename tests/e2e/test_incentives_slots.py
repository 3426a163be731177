"""Customer self-service and follow-up incentives, in the browser against the sandbox: a customer
books a time slot and a private room on the consumer page and the counter shows them beside the
voucher; a second customer is refused the taken room; after the call-back the manager pushes a
「3 天内到店核销送饮品」 incentive, the customer receives it, the clerk sees 送饮品 and redeems in
time, and the overview counts it taken up."""

import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.accounts.models import Store
from portal.extensions import db
from portal.orders.models import Order
from portal.settings import bookings
from portal.settings.models import CallbackTask
from tests.e2e.conftest import online_product, sign_in, wait_until
from tests.e2e.test_merchant_day import shot


def _customer(browser):
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN").new_page()
    page.set_default_timeout(15000)
    return page


def _buy(customer, live_sandbox, product_id, poi_id, phone):
    customer.goto(f"{live_sandbox.url}/consumer/product/{product_id}?poi_id={poi_id}")
    customer.fill("input[name=phone]", phone)
    customer.click("button[name=action][value=pay]")
    customer.wait_for_url(re.compile(r"/consumer/order/"))
    return customer.url.rsplit("/", 1)[-1].split("?")[0]


def _picker(page, day):
    """The order page's booking picker for `day`, once the merchant's back end has answered it (the
    mini-program asks again when an answer is slow, as the page does on a reload)."""
    url = f"{page.url.split('?')[0]}?book_day={day.isoformat()}"

    def shown():
        page.goto(url)
        return page.locator("#consumer-book-room").count() > 0

    return wait_until(shown)


def _code(live_portal, douyin_order_id):
    def issued():
        with live_portal.app.app_context():
            order = db.session.scalar(select(Order).where(Order.douyin_order_id == douyin_order_id))
            return order.vouchers[0].code if order is not None and order.vouchers else None
    return wait_until(issued)


def test_a_customer_books_a_slot_and_a_room_and_the_counter_shows_them(live_portal, live_sandbox, demo_connected, browser, phone):
    poi_id = demo_connected["poi_ids"][0]
    with live_portal.app.app_context():
        store = db.session.scalar(select(Store).where(Store.douyin_poi_id == poi_id))
        if not any(s.label == "12:00-14:00" for s in bookings.list_slots(store.id)):
            bookings.add_slot(store, starts="12:00", ends="14:00", capacity=3, actor=None)
        if not any(r.name == "牡丹厅" for r in bookings.list_rooms(store.id)):
            bookings.add_room(store, name="牡丹厅", seats=6, actor=None)
        db.session.commit()
        day = clock.today_local() + timedelta(days=2)
    product_id = online_product(live_portal, live_sandbox, demo_connected, out_id="e2e-room-1", name="包间双人餐")

    customer = _customer(browser)
    order_id = _buy(customer, live_sandbox, product_id, poi_id, "13700005678")
    code = _code(live_portal, order_id)
    assert code, "the payment callback made the order with its voucher"
    assert _picker(customer, day), "the consumer page shows the merchant's slots and rooms"
    assert "余 3 单" in customer.inner_text("#consumer-book-slot")
    customer.select_option("#consumer-book-slot", "12:00-14:00")
    customer.select_option("#consumer-book-room", "牡丹厅")
    customer.fill("#consumer-book-people", "4")
    customer.click("form[action$='/book'] button")
    customer.wait_for_selector("text=预约已提交，商家已确认")
    shot(customer, "consumer-booking-room")

    other = _customer(browser)
    other_order = _buy(other, live_sandbox, product_id, poi_id, "13700006789")
    assert _code(live_portal, other_order)
    assert _picker(other, day)
    assert "已订：12:00-14:00" in other.inner_text("#consumer-book-room")
    other.select_option("#consumer-book-slot", "12:00-14:00")
    other.select_option("#consumer-book-room", "牡丹厅")
    other.click("form[action$='/book'] button")
    other.wait_for_selector("text=包间 牡丹厅 在 %s 12:00-14:00 已被预订" % day.isoformat())

    sign_in(phone, live_portal.url, "clerk@demo.test")
    phone.wait_for_url("**/counter/")
    phone.fill("#code", code)
    phone.click("#redemption-lookup-submit")
    phone.wait_for_selector("#redemption-preview")
    booking = " ".join(phone.inner_text("#redemption-booking").split())
    assert booking == f"{day:%m-%d} 12:00-14:00 · 包间 牡丹厅 · 4 人"
    shot(phone, "counter-booking-room")
    phone.click("#redemption-confirm")
    phone.wait_for_selector("#redemption-success")
    assert "包间 牡丹厅" in phone.inner_text("#redemption-booking")
    customer.context.close()
    other.context.close()


def _overview_counts(page, base_url):
    page.goto(f"{base_url}/insights/")
    sent, taken = re.search(r"推送 (\d+) · 领取 (\d+)", page.inner_text("#insights-incentives")).groups()
    return int(sent), int(taken)


def test_an_incentive_pushed_after_the_call_back_is_redeemed_in_time_and_counted(live_portal, live_sandbox, demo_connected, browser, desktop,
                                                                                   phone):
    poi_id = demo_connected["poi_ids"][0]
    product_id = online_product(live_portal, live_sandbox, demo_connected, out_id="e2e-incentive-1", name="饮品套餐")
    sign_in(desktop, live_portal.url, "owner@demo.test")
    desktop.wait_for_url(re.compile(r"/dashboard$"))
    before = _overview_counts(desktop, live_portal.url)

    desktop.goto(f"{live_portal.url}/settings/incentives/")
    desktop.fill("#text", "3 天内到店核销送饮品")
    desktop.fill("#gift", "饮品")
    desktop.fill("#valid_days", "40")
    desktop.select_option("#product_ids", label="饮品套餐")
    desktop.fill("#template_id", "MSG7c1e0b2a9d4f")
    desktop.click("#settings-incentive-offer-form button")
    assert desktop.inner_text("#valid_days-error") == "有效天数应在 1 到 30 之间"
    desktop.fill("#valid_days", "3")
    desktop.select_option("#product_ids", label="饮品套餐")
    desktop.click("#settings-incentive-offer-form button")
    desktop.wait_for_selector("text=已保存，回访后即可推送给顾客")

    customer = _customer(browser)
    order_id = _buy(customer, live_sandbox, product_id, poi_id, "13700007890")
    code = _code(live_portal, order_id)
    assert code
    with live_portal.app.app_context():
        order = db.session.scalar(select(Order).where(Order.douyin_order_id == order_id))
        order_pk = order.id
        task_id = wait_until(lambda: db.session.scalar(select(CallbackTask.id).where(CallbackTask.order_id == order_pk)))

    desktop.goto(f"{live_portal.url}/settings/callbacks")
    desktop.click(f"#settings-callback-{task_id} button")
    desktop.wait_for_selector("text=已记录为已联系")
    desktop.goto(f"{live_portal.url}/settings/incentives/")
    desktop.click(f"#settings-incentive-order-{order_pk} button")
    desktop.wait_for_selector("text=前到店核销有效")
    assert desktop.get_attribute("#settings-incentive-sent tbody tr:first-child", "data-state") == "open"
    shot(desktop, "incentive-pushed")

    def received():
        customer.reload()
        return customer.locator("#consumer-messages").count() and "3 天内到店核销送饮品" in customer.inner_text("#consumer-messages")

    assert wait_until(received), "the portal sent the incentive as a subscription message (notify_user)"

    sign_in(phone, live_portal.url, "clerk@demo.test")
    phone.wait_for_url("**/counter/")
    phone.fill("#code", code)
    phone.click("#redemption-lookup-submit")
    phone.wait_for_selector("#redemption-incentive")
    assert phone.get_attribute("#redemption-incentive", "data-state") == "give", phone.inner_text("#redemption-incentive")
    assert phone.inner_text("#redemption-incentive .badge") == "送饮品"
    phone.click("#redemption-confirm")
    phone.wait_for_selector("#redemption-success")
    assert phone.get_attribute("#redemption-incentive", "data-state") == "give"
    shot(phone, "counter-incentive-gift")

    sent, taken = _overview_counts(desktop, live_portal.url)
    assert (sent, taken) == (before[0] + 1, before[1] + 1)
    desktop.goto(f"{live_portal.url}/settings/incentives/")
    assert desktop.get_attribute("#settings-incentive-sent tbody tr:first-child", "data-state") == "taken"
    customer.context.close()
