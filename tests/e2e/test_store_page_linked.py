"""The owner keeps a store's Douyin page and links a Douyin account by its owner's authorization,
with the sandbox reviewing both as the platform does."""

import re

from sqlalchemy import select

from portal.accounts.models import Store
from portal.extensions import db
from tests.e2e.conftest import sign_in


def test_an_edited_store_page_is_pushed_reviewed_and_the_result_shown(live_portal, live_sandbox, demo_connected, browser, desktop):
    poi_id = demo_connected["poi_ids"][0]
    with live_portal.app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.douyin_poi_id == poi_id))
    sign_in(desktop, live_portal.url, "owner@demo.test")
    desktop.wait_for_url(re.compile(r"/dashboard$"))
    desktop.goto(f"{live_portal.url}/settings/stores/{store_id}")
    desktop.fill("#address", "望京街 88 号")
    desktop.fill("#phone", "0755 8888 6666")
    desktop.fill("#cover_image_url", "https://img.test/cover.jpg")
    for day in range(1, 6):
        desktop.fill(f"#hours_{day}", "10:00-22:00")
    desktop.fill("#hours_6", "10:00-25:00")
    desktop.click("#settings-store-form button[type=submit]")
    assert "不成立" in desktop.inner_text("#field-hours_6 .form-error")
    desktop.fill("#hours_6", "09:00-14:00, 17:00-23:00")
    desktop.click("#settings-store-form button[type=submit]")
    desktop.wait_for_selector("#settings-store-review-status >> text=抖音审核中")
    # Until Douyin approves, the POI still has the old address: the page flags it.
    desktop.click("#settings-store-review a")
    desktop.wait_for_selector("#settings-store-mismatch [data-field=address]")

    console = browser.new_page()
    console.goto(f"{live_sandbox.url}/console/storefront")
    row = console.locator(f"#page-store-{store_id}")
    assert "09:00-14:00" in row.inner_text() and "0755-88886666" in row.inner_text()
    row.locator("button[value='1']").click()
    console.wait_for_selector("text=门店信息审核结果已保存")

    desktop.wait_for_selector("#settings-store-review-status >> text=审核通过")
    desktop.click("#settings-store-review a")
    desktop.wait_for_selector("#settings-store-match")
    console.close()


def test_a_channel_account_is_linked_after_its_owner_authorizes_and_douyin_approves(live_portal, live_sandbox, demo_connected, browser, desktop):
    sign_in(desktop, live_portal.url, "owner@demo.test")
    desktop.wait_for_url(re.compile(r"/dashboard$"))
    desktop.goto(f"{live_portal.url}/settings/accounts/")
    desktop.select_option("#role", "channel")
    desktop.click("#settings-link-start")
    desktop.wait_for_selector("#settings-link-qr svg")
    link = desktop.get_attribute("#settings-link-url", "href")

    owner_phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN").new_page()
    owner_phone.goto(link)
    assert "渠道账号" in owner_phone.inner_text("#aweme-bind")
    owner_phone.fill("#user_name", "望京探店小王")
    owner_phone.fill("#phone", "13712340000")
    owner_phone.check("#agree")
    owner_phone.click("#aweme-bind-submit")
    owner_phone.wait_for_selector("#aweme-bind-agreed")

    # Douyin's relation list names who agreed (抖音号, nickname) and nothing more: no avatar, no phone.
    desktop.wait_for_selector("#settings-link-reviewing")
    assert desktop.inner_text("#settings-link-nickname") == "望京探店小王"
    assert desktop.inner_text("#settings-link-aweme") == "5713712340000"
    assert "137****0000" not in desktop.inner_text("#settings-link-authorization")

    console = browser.new_page()
    console.goto(f"{live_sandbox.url}/console/storefront")
    console.locator("#relation-5713712340000 button[value='1']").click()
    console.wait_for_selector("text=绑定审核结果已保存")

    desktop.wait_for_selector("#settings-linked-table >> text=望京探店小王")
    assert "5713712340000" in desktop.inner_text("#settings-linked-table")
    assert "137****0000" not in desktop.inner_text("#settings-linked-table")

    # A channel account may be unbound at once (the 24-hour wait is the official account's). Douyin
    # learns of it through the outbox; the row waits for its confirmation, then says when it came.
    row_id = desktop.get_attribute("#settings-linked-table tr:has-text('望京探店小王')", "id")
    account_id = row_id.removeprefix("settings-linked-")
    desktop.click(f"#{row_id} button")
    desktop.wait_for_selector("text=账号已解绑")
    assert desktop.query_selector(f"#{row_id}") is None
    state = f"#settings-unbound-{account_id} .unbind-state"
    assert re.fullmatch(r"解绑中：等待抖音确认|已解绑\s.*", desktop.inner_text(state).strip())  # whichever came first
    desktop.wait_for_selector(f"{state} >> text=已解绑")
    assert re.search(r"已解绑\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}", desktop.inner_text(state))
    console.reload()
    assert console.query_selector("#relation-5713712340000") is None  # Douyin dropped the relation
    console.close()
