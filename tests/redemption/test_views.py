"""The counter and the owner's pages, through HTTP with CSRF on."""

import io
import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook
from sqlalchemy import select

from portal import clock as portal_clock
from portal.accounts.models import Role
from portal.orders.models import VoucherStatus
from portal.redemption import service
from portal.redemption.models import ExportFile, ReviewCase


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.fixture
def voucher(shop, org, clock):
    return shop.paid(org, shop.product(org, name="双人火锅", stores=[org.stores[0]]), phone="13812345678").vouchers[0]


def test_anonymous_is_sent_to_login(client):
    for path in ("/counter/", "/counter/rules", "/counter/reviews", "/counter/exports", "/counter/history"):
        assert "/login" in client.get(path).headers["Location"], path


def test_a_clerk_is_forbidden_on_the_owner_pages(client, clerk):
    client.login_as(clerk)
    for path in ("/counter/rules", "/counter/reviews", "/counter/exports", "/orders/"):
        assert client.get(path).status_code == 403, path


def test_the_counter_offers_the_language_and_the_way_back_to_the_portal(client, clerk, owner):
    client.login_as(clerk)
    page = html(client.get("/counter/"))
    assert page.select_one("#counter-locale") is not None and page.select_one("#counter-to-portal") is None
    client.post_form("/account/locale", {"locale": "en", "next": "/counter/"})
    assert html(client.get("/counter/")).select_one("#counter-title").get_text() == "Counter"
    client.login_as(owner)
    assert html(client.get("/counter/")).select_one("#counter-to-portal")["href"] == "/dashboard"


def test_a_clerk_looks_up_and_redeems_in_two_taps(client, clerk, voucher, db):
    client.login_as(clerk)
    page = html(client.get("/counter/"))
    assert page.select_one("body.counter-layout") and page.select_one("#main-nav") is None
    assert page.select_one("#redemption-lookup")["action"] == "/counter/lookup"
    preview = html(client.post_form("/counter/lookup", {"code": " ".join(re.findall("....", voucher.code))}))
    assert preview.select_one("#redemption-product").get_text(strip=True).startswith("双人火锅")
    assert preview.select_one("#redemption-buyer").get_text(strip=True) == "138****5678"
    form = preview.select_one("#redemption-confirm-form")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    done = html(client.post("/counter/redeem", data=data))
    assert done.select_one("#redemption-success") is not None
    assert "还剩 60 分钟" in done.select_one("#redemption-undo").get_text()
    again = html(client.post("/counter/redeem", data=data))  # the double tap
    assert again.select_one("#redemption-success") is not None
    db.session.refresh(voucher)
    assert voucher.status == VoucherStatus.REDEEMED


def test_a_code_in_full_width_digits_is_found(client, clerk, voucher):
    """Typed with a Chinese input method, or pasted from a chat: ６８３７…, with a full-width dash."""
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in voucher.code[:8]) + "－" + voucher.code[8:]
    client.login_as(clerk)
    preview = html(client.post_form("/counter/lookup", {"code": full_width}))
    assert preview.select_one("#redemption-code").get_text() == voucher.code


def test_the_preview_shows_the_customers_booking(client, clerk, voucher, db, clock):
    from portal.settings.models import Booking

    client.login_as(clerk)
    preview = html(client.post_form("/counter/lookup", {"code": voucher.code}))
    assert preview.select_one("#redemption-booking").get_text(strip=True) == "无"
    db.session.add(Booking(organization_id=voucher.organization_id, store_id=voucher.order.store_id, order_id=voucher.order_id,
                           douyin_booking_id="bk-1", day=clock.now().date(), slot_label="18:00-20:00", phone="13812345678",
                           note="4人", status="confirmed", created_at=clock.now()))
    db.session.commit()
    preview = html(client.post_form("/counter/lookup", {"code": voucher.code}))
    assert preview.select_one("#redemption-booking").get_text(strip=True) == f"{clock.now():%m-%d} 18:00-20:00 · 4人"


def test_htmx_gets_only_the_panel(hx, clerk, voucher):
    hx.login_as(clerk)
    response = hx.post_form("/counter/lookup", {"code": voucher.code})
    page = html(response)
    assert page.select_one("#redemption-panel")["data-state"] == "preview"
    assert page.select_one("#redemption-lookup") is None and "HX-Request" in response.headers["Vary"]


def test_a_second_phone_is_told_who_redeemed_it(client, clerk, accounts, org, voucher, clock):
    service.redeem(org.stores[0], voucher.code, nonce="first", actor=clerk, now=clock.now())
    other = accounts.user(Role.CLERK, org, org.stores[0])
    client.login_as(other)
    page = html(client.post_form("/counter/lookup", {"code": voucher.code}))
    assert page.select_one("#redemption-rejected")["data-reason"] == "already_redeemed"
    assert page.select_one("#redemption-detail").get_text().startswith(f"已于 10:00 由 {clerk.display_name} 核销")


def test_an_empty_code_is_a_422(client, clerk):
    client.login_as(clerk)
    response = client.post_form("/counter/lookup", {"code": ""})
    assert response.status_code == 422
    assert html(response).select_one(".form-error").get_text() == "请输入或扫描券码"


def test_undo_shows_time_left_then_is_refused_after_the_hour(client, clerk, org, voucher, clock):
    service.redeem(org.stores[0], voucher.code, nonce="u", actor=clerk, now=clock.now())
    client.login_as(clerk)
    clock.advance(minutes=61)
    history = html(client.get("/counter/history"))
    assert "超过 1 小时" in history.get_text()
    response = client.post_form(f"/counter/vouchers/{voucher.id}/undo", headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "超过 1 小时" in html(response).select_one("#redemption-undo-why").get_text()
    from_history = client.post_form(f"/counter/vouchers/{voucher.id}/undo")  # the history page's plain form
    assert from_history.status_code == 303 and from_history.headers["Location"] == "/counter/history"
    assert "不能撤销：" in html(client.get("/counter/history")).select_one(".alert-danger.alert-dismissible").get_text()
    assert voucher.status == VoucherStatus.REDEEMED


def test_undo_within_the_hour_works(client, clerk, org, voucher, clock):
    service.redeem(org.stores[0], voucher.code, nonce="u", actor=clerk, now=clock.now())
    client.login_as(clerk)
    clock.advance(minutes=30)
    page = html(client.post_form(f"/counter/vouchers/{voucher.id}/undo", headers={"HX-Request": "true"}))
    assert page.select_one("#redemption-undone") is not None


def test_undo_from_the_history_page_goes_back_to_the_list(client, clerk, org, voucher, clock, db):
    service.redeem(org.stores[0], voucher.code, nonce="u", actor=clerk, now=clock.now())
    client.login_as(clerk)
    assert html(client.get("/counter/history")).select_one("form[data-confirm]")["data-confirm"] == "确定撤销这次核销吗？"
    response = client.post_form(f"/counter/vouchers/{voucher.id}/undo")
    assert response.status_code == 303 and response.headers["Location"] == "/counter/history"
    db.session.refresh(voucher)
    assert voucher.status == VoucherStatus.UNUSED
    listing = html(client.get("/counter/history"))
    assert f"券码 {voucher.code} 已恢复为未使用" in listing.select_one(".alert-success").get_text()


def test_a_clerk_sees_and_undoes_only_their_own_stores_redemptions(client, accounts, org, clerk, shop, clock):
    product = shop.product(org)
    mine, theirs = shop.paid(org, product).vouchers[0], shop.paid(org, product).vouchers[0]
    other_clerk = accounts.user(Role.CLERK, org, org.stores[1])
    service.redeem(org.stores[0], mine.code, nonce="m", actor=clerk, now=clock.now())
    service.redeem(org.stores[1], theirs.code, nonce="t", actor=other_clerk, now=clock.now())
    client.login_as(clerk)
    page = html(client.get("/counter/history"))
    codes = [li.select_one(".font-monospace").get_text() for li in page.select("#redemption-history li[data-outcome]")]
    assert codes == [mine.code]
    assert client.post_form(f"/counter/vouchers/{theirs.id}/undo").status_code == 404


def test_another_tenants_voucher_is_a_404(client, accounts, shop, clock, owner, db):
    other = accounts.org("别家")
    theirs = shop.paid(other, shop.product(other)).vouchers[0]
    client.login_as(owner)
    assert client.post_form(f"/counter/vouchers/{theirs.id}/undo").status_code == 404
    assert client.get("/counter/exports/999999/download").status_code == 404
    their_product = theirs.item.product
    their_product.paused_at = clock.now()
    db.session.flush()
    assert client.post_form(f"/counter/rules/products/{their_product.id}/resume").status_code == 404
    assert their_product.paused_at is not None


def test_the_owner_edits_thresholds_and_a_bad_value_is_a_422(client, owner, org, db):
    client.login_as(owner)
    page = html(client.get("/counter/rules"))
    assert page.select_one("#max_failed_per_product_day")["value"] == "5"
    bad = client.post_form("/counter/rules", {"max_failed_per_product_day": "0", "max_redemptions_per_phone_24h": "3"})
    assert bad.status_code == 422
    assert "1 到 1000" in html(bad).select_one("#max_failed_per_product_day-error").get_text()
    ok = client.post_form("/counter/rules", {"max_failed_per_product_day": "7", "max_redemptions_per_phone_24h": "2"})
    assert ok.status_code == 303
    assert html(client.get("/counter/rules")).select_one("#max_redemptions_per_phone_24h")["value"] == "2"


def test_the_owner_resumes_a_paused_product(client, owner, shop, org, clock, db):
    product = shop.product(org)
    product.paused_at = clock.now()
    product.paused_reason = "今日核销失败 6 次"
    db.session.flush()
    client.login_as(owner)
    assert html(client.get("/counter/rules")).select_one(f"#redemption-paused-{product.id}") is not None
    assert client.post_form(f"/counter/rules/products/{product.id}/resume").status_code == 303
    assert product.paused_at is None


def test_the_owner_approves_a_held_redemption_from_the_queue(client, owner, clerk, org, shop, clock, db):
    product = shop.product(org)
    for n in range(4):
        v = shop.paid(org, product, phone="13700000000").vouchers[0]
        service.redeem(org.stores[0], v.code, nonce=f"h{n}", actor=clerk, now=clock.now())
    case = db.session.scalar(select(ReviewCase))
    client.login_as(owner)
    page = html(client.get("/counter/reviews"))
    assert page.select_one(f"#redemption-review-{case.id}")["data-status"] == "open"
    response = client.post_form(f"/counter/reviews/{case.id}", {f"case{case.id}-decision": "approve", f"case{case.id}-note": "已核实"})
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.status == "approved" and case.voucher.status == VoucherStatus.REDEEMED
    said = html(client.get(response.headers["Location"])).select_one(".alert-success").get_text(strip=True)
    assert said == "已通过：券码已核销，款项按结算规则入账。"


def test_the_owner_makes_an_export_on_demand_and_downloads_it(client, owner, org, clerk, voucher, clock, db):
    service.redeem(org.stores[0], voucher.code, nonce="e", actor=clerk, now=clock.now())
    client.login_as(owner)
    bad = client.post_form("/counter/exports", {"store_id": str(org.stores[0].id), "day": ""})
    assert bad.status_code == 422
    tomorrow = (portal_clock.today_local() + timedelta(days=1)).isoformat()
    future = html(client.post_form("/counter/exports", {"store_id": str(org.stores[0].id), "day": tomorrow}))
    assert future.select_one("#day-error").get_text() == "这一天还没到，没有可导出的核销"
    assert db.session.scalar(select(ExportFile)) is None
    response = client.post_form("/counter/exports", {"store_id": str(org.stores[0].id), "day": "2026-11-20"})
    assert response.status_code == 303
    file = db.session.scalar(select(ExportFile))
    download = client.get(f"/counter/exports/{file.id}/download")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(download.data))["核销明细"]
    assert sheet.cell(row=2, column=2).value == voucher.code


def test_the_clerks_history_says_what_became_of_a_held_redemption(client, clerk, owner, org, shop, clock, db):
    from portal.redemption import rules

    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
    product = shop.product(org, stores=[org.stores[0]])
    first, second = (shop.paid(org, product, phone="13900000009").vouchers[0] for _ in range(2))
    assert service.redeem(org.stores[0], first.code, nonce="1", actor=clerk, now=clock.now()).ok
    held = service.redeem(org.stores[0], second.code, nonce="2", actor=clerk, now=clock.now())
    assert held.outcome == "held"
    client.login_as(clerk)

    def row():
        return html(client.get("/counter/history")).select_one(f"#redemption-attempt-{held.attempt.id}").get_text(" ", strip=True)

    assert "待审核" in row()
    service.decide_case(db.session.scalar(select(ReviewCase)), approve=False, note="疑似代核销", actor=owner, now=clock.now())
    assert "店主已驳回 疑似代核销" in row() and "待审核" not in row()


def _held_case(org, owner, clerk, shop, clock):
    from portal.redemption import rules

    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
    product = shop.product(org, name="双人午市套餐", stores=[org.stores[0]])
    first, second = (shop.paid(org, product, phone="13900000398").vouchers[0] for _ in range(2))
    assert service.redeem(org.stores[0], first.code, nonce="c1", actor=clerk, now=clock.now()).ok
    assert service.redeem(org.stores[0], second.code, nonce="c2", actor=clerk, now=clock.now()).outcome == "held"
    return db_case()


def db_case():
    from portal.extensions import db

    return db.session.scalar(select(ReviewCase))


def test_a_held_redemption_says_why_and_shows_the_buyers_history(client, owner, clerk, org, shop, clock, db):
    case = _held_case(org, owner, clerk, shop, clock)
    client.login_as(owner)
    card = html(client.get("/counter/reviews")).select_one(f"#redemption-review-{case.id}")
    assert "已核销 1 次" in card.select_one(f"#redemption-review-why-{case.id}").get_text()
    assert "超过 1 次转人工审核" in card.select_one(f"#redemption-review-why-{case.id}").get_text()
    history = card.select(f"#redemption-review-history-{case.id} li")
    assert len(history) == 2 and "核销成功" in history[1].get_text() and "双人午市套餐" in history[1].get_text()
    assert card.select("select") == []
    assert card.select_one(f"#redemption-approve-{case.id}")["value"] == "approve"
    link = card.select_one("a.order-ref")
    assert link.get_text() == case.voucher.order.douyin_order_id and link["href"] == f"/orders/{case.voucher.order_id}"


def test_rejecting_a_held_redemption_asks_for_a_reason(client, owner, clerk, org, shop, clock, db):
    case = _held_case(org, owner, clerk, shop, clock)
    client.login_as(owner)
    response = client.post_form(f"/counter/reviews/{case.id}", {f"case{case.id}-decision": "reject", f"case{case.id}-note": " "})
    assert response.status_code == 422
    card = html(response)
    assert card.select_one(f"#case{case.id}-note-error").get_text() == "驳回时请写明原因，店员会看到"
    assert card.select_one("details.review-reject").has_attr("open")
    assert db_case().status == "open"
    response = client.post_form(f"/counter/reviews/{case.id}", {f"case{case.id}-decision": "reject", f"case{case.id}-note": "转卖的券"})
    assert response.status_code == 303 and db_case().status == "rejected"
    said = html(client.get(response.headers["Location"])).select_one(".alert-success").get_text(strip=True)
    assert said == "已驳回：这次没有核销，券码仍未使用。"


def test_another_merchants_review_case_is_not_found(client, accounts, owner, clerk, org, shop, clock, db):
    from portal.accounts.models import Role

    case = _held_case(org, owner, clerk, shop, clock)
    stranger = accounts.user(Role.OWNER, accounts.org("别家"))
    client.login_as(stranger)
    assert client.post_form(f"/counter/reviews/{case.id}", {f"case{case.id}-decision": "approve"}).status_code == 404


def test_the_counter_is_installable_from_a_public_manifest(client, clerk, app):
    response = client.get("/counter/manifest.webmanifest")  # browsers fetch it without cookies
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["start_url"] == manifest["scope"] == "/counter/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"} and any(i["purpose"] == "maskable" for i in manifest["icons"])
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200
    page = html(client.login_as(clerk).get("/counter/"))
    assert page.select_one("link[rel=manifest]")["href"] == "/counter/manifest.webmanifest"
    assert page.select_one("script[src*='/js/counter-feedback.']") is not None and page.select_one("script:not([src])") is None


def test_the_counter_names_a_clerks_store_once(client, clerk, org):
    page = html(client.login_as(clerk).get("/counter/"))
    assert org.stores[0].name in page.select_one(".counter-header").get_text()
    assert page.select_one("#redemption-store") is None


def test_a_douyin_certificate_is_shown_by_the_customers_code_not_the_internal_key(org, orders, clerk, db):
    from portal.orders.models import VoucherKind
    from portal.redemption.models import RedemptionAttempt

    voucher = orders.order(org).vouchers[0]
    voucher.kind, voucher.code = VoucherKind.DOUYIN, "DY7001234-1"
    db.session.add(RedemptionAttempt(organization_id=org.id, store_id=org.stores[0].id, user_id=clerk.id, code="105938120398",
                                     voucher_id=voucher.id, outcome="success", reason="", detail="", buyer_phone="", at=portal_clock.now()))
    db.session.flush()
    assert service.customer_code(voucher) == "105938120398"
    assert service.customer_code(voucher, "105938120398") == "105938120398"
    local = orders.order(org).vouchers[0]
    assert service.customer_code(local) == local.code


def test_the_reviews_page_reads_the_same_few_statements_for_one_open_case_or_many(client, owner, clerk, org, shop, clock, db):
    """Each open card explains its hold (the phone's count and history): read for all cards at
    once, not per card."""
    from sqlalchemy import event

    from portal.redemption import rules

    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
    product = shop.product(org, name="双人午市套餐", stores=[org.stores[0]])

    def hold(phone, n):
        first, second = (shop.paid(org, product, phone=phone).vouchers[0] for _ in range(2))
        assert service.redeem(org.stores[0], first.code, nonce=f"{phone}-a{n}", actor=clerk, now=clock.now()).ok
        assert service.redeem(org.stores[0], second.code, nonce=f"{phone}-b{n}", actor=clerk, now=clock.now()).outcome == "held"

    client.login_as(owner)
    engine = db.engine

    def statements():
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = html(client.get("/counter/reviews"))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen), page

    hold("13900000001", 1)
    one, _page = statements()
    for n, phone in enumerate(("13900000002", "13900000003", "13900000004", "13900000005"), start=2):
        hold(phone, n)
    many, page = statements()
    cards = page.select("[id^=redemption-review-why-]")
    assert len(cards) == 5 and all("已核销 1 次" in card.get_text() for card in cards)
    assert many == one, (one, many)


def test_a_case_of_a_merchant_without_saved_rules_is_explained_with_the_default_threshold(org, clock, db):
    from types import SimpleNamespace

    from portal.redemption import rules

    case = SimpleNamespace(id=1, organization_id=org.id, buyer_phone="", created_at=clock.now())
    assert rules.case_contexts([case])[1] == rules.CaseContext(0, rules.DEFAULT_REDEMPTIONS_PER_PHONE_24H, [])
    assert rules.get_settings(org.id).max_redemptions_per_phone_24h == rules.DEFAULT_REDEMPTIONS_PER_PHONE_24H
