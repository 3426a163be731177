"""The owner sets up the after-payment subscription message and a booking slot; a customer buys in
the Douyin sandbox, receives the message, books a visit on the consumer page and sees it confirmed;
the booking is in the portal's day view with no sync button to press."""

import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.accounts.models import Store
from portal.extensions import db
from portal.settings import bookings
from tests.e2e.conftest import online_product, sign_in, wait_until
from tests.e2e.test_merchant_day import shot


def test_a_paid_customer_gets_the_subscription_message_and_books_a_confirmed_visit(live_portal, live_sandbox, demo_connected, browser, desktop):
    poi_id = demo_connected["poi_ids"][0]
    with live_portal.app.app_context():
        store = db.session.scalar(select(Store).where(Store.douyin_poi_id == poi_id))
        if not any(s.label == "18:00-20:00" for s in bookings.list_slots(store.id)):
            bookings.add_slot(store, starts="18:00", ends="20:00", capacity=4, actor=None)
            db.session.commit()
        store_id, day = store.id, clock.today_local() + timedelta(days=1)

    sign_in(desktop, live_portal.url, "owner@demo.test")
    desktop.wait_for_url(re.compile(r"/dashboard$"))
    desktop.goto(f"{live_portal.url}/settings/followup")
    desktop.check("#enabled")
    desktop.fill("#template_id", "MSG4fd2a0e1c93b")
    desktop.fill("#body", "核销码={voucher_code}\n门店名称={store_name}\n营业时间={opening_hours}")
    desktop.wait_for_selector("#settings-followup-preview-text dt")
    shot(desktop, "followup-subscription-message")
    desktop.click("#settings-followup-form button[type=submit]")
    desktop.wait_for_url(re.compile(r"/settings/followup$"))
    assert desktop.input_value("#template_id") == "MSG4fd2a0e1c93b"

    product_id = online_product(live_portal, live_sandbox, demo_connected, out_id="e2e-booking-1", name="周末双人餐")
    customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN").new_page()
    customer.set_default_timeout(15000)
    customer.goto(f"{live_sandbox.url}/consumer/product/{product_id}?poi_id={poi_id}")
    customer.fill("input[name=phone]", "13700001234")
    customer.click("button[name=action][value=pay]")
    customer.wait_for_url(re.compile(r"/consumer/order/"))

    def message_arrived():
        customer.reload()
        return customer.locator("#consumer-messages").count() and "核销码：" in customer.inner_text("#consumer-messages")

    assert wait_until(message_arrived), "the portal sent the subscription message (notify_user) after payment"
    assert "门店名称：示例餐饮" in customer.inner_text("#consumer-messages")

    customer.fill("input[name=date]", day.isoformat())
    customer.select_option("select[name=slot]", "18:00-20:00")
    customer.fill("input[name=note]", "2 人")
    customer.click("form[action$='/book'] button")
    customer.wait_for_selector("text=预约已提交，商家已确认")

    def answered_on_douyin():
        customer.reload()
        return "预约成功" in customer.inner_text("body")

    assert wait_until(answered_on_douyin), "the portal told Douyin the booking was confirmed (book_result_callback)"
    shot(customer, "consumer-booking-confirmed")

    desktop.goto(f"{live_portal.url}/settings/bookings/?store_id={store_id}&day={day.isoformat()}")
    assert "2 人" in desktop.inner_text("body") and "13700001234" in desktop.inner_text("body")
    assert desktop.locator("#settings-booking-sync").count() == 0
    shot(desktop, "bookings-day-view")
    customer.context.close()
