"""The home page (概览): today's figures against yesterday, and a to-do list per role."""

from datetime import timedelta

from bs4 import BeautifulSoup

from portal.insights import aggregation
from portal.ledger.models import RefundRequest
from portal.notifications import notify
from portal.redemption import service as redemption


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def figure(page, key):
    card = page.select_one(f"#home-figure-{key}")
    return int(card["data-value"]), int(card["data-change"])


def paid(orders, org, *, at, fen, store=None):
    order = orders.order(org, paid_fen=fen, paid_at=at, store=store)
    aggregation.sync_order(order)
    return order


def refund_request(org, order, clock, *, hours=48):
    refund = RefundRequest(organization_id=org.id, order_id=order.id, store_id=order.store_id, douyin_refund_id=f"rf-{order.id}",
                           douyin_order_id=order.douyin_order_id, out_refund_no=f"rfo-{order.id}", amount_fen=order.paid_fen,
                           need_audit=True, audit_deadline_at=clock.now() + timedelta(hours=hours), created_at=clock.now())
    from portal.extensions import db

    db.session.add(refund)
    db.session.flush()
    return refund


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_clerk_has_no_home_page_but_the_counter(client, clerk):
    client.login_as(clerk)
    assert client.get("/dashboard").status_code == 403


def test_home_shows_todays_money_against_yesterday(client, owner, org, orders, clock, db):
    clock.advance(days=-1)
    paid(orders, org, at=clock.now(), fen=5000)
    clock.advance(days=1)
    paid(orders, org, at=clock.now(), fen=9900)
    paid(orders, org, at=clock.now(), fen=2000)
    client.login_as(owner)
    page = html(client.get("/dashboard"))
    assert figure(page, "paid-fen") == (11900, 6900)
    assert figure(page, "orders") == (2, 1)
    assert "较昨日 +¥69.00" in page.select_one("#home-figure-paid-fen .change").get_text()
    in_transit = figure(page, "in-transit")
    assert in_transit == (16900, 11900)  # today's payments are what moved it since yesterday
    assert figure(page, "available") == (0, 0)
    assert "与昨日持平" in page.select_one("#home-figure-available").get_text()


def test_another_merchants_orders_never_count(client, owner, org, accounts, orders, clock, db):
    other = accounts.org("别家")
    paid(orders, other, at=clock.now(), fen=9900)
    client.login_as(owner)
    page = html(client.get("/dashboard"))
    assert figure(page, "paid-fen") == (0, 0) and figure(page, "in-transit") == (0, 0)


def test_a_store_manager_sees_their_stores_figures_only(client, manager, org, orders, clock, db):
    paid(orders, org, at=clock.now(), fen=9900, store=org.stores[0])
    paid(orders, org, at=clock.now(), fen=2000, store=org.stores[1])
    client.login_as(manager)
    page = html(client.get("/dashboard"))
    assert figure(page, "paid-fen") == (9900, 9900)
    assert page.select_one("#home-scope").get_text(strip=True).endswith(org.stores[0].name)


def test_the_owner_is_told_to_switch_douyin_on_first(client, owner, org, db):
    client.login_as(owner)
    page = html(client.get("/dashboard"))
    item = page.select_one("#home-todo-enable a")
    assert item["href"] == "/onboarding/apps"
    assert "应用中心" in item.get_text()


def test_nothing_to_do_says_so(client, manager, org, db):
    client.login_as(manager)
    page = html(client.get("/dashboard"))
    assert page.select_one("#home-todo-empty").get_text(strip=True) == "暂时没有需要您处理的事项"
    assert page.select_one("#home-todo-enable") is None  # a store manager cannot open the wizard


def test_a_held_redemption_is_on_the_owners_list_not_the_managers(client, owner, manager, clerk, org, shop, clock, db):
    from portal.redemption import rules

    rules.save_settings(org.id, max_failed_per_product_day=5, max_redemptions_per_phone_24h=1, actor=owner, now=clock.now())
    product = shop.product(org, stores=[org.stores[0]])
    first, second = (shop.paid(org, product, phone="13900000009").vouchers[0] for _ in range(2))
    redemption.redeem(org.stores[0], first.code, nonce="1", actor=clerk, now=clock.now())
    assert redemption.redeem(org.stores[0], second.code, nonce="2", actor=clerk, now=clock.now()).outcome == "held"
    client.login_as(owner)
    item = html(client.get("/dashboard")).select_one("#home-todo-reviews")
    assert item["data-count"] == "1" and item.a["href"] == "/counter/reviews"
    assert "1 笔核销被拦截" in item.get_text()
    client.login_as(manager)
    assert html(client.get("/dashboard")).select_one("#home-todo-reviews") is None


def test_refund_requests_show_their_countdown_to_the_stores_that_own_them(client, owner, manager, org, orders, clock, db):
    mine = orders.order(org, store=org.stores[0])
    theirs = orders.order(org, store=org.stores[1])
    refund_request(org, mine, clock, hours=5)
    refund_request(org, theirs, clock, hours=30)
    client.login_as(owner)
    item = html(client.get("/dashboard")).select_one("#home-todo-refunds")
    assert item["data-count"] == "2" and item.a["href"] == "/ledger/refunds"
    assert "5 小时 0 分后将自动同意退款" in item.get_text()
    client.login_as(manager)
    item = html(client.get("/dashboard")).select_one("#home-todo-refunds")
    assert item["data-count"] == "1"


def test_paused_products_and_unread_notices_link_to_where_they_are_handled(client, owner, org, shop, clock, db):
    product = shop.product(org)
    product.paused_at = clock.now()
    notify(org.id, "system", "系统维护通知")
    db.session.flush()
    client.login_as(owner)
    page = html(client.get("/dashboard"))
    assert page.select_one("#home-todo-paused a")["href"] == "/counter/rules"
    assert page.select_one("#home-todo-notices a")["href"] == "/settings/notifications/"
    kinds = [li["id"] for li in page.select(".home-todo")]
    assert kinds.index("home-todo-paused") < kinds.index("home-todo-notices") < kinds.index("home-todo-enable")


def test_the_wizard_names_the_next_step_once_douyin_is_on(client, owner, org, db, clock):
    from portal.onboarding import service as onboarding

    onboarding.enable_app(org, actor=owner, now=clock.now())
    db.session.flush()
    client.login_as(owner)
    item = html(client.get("/dashboard")).select_one("#home-todo-wizard")
    assert item.a["href"] == "/onboarding/prepare"
    assert "第 1 步「接入准备」" in item.get_text()


def test_the_polling_refresh_gets_only_the_live_part(hx, owner, org, db):
    hx.login_as(owner)
    response = hx.get("/dashboard")
    page = html(response)
    assert page.select_one("#page-title") is None
    root = page.find(True)
    assert root["id"] == "home-now" and "every 30s" in root["hx-trigger"]
    assert "HX-Request" in response.headers["Vary"]


def test_home_reads_in_english(client, owner, org, db):
    client.login_as(owner)
    client.post_form("/account/locale", {"locale": "en"})
    page = html(client.get("/dashboard"))
    assert "Today's takings" in page.select_one("#home-figure-paid-fen").get_text()
    assert "Switch on Douyin promotion" in page.select_one("#home-todo-enable").get_text()


def test_failed_deliveries_to_douyin_are_counted_by_product(client, owner, org, shop, db):
    from portal import outbox
    from portal.catalog import service as catalog

    first, second = shop.product(org, name="双人套餐"), shop.product(org, name="单人套餐")

    def failed(product, n, kind=catalog.SAVE_KIND):
        message = outbox.add(org.id, kind, {"product_id": product.id}, dedupe_key=f"home-test-{product.id}-{kind}-{n}")
        message.status = outbox.OutboxStatus.FAILED

    failed(first, 1)
    failed(first, 2, catalog.OPERATE_KIND)  # the same product twice: one to-do line
    db.session.flush()
    client.login_as(owner)
    item = html(client.get("/dashboard")).select_one("#home-todo-deliveries")
    assert "1 个商品" in item.get_text() and item.select_one("a")["href"] == f"/catalog/{first.id}"
    failed(second, 1)
    db.session.flush()
    item = html(client.get("/dashboard")).select_one("#home-todo-deliveries")
    assert "2 个商品" in item.get_text() and item.select_one("a")["href"] == "/catalog/"
