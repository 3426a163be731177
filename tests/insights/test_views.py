"""/insights/: who may see it, what each role sees, full page vs htmx partial, bad filters."""

from datetime import timedelta

from bs4 import BeautifulSoup

from portal.accounts.models import Role


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _paid_total(page) -> str:
    return page.select_one("#insights-total-paid .value").get_text(strip=True)


def test_anonymous_is_sent_to_login(client):
    response = client.get("/insights/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_clerk_is_forbidden(client, clerk):
    assert client.login_as(clerk).get("/insights/").status_code == 403


def test_owner_sees_the_full_page_with_charts_attribution_and_lists(client, owner, org, clock, insight_orders):
    order = insight_orders.order(org, tracking_code="shortvideo_0309_douyin", paid_fen=9900, total_fen=12000,
                                 paid_at=clock.now() - timedelta(days=3))
    insight_orders.redeem(order.vouchers[0], at=clock.now() - timedelta(hours=2))
    insight_orders.settle(order, net_fen=9841, fees_fen=59)
    insight_orders.order(org, paid_at=clock.now() - timedelta(days=2), channel="live")

    response = client.login_as(owner).get("/insights/")
    assert response.status_code == 200
    page = html(response)
    assert page.select_one("html") is not None and page.select_one("#main-nav") is not None
    assert page.select_one("#insights-filter #day_from")["value"] == "2026-10-22"
    assert page.select_one("#insights-filter #day_to")["value"] == "2026-11-20"
    assert _paid_total(page) == "¥198.00"
    assert page.select_one("#insights-total-gmv .value").get_text(strip=True) == "¥219.00"
    assert page.select_one("#insights-total-settled .value").get_text(strip=True) == "¥98.41"
    bars = page.select("#insights-chart-paid rect.bar")
    assert len(bars) == 30
    assert [b["data-value"] for b in bars if b["data-value"] != "0"] == ["9900", "9900"]
    code_row = page.select_one('tr.insights-code[data-code="shortvideo_0309_douyin"]')
    assert code_row.select_one('[data-metric="redemptions"]').text == "1"
    assert code_row.select_one('[data-metric="settled_net_fen"]')["data-fen"] == "9841"
    assert page.select_one("#insights-channel-live")["id"] and "直播" in page.select_one("#insights-channel-live").text
    assert page.select_one("#insights-long-count").text == "1"
    assert page.select_one("#insights-open-count").text == "1"
    assert len(page.select("tr.insights-open-order")) == 1
    open_link = page.select_one("tr.insights-open-order a.order-ref")
    assert open_link["href"] == f"/orders/{open_link['data-order-id']}" and open_link.get_text().startswith("ot")
    assert page.select_one("tr.insights-long-redemption a.order-ref") is not None
    assert page.select_one("select#store") is not None  # HQ may pick a store


def test_htmx_filter_returns_only_the_overview_partial(hx, owner, org, clock, insight_orders):
    insight_orders.order(org, paid_at=clock.now() - timedelta(days=40), paid_fen=5000, total_fen=5000)
    response = hx.login_as(owner).get("/insights/?day_from=2026-10-01&day_to=2026-10-31")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = html(response)
    assert page.select_one("html") is None
    root = page.find(True)
    assert root["id"] == "insights-overview"
    assert _paid_total(page) == "¥50.00"
    assert len(page.select("#insights-chart-paid rect.bar")) == 31


def test_bad_range_is_422_with_the_message_next_to_the_end_date(client, hx, owner):
    response = client.login_as(owner).get("/insights/?day_from=2026-11-20&day_to=2026-11-01")
    assert response.status_code == 422
    page = html(response)
    assert "结束日期不能早于开始日期" in page.select_one("#field-day_to .form-error").text
    assert page.select_one("#insights-report") is None
    assert page.select_one("html") is not None

    response = hx.login_as(owner).get("/insights/?day_from=2026-11-20&day_to=2026-11-01")
    assert response.status_code == 422
    page = html(response)
    assert page.select_one("html") is None
    assert page.select_one("#insights-overview #field-day_to .form-error") is not None


def test_malformed_date_is_422_on_its_field(client, owner):
    response = client.login_as(owner).get("/insights/?day_from=2026-13-45&day_to=2026-11-20")
    assert response.status_code == 422
    error = html(response).select_one("#field-day_from .form-error")
    assert error is not None and "日期格式不正确" in error.text


def test_store_manager_sees_only_their_store(client, manager, org, clock, insight_orders):
    a, b = org.stores
    insight_orders.order(org, store=a, paid_fen=1000, total_fen=1000, tracking_code="code_a")
    insight_orders.order(org, store=b, paid_fen=7000, total_fen=7000, tracking_code="code_b")
    page = html(client.login_as(manager).get("/insights/"))
    assert _paid_total(page) == "¥10.00"
    assert page.select_one(f"#insights-store-{a.id}") is not None
    assert page.select_one(f"#insights-store-{b.id}") is None
    assert [row["data-code"] for row in page.select("tr.insights-code")] == ["code_a"]
    assert page.select_one("#store") is None  # no store filter for a store-scoped role
    # Asking for the other store changes nothing.
    page = html(client.get(f"/insights/?store={b.id}"))
    assert _paid_total(page) == "¥10.00"


def test_hq_admin_filters_by_store(client, accounts, org, clock, insight_orders):
    admin = accounts.user(Role.HQ_ADMIN, org)
    a, b = org.stores
    insight_orders.order(org, store=a, paid_fen=1000, total_fen=1000)
    insight_orders.order(org, store=b, paid_fen=7000, total_fen=7000)
    client.login_as(admin)
    assert _paid_total(html(client.get("/insights/"))) == "¥80.00"
    page = html(client.get(f"/insights/?store={b.id}"))
    assert _paid_total(page) == "¥70.00"
    assert page.select_one(f"#store option[value='{b.id}']").has_attr("selected")


def test_another_merchants_store_is_404_and_its_figures_invisible(client, owner, accounts, clock, insight_orders):
    other = accounts.org("别家", stores=1)
    insight_orders.order(other, paid_fen=5000, total_fen=5000, tracking_code="their_code")
    client.login_as(owner)
    assert client.get(f"/insights/?store={other.stores[0].id}").status_code == 404
    page = html(client.get("/insights/"))
    assert _paid_total(page) == "¥0.00"
    assert page.select("tr.insights-code") == []


def _old_unredeemed(insight_orders, org, clock, n, *, store=None):
    """n orders paid 2..n+1 days ago whose voucher is still unused."""
    return [insight_orders.order(org, store=store, paid_at=clock.now() - timedelta(days=2, hours=i)) for i in range(n)]


def test_overview_previews_ten_of_each_list_and_links_to_the_whole_list(client, owner, org, clock, insight_orders):
    orders = _old_unredeemed(insight_orders, org, clock, 12)
    page = html(client.login_as(owner).get("/insights/"))
    assert page.select_one("#insights-open-count").text == "12"
    rows = page.select("tr.insights-open-order")
    assert [int(r["data-order-id"]) for r in rows] == [o.id for o in orders[::-1][:10]]  # oldest first
    link = page.select_one("#insights-open-all")
    assert "12" in link.text and "day_from=2026-10-22" in link["href"] and "day_to=2026-11-20" in link["href"]

    whole = html(client.get(link["href"]))
    assert whole.select_one("#page-title").text == "长周期未核销"
    assert [int(r["data-order-id"]) for r in whole.select("tr.insights-open-order")] == [o.id for o in orders[::-1]]
    assert whole.select_one("#insights-follow-up-next") is None


def test_follow_up_list_pages_fifty_at_a_time(client, owner, org, clock, insight_orders):
    orders = _old_unredeemed(insight_orders, org, clock, 53)
    client.login_as(owner)
    first = html(client.get("/insights/follow-up/open?day_from=2026-10-01&day_to=2026-11-20"))
    assert len(first.select("tr.insights-open-order")) == 50
    second = html(client.get(first.select_one("#insights-follow-up-next")["href"]))
    assert [int(r["data-order-id"]) for r in second.select("tr.insights-open-order")] == [o.id for o in orders[:3][::-1]]
    assert second.select_one("#insights-follow-up-next") is None and second.select_one("#insights-follow-up-prev") is not None


def test_long_redemptions_list_and_the_lists_scope(client, manager, org, clock, insight_orders):
    a, b = org.stores
    mine = insight_orders.order(org, store=a, paid_at=clock.now() - timedelta(days=3))
    insight_orders.redeem(mine.vouchers[0], at=clock.now() - timedelta(hours=1))
    theirs = insight_orders.order(org, store=b, paid_at=clock.now() - timedelta(days=3))
    insight_orders.redeem(theirs.vouchers[0], at=clock.now() - timedelta(hours=1))
    _old_unredeemed(insight_orders, org, clock, 2, store=b)
    client.login_as(manager)
    page = html(client.get("/insights/follow-up/long"))
    assert [int(r["data-voucher-id"]) for r in page.select("tr.insights-long-redemption")] == [mine.vouchers[0].id]
    page = html(client.get(f"/insights/follow-up/open?store={b.id}"))  # another store's list: still only their own
    assert page.select("tr.insights-open-order") == [] and page.select_one("#insights-follow-up-empty") is not None


def test_follow_up_refuses_unknown_lists_and_sends_bad_periods_to_the_overview(client, owner, clerk):
    client.login_as(owner)
    assert client.get("/insights/follow-up/everything").status_code == 404
    response = client.get("/insights/follow-up/open?day_from=2026-11-20&day_to=2026-11-01")
    assert response.status_code == 302 and response.headers["Location"].startswith("/insights/?")
    assert client.login_as(clerk).get("/insights/follow-up/open").status_code == 403


def test_cleared_dates_mean_the_default_period(client, owner, clock):
    response = client.login_as(owner).get("/insights/?day_from=&day_to=")
    assert response.status_code == 200
    page = html(response)
    assert page.select_one("#insights-filter #day_from")["value"] == "2026-10-22"
    assert page.select_one("#insights-filter #day_to")["value"] == "2026-11-20"
    assert len(page.select("#insights-chart-paid rect.bar")) == 30
