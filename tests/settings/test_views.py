"""Settings pages: roles, tenancy, forms, htmx fragments, the badge event."""

import csv
import io
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from portal import clock as portal_clock
from portal import notifications
from portal.accounts.models import Role
from portal.settings import features, linked
from portal.settings.models import CallbackTask, Content


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


ADMIN_PAGES = ["/settings/", "/settings/notifications/switches", "/settings/followup", "/settings/stores/", "/settings/content/", "/settings/accounts/", "/settings/audit"]
MANAGER_PAGES = ["/settings/notifications/", "/settings/callbacks", "/settings/bookings/"]


def test_anonymous_is_sent_to_login(client):
    for path in ADMIN_PAGES + MANAGER_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


@pytest.mark.parametrize("role", [Role.OWNER, Role.HQ_ADMIN])
def test_hq_sees_every_settings_page(client, accounts, org, role):
    client.login_as(accounts.user(role, org))
    for path in ADMIN_PAGES + MANAGER_PAGES:
        assert client.get(path).status_code == 200, path


def test_store_manager_sees_only_store_pages(client, manager):
    client.login_as(manager)
    for path in MANAGER_PAGES:
        assert client.get(path).status_code == 200, path
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path


def test_clerk_and_operator_are_forbidden(client, clerk, operator):
    for user in (clerk, operator):
        client.login_as(user)
        for path in ADMIN_PAGES + MANAGER_PAGES:
            assert client.get(path).status_code == 403, (user.email, path)


def test_index_links_the_refund_policy_and_the_anomaly_rules(client, owner):
    client.login_as(owner)
    page = html(client.get("/settings/"))
    for link_id in ("#settings-link-refund-policy", "#settings-link-anomaly-rules"):
        assert client.get(page.select_one(link_id)["href"]).status_code == 200, link_id


def test_badge_counts_unread_and_mark_read_fires_the_event(client, hx, owner, org, db):
    note = notifications.notify(org.id, "refund_request", "退款申请", "订单 A")
    db.session.commit()
    client.login_as(owner)
    page = html(client.get("/settings/"))
    assert page.select_one("#settings-notification-badge #settings-unread-count").text == "1"
    badge = page.select_one("#settings-notification-badge")
    assert badge["hx-trigger"] == "notifications-changed from:body"
    hx.login_as(owner)
    response = hx.post_form(f"/settings/notifications/{note.id}/read")
    assert response.status_code == 200
    assert "notifications-changed" in response.headers["HX-Trigger"]
    assert html(response).select_one(f"#settings-notification-{note.id}")["data-read"] == "yes"
    assert html(hx.get("/settings/notifications/badge")).select_one("#settings-unread-count") is None


def test_manager_cannot_read_another_stores_notification(client, manager, org, db):
    note = notifications.notify(org.id, "anomaly", "门店二异常", store_id=org.stores[1].id)
    db.session.commit()
    client.login_as(manager)
    assert client.post_form(f"/settings/notifications/{note.id}/read").status_code == 404
    assert "门店二异常" not in client.get("/settings/notifications/").get_data(as_text=True)


def test_notification_switch_over_htmx(hx, owner):
    hx.login_as(owner)
    response = hx.post_form("/settings/notifications/switches/withdrawal", {})
    assert response.status_code == 200
    assert html(response).select_one("#switch-withdrawal").has_attr("checked") is False
    response = hx.post_form("/settings/notifications/switches/withdrawal", {"email": "on"})
    assert html(response).select_one("#switch-withdrawal").has_attr("checked")


def test_followup_bad_placeholder_is_422_and_preview_renders(client, owner):
    client.login_as(owner)
    response = client.post_form("/settings/followup", {"template_id": "MSG1", "body": "码={nope}", "enabled": "y"})
    assert response.status_code == 422
    assert "未知的占位符 {nope}" in html(response).select_one("#body-error").text
    preview = client.post_form("/settings/followup/preview", {"body": "营业时间={opening_hours}"})
    assert html(preview).select_one("#settings-followup-preview-text dt").text == "营业时间"
    response = client.post_form("/settings/followup", {"template_id": "MSG1", "body": "码={voucher_code}", "enabled": "y"})
    assert response.status_code == 303


def test_followup_switched_on_without_a_template_id_is_422_on_that_field(client, owner):
    client.login_as(owner)
    response = client.post_form("/settings/followup", {"template_id": "", "body": "码={voucher_code}", "enabled": "y"})
    assert response.status_code == 422
    assert "模板 ID" in html(response).select_one("#template_id-error").text


def test_followup_page_shows_the_saved_template_id_and_field_map(client, owner):
    client.login_as(owner)
    client.post_form("/settings/followup", {"template_id": "MSG77", "body": "门店名称={store_name}", "page": "pages/a", "enabled": "y"})
    page = html(client.get("/settings/followup"))
    assert page.select_one("#template_id")["value"] == "MSG77" and page.select_one("#page")["value"] == "pages/a"
    assert page.select_one("#body").text == "门店名称={store_name}"
    assert page.select_one("#settings-followup-preview-text dt").text == "门店名称"


def test_callback_mark_contacted_and_other_tenant_404(client, manager, accounts, settings_factory, org, db):
    order = settings_factory.order(org, org.stores[0])
    from portal import signals

    signals.order_paid.send(order)
    other = accounts.org()
    other_order = settings_factory.order(other, other.stores[0])
    signals.order_paid.send(other_order)
    db.session.commit()
    task = db.session.scalar(db.select(CallbackTask).where(CallbackTask.order_id == order.id))
    other_task = db.session.scalar(db.select(CallbackTask).where(CallbackTask.order_id == other_order.id))
    client.login_as(manager)
    row = html(client.get("/settings/callbacks")).select_one(f"#settings-callback-{task.id}")
    assert row.select_one("a.order-ref").get_text() == order.douyin_order_id
    assert client.post_form(f"/settings/callbacks/{other_task.id}/contacted").status_code == 404
    assert client.post_form(f"/settings/callbacks/{task.id}/contacted", {"note": "ok"}).status_code == 303
    db.session.refresh(task)
    assert task.contacted_by_id == manager.id


def test_store_edit_validation_and_other_tenant(client, owner, accounts, org, db):
    client.login_as(owner)
    store = org.stores[0]
    response = client.post_form(f"/settings/stores/{store.id}", {"name": "新店名", "hours_1": "早上十点"})
    assert response.status_code == 422
    assert "应写成 10:00-22:00" in html(response).select_one("#field-hours_1 .form-error").text
    assert client.post_form(f"/settings/stores/{store.id}", {"name": "新店名", "hours_1": "10:00-21:00"}).status_code == 303
    db.session.refresh(store)
    assert (store.name, store.opening_hours) == ("新店名", "周一 10:00-21:00")
    other = accounts.org()
    assert client.get(f"/settings/stores/{other.stores[0].id}").status_code == 404


def test_content_refusal_is_shown_next_to_products(client, owner, org, poi_stores, settings_factory, db):
    product = settings_factory.product(org, [poi_stores[1]], name="望京套餐")
    db.session.commit()
    client.login_as(owner)
    data = {"kind": "short_video", "title": "视频", "douyin_item_id": "7001", "published_on": "2026-03-09", "store_id": str(poi_stores[0].id), "product_ids": [str(product.id)]}
    response = client.post_form("/settings/content/", data)
    assert response.status_code == 422
    assert "未绑定门店" in html(response).select_one("#field-product_ids .form-error").text
    product.stores = [poi_stores[0]]
    db.session.commit()
    assert client.post_form("/settings/content/", data).status_code == 303
    page = html(client.get("/settings/content/"))
    assert page.select_one(".tracking-code").text == "shortvideo_0309_douyin"


def test_content_page_gated_by_feature(client, owner, operator, org, db):
    features.set_feature(org, "content_attribution", False, actor=operator)
    db.session.commit()
    client.login_as(owner)
    page = html(client.get("/settings/content/"))
    assert page.select_one("#settings-feature-off")["data-feature"] == "content_attribution"
    assert client.post_form("/settings/content/", {"title": "x"}).status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(Content)) == 0


def test_linked_account_rules_explained_in_the_ui(client, owner, org, clock, db):
    client.login_as(owner)
    linked.bind(org, platform="douyin", role="official", account_id="dy1", actor=owner, now=clock.now())
    db.session.commit()
    response = client.post_form("/settings/accounts/", {"role": "official", "account_id": "dy2"})
    assert response.status_code == 422
    assert "只能绑定一个官方账号" in html(response).select_one("#field-role .form-error").text
    page = html(client.get("/settings/accounts/"))
    assert "24 小时后才能解绑" in page.select_one(".unbind-problem").text
    account = linked.active(org.id)[0]
    assert client.post_form(f"/settings/accounts/{account.id}/unbind").status_code == 422
    clock.advance(hours=24)
    assert client.post_form(f"/settings/accounts/{account.id}/unbind").status_code == 303


def test_shop_rename_view(client, owner, org, db):
    client.login_as(owner)
    response = client.post_form("/settings/shop", {"name": ""})
    assert response.status_code == 422
    assert client.post_form("/settings/shop", {"name": "改名餐厅"}).status_code == 303
    db.session.refresh(org)
    assert org.name == "改名餐厅"


def test_audit_page_lists_changes(client, owner, org, db):
    client.login_as(owner)
    client.post_form("/settings/shop", {"name": "改名餐厅"})
    line = html(client.get("/settings/audit")).select_one("#settings-activity [data-code='settings.shop.renamed']")
    assert f"{owner.display_name} 于 " in line.get_text() and "把店名改为 改名餐厅" in line.get_text()


def test_the_activity_log_reads_as_sentences_in_local_time(client, owner, clerk, org, shop, clock, db):
    from portal.redemption import service as redemption

    voucher = shop.paid(org, shop.product(org)).vouchers[0]
    voucher.item.title = "双人午市套餐"
    assert redemption.redeem(org.stores[0], voucher.code, nonce="a1", actor=clerk, now=clock.now()).ok
    db.session.flush()
    client.login_as(owner)
    line = html(client.get("/settings/audit")).select_one("#settings-activity [data-code='redemption.voucher.redeemed'] div")
    at = portal_clock.local_text(clock.now(), "%m-%d %H:%M")
    assert line.get_text() == f"{clerk.display_name} 于 {at} 核销了 双人午市套餐（券码 …{voucher.code[-4:]}）"
    client.post_form("/account/locale", {"locale": "en"})
    line = html(client.get("/settings/audit")).select_one("#settings-activity [data-code='redemption.voucher.redeemed'] div")
    assert line.get_text() == f"{clerk.display_name} on {at} redeemed 双人午市套餐（code …{voucher.code[-4:]}）"


def test_the_activity_log_filters_by_who_what_and_when_and_exports(client, owner, clerk, org, shop, clock, db):
    from portal.redemption import service as redemption

    voucher = shop.paid(org, shop.product(org)).vouchers[0]
    redemption.redeem(org.stores[0], voucher.code, nonce="a2", actor=clerk, now=clock.now())
    client.login_as(owner)
    client.post_form("/settings/shop", {"name": "新店名"})
    codes = lambda page: [li["data-code"] for li in page.select("#settings-activity [data-code]")]  # noqa: E731
    assert codes(html(client.get(f"/settings/audit?who={clerk.id}"))) == ["redemption.voucher.redeemed"]
    assert codes(html(client.get("/settings/audit?group=settings"))) == ["settings.shop.renamed"]
    today = portal_clock.today_local()
    assert codes(html(client.get(f"/settings/audit?day_from={today + timedelta(days=1)}"))) == []
    assert "settings.shop.renamed" in codes(html(client.get(f"/settings/audit?day_from={today}&day_to={today}")))
    bad = client.get(f"/settings/audit?day_from={today}&day_to={today - timedelta(days=1)}")
    assert bad.status_code == 422 and html(bad).select_one("#day_from-error").get_text() == "开始日期不能晚于结束日期"
    assert client.get("/settings/audit?who=999999").status_code == 422  # not one of ours: refused, not a 500
    export = client.get(f"/settings/audit.csv?who={clerk.id}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["时间", "操作人", "类别", "操作", "代码"] and [r[4] for r in rows[1:]] == ["redemption.voucher.redeemed"]
    assert rows[1][3].startswith(f"{clerk.display_name} 于 ") and rows[1][2] == "核销"


def test_the_activity_log_is_for_the_owners_side_only(client, manager, accounts):
    assert client.get("/settings/audit.csv").status_code == 302  # anonymous: sign in first
    client.login_as(manager)
    assert client.get("/settings/audit").status_code == 403 and client.get("/settings/audit.csv").status_code == 403


def test_booking_slot_form_and_day_view(client, owner, manager, org, db):
    client.login_as(owner)
    store = org.stores[0]
    response = client.post_form("/settings/bookings/slots", {"store_id": store.id, "starts": "12:00", "ends": "11:00", "capacity": "2"})
    assert response.status_code == 422
    assert "晚于开始时间" in html(response).select_one("#field-ends .form-error").text
    response = client.post_form("/settings/bookings/slots", {"store_id": store.id, "starts": "11:00", "ends": "12:00", "capacity": "2"})
    assert response.status_code == 303
    said = html(client.get(response.headers["Location"])).select_one(".alert-success").get_text(strip=True)
    assert said == "时段 11:00–12:00 已添加，顾客从现在起可以预约。"
    client.login_as(manager)
    page = html(client.get(f"/settings/bookings/?store_id={store.id}"))
    assert "11:00-12:00" in page.select_one("#settings-booking-day").text
    assert "已约 0 / 2 单" in page.select_one("#settings-booking-day").text  # capacity counts bookings, not people
    assert client.post_form("/settings/bookings/slots", {"store_id": store.id, "starts": "13:00", "ends": "14:00", "capacity": "2"}).status_code == 403


def test_labels_and_punctuation_follow_the_language(client, owner, operator, org, db):
    store = org.stores[0]
    client.login_as(owner)
    switches = html(client.get("/settings/notifications/switches"))
    assert switches.select_one("label[for=switch-product_review]").get_text(" ", strip=True).startswith("商品审核结果：邮件通知")
    assert html(client.get("/settings/")).select_one("[data-feature=content_attribution]").get_text() == "内容与归因：已开通"
    assert html(client.get("/settings/content/")).select_one(f"#store_id option[value='{store.id}']").get_text() == f"{store.name}（POI 未绑定）"
    owner.locale = "en"
    db.session.commit()
    switches = html(client.get("/settings/notifications/switches"))
    labels = " ".join(label.get_text(" ", strip=True) for label in switches.select("label.form-check-label"))
    assert "Product review results: e-mail notifications" in labels and "Withdrawal results" in labels
    assert not any("\u4e00" <= ch <= "\u9fff" or ch == "：" for ch in labels)
    assert html(client.get("/settings/")).select_one("[data-feature=content_attribution]").get_text() == "Content & attribution: On"
    assert html(client.get("/settings/content/")).select_one(f"#store_id option[value='{store.id}']").get_text() == f"{store.name} (POI Not bound)"
    features.set_feature(org, "content_attribution", False, actor=operator)
    db.session.commit()
    text = html(client.get("/settings/content/")).select_one("#settings-feature-off").get_text()
    assert "tracking codes. To use it, ask" in text and "。" not in text
    owner.locale = "zh_Hans"
    db.session.commit()
    assert "生成追踪码。如需开通，请联系平台运营" in html(client.get("/settings/content/")).select_one("#settings-feature-off").get_text()
