"""The 担保账户 pages: tenancy, roles, forms, htmx partials, exports."""

import csv
import io
from datetime import timedelta

from bs4 import BeautifulSoup
from openpyxl import load_workbook
from sqlalchemy import select

from portal import clock as portal_clock
from portal.accounts.models import Role
from portal.ledger import refunds, service
from portal.ledger.models import RefundRequest, Withdrawal
from tests.fixtures.payout import bind_payout


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def fen(page, element_id):
    return int(page.select_one(f"#{element_id}")["data-fen"])


def settled_order(orders, org, clock, paid_fen=10000, store=None):
    order = orders.order(org, paid_fen=paid_fen, store=store)
    orders.redeem_all(order)
    return order


def settle_now(clock):
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())


def test_anonymous_is_sent_to_login(client):
    for path in ("/ledger/", "/ledger/journal", "/ledger/withdrawals", "/ledger/refunds"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_clerk_is_forbidden_and_manager_cannot_withdraw(client, clerk, manager):
    client.login_as(clerk)
    assert client.get("/ledger/").status_code == 403
    client.login_as(manager)
    assert client.post_form("/ledger/withdrawals", {"amount": "1"}).status_code == 403
    assert client.get("/ledger/deposit").status_code == 403


def test_balance_cards_show_each_account(client, owner, org, orders, clock, db):
    settled_order(orders, org, clock, paid_fen=10000)
    orders.order(org, paid_fen=5000)
    settle_now(clock)
    page = html(client.login_as(owner).get("/ledger/"))
    assert fen(page, "ledger-balance-in-transit") == 5000
    assert fen(page, "ledger-balance-available") == 10000 - 300 - 60
    assert fen(page, "ledger-balance-withdrawing") == 0
    assert fen(page, "ledger-balance-withdrawn") == 0
    assert fen(page, "ledger-balance-deposit") == 0
    assert page.select_one("#ledger-balances")["hx-trigger"] == "ledger-changed from:body"


def test_balances_partial_for_htmx(hx, owner, org, orders, clock, db):
    orders.order(org, paid_fen=5000)
    response = hx.login_as(owner).get("/ledger/balances")
    page = html(response)
    assert page.select_one("#ledger-balances") is not None and page.select_one("#main-nav") is None
    assert fen(page, "ledger-balance-in-transit") == 5000


def test_order_rows_show_fees_and_why_not_yet(client, owner, org, orders, clock, db):
    order = orders.order(org, paid_fen=9900, vouchers=2)
    orders.redeem(order.vouchers[0])
    row = html(client.login_as(owner).get("/ledger/orders")).select_one(f"#ledger-order-{order.id}")
    assert "¥2.97" in row.select_one(".ledger-tech-fee").get_text() and "¥0.59" in row.select_one(".ledger-channel-fee").get_text()
    assert "¥95.44" in row.select_one(".ledger-net").get_text()
    assert "1/2" in row.select_one(".ledger-why").get_text()
    orders.redeem(order.vouchers[1])
    row = html(client.get("/ledger/orders")).select_one(f"#ledger-order-{order.id}")
    assert row.select_one(".ledger-due").get_text().strip() == "2026-11-23"


def test_status_filter_and_rows_name_the_same_statuses(client, owner, org, orders, clock, db):
    order = orders.order(org, paid_fen=1000)
    page = html(client.login_as(owner).get("/ledger/orders?status=in_transit"))
    options = {o["value"]: o.get_text() for o in page.select("#ledger-orders-filter option") if o["value"]}
    assert options == {"in_transit": "在途", "settled": "已结算", "refunded": "已退款"}
    assert page.select_one("#ledger-orders-filter option[selected]")["value"] == "in_transit"
    assert page.select_one(f"#ledger-order-{order.id} .ledger-why").get_text().startswith(options["in_transit"])
    assert html(client.get("/ledger/orders?status=settled")).select_one(f"#ledger-order-{order.id}") is None


def test_store_manager_sees_only_their_store(client, manager, owner, org, orders, clock, db):
    orders.order(org, paid_fen=1000, store=org.stores[0])
    other = orders.order(org, paid_fen=7000, store=org.stores[1])
    page = html(client.login_as(manager).get("/ledger/"))
    assert fen(page, "ledger-balance-in-transit") == 1000
    assert page.select_one(f"#ledger-order-{other.id}") is None
    page = html(client.login_as(owner).get("/ledger/"))
    assert fen(page, "ledger-balance-in-transit") == 8000
    assert page.select_one(f"#ledger-store-balance-{org.stores[1].id}") is not None
    page = html(client.get(f"/ledger/?store={org.stores[1].id}"))
    assert fen(page, "ledger-balance-in-transit") == 7000


def test_other_tenants_store_and_withdrawal_are_404(client, accounts, owner, org, orders, clock, db):
    other = accounts.org("别家", stores=1)
    other_owner = accounts.user(Role.OWNER, other)
    settled_order(orders, other, clock)
    settle_now(clock)
    withdrawal = service.request_withdrawal(other.id, 100, actor=other_owner, now=portal_clock.now())
    client.login_as(owner)
    assert client.get(f"/ledger/?store={other.stores[0].id}").status_code == 404
    assert client.get(f"/ledger/withdrawals/{withdrawal.id}").status_code == 404


def test_withdraw_bad_amount_is_422_with_field_error(client, owner, org, db):
    bind_payout(org)
    client.login_as(owner)
    response = client.post_form("/ledger/withdrawals", {"amount": "abc"})
    assert response.status_code == 422
    assert html(response).select_one("#amount-error") is not None
    response = client.post_form("/ledger/withdrawals", {"amount": "5.00"})
    assert response.status_code == 422
    assert "超出可提现余额" in html(response).select_one("#amount-error").get_text()


def test_withdraw_lists_its_orders(client, owner, org, orders, clock, db):
    first = settled_order(orders, org, clock, paid_fen=10000)
    second = settled_order(orders, org, clock, paid_fen=20000)
    settle_now(clock)
    bind_payout(org)
    response = client.login_as(owner).post_form("/ledger/withdrawals", {"amount": "100.00"})
    assert response.status_code == 303
    withdrawal = db.session.scalars(select(Withdrawal)).one()
    page = html(client.get(response.headers["Location"]))
    assert page.select_one(f"#ledger-withdrawal-item-{first.id}") is not None
    assert page.select_one(f"#ledger-withdrawal-item-{second.id}") is not None
    assert withdrawal.amount_fen == 10000 and sum(i.amount_fen for i in withdrawal.items) == 10000
    page = html(client.get("/ledger/"))
    assert fen(page, "ledger-balance-withdrawing") == 10000


def test_withdraw_success_via_htmx_triggers_ledger_changed(hx, owner, org, orders, clock, db):
    settled_order(orders, org, clock)
    settle_now(clock)
    bind_payout(org)
    response = hx.login_as(owner).post_form("/ledger/withdrawals", {"amount": "10"})
    assert "HX-Redirect" in response.headers and "ledger-changed" in response.headers["HX-Trigger"]


def test_deposit_pay_in_posts_once_and_the_merchant_cannot_deduct(client, owner, org, db):
    client.login_as(owner)
    assert client.post_form("/ledger/deposit", {"kind": "deposit_pay_in", "amount": "2000", "reference": "a1"}).status_code == 303
    assert client.post_form("/ledger/deposit", {"kind": "deposit_pay_in", "amount": "2000", "reference": "a1"}).status_code == 303
    # Deductions (赔付) are the platform operator's, in the admin area: not a choice here.
    response = client.post_form("/ledger/deposit", {"kind": "deposit_deduction", "amount": "100", "reason": "虚假宣传", "reference": "a3"})
    assert response.status_code == 422 and html(response).select_one("#kind-error") is not None
    page = html(client.get("/ledger/deposit"))
    assert fen(page, "ledger-balance-deposit") == 200000
    assert [o["value"] for o in page.select("#kind option")] == ["deposit_pay_in", "deposit_top_up"]


def test_journal_filters_and_exports(client, owner, org, orders, clock, db):
    order = settled_order(orders, org, clock, paid_fen=10000)
    settle_now(clock)
    client.login_as(owner)
    page = html(client.get("/ledger/journal?kind=settlement"))
    kinds = {row["data-kind"] for row in page.select("#ledger-journal-table tbody tr[data-kind]")}
    assert kinds == {"settlement"}
    page = html(client.get("/ledger/journal?account=fees"))
    assert [row["data-account"] for row in page.select("tbody tr[data-account]")] == ["fees"]
    text = client.get("/ledger/statement.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "记账时间" and any(r[5] == "-100.00" and r[2] == order.douyin_order_id for r in rows[1:])
    book = load_workbook(io.BytesIO(client.get("/ledger/statement.xlsx").data))
    assert book.active.max_row == len(rows)


def test_settings_form_validates_and_saves(client, owner, org, db):
    from sqlalchemy import func, select

    from portal.ledger.models import LedgerSettings

    client.login_as(owner)
    assert service.get_settings(org.id).settlement_days == 3  # the defaults, read without saving a row
    assert client.get("/ledger/orders").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(LedgerSettings).where(LedgerSettings.organization_id == org.id)) == 0
    response = client.post_form("/ledger/settings", {"settlement_basis": "redeem", "settlement_days": "120", "refund_window_days": "7"})
    assert response.status_code == 422 and html(response).select_one("#settlement_days-error") is not None
    response = client.post_form("/ledger/settings", {"settlement_basis": "pay", "settlement_days": "5", "refund_window_days": "15", "refund_auto_audit": "y"})
    assert response.status_code == 303
    settings = service.get_settings(org.id)
    assert (settings.settlement_basis, settings.settlement_days, settings.refund_window_days) == ("pay", 5, 15) and settings.id is not None


def test_saved_settings_say_from_which_orders_a_new_n_applies(client, owner, org, db, clock):
    client.login_as(owner)
    response = client.post_form("/ledger/settings", {"settlement_basis": "redeem", "settlement_days": "5", "refund_window_days": "7", "refund_auto_audit": "y"})
    assert response.status_code == 303
    said = html(client.get(response.headers["Location"])).select_one(".alert-success").get_text(" ", strip=True)
    since = portal_clock.local_text(portal_clock.now())
    assert said.startswith("结算与退款设置已保存。")
    assert f"新结算规则 核销 D+5 适用于 {since} 之后全部核销完成的订单；此前已核销完成的订单仍按原定日期结算。" in said
    assert "自助退款" not in said and "手动" not in said  # the refund rules did not change
    response = client.post_form("/ledger/settings", {"settlement_basis": "redeem", "settlement_days": "5", "refund_window_days": "10"})
    said = html(client.get(response.headers["Location"])).select_one(".alert-success").get_text(" ", strip=True)
    assert "自助退款期限改为 10 天" in said and "手动处理" in said and "结算规则" not in said


def test_refund_queue_shows_countdown_and_merchant_decides(client, owner, org, orders, clock, db):
    service.update_settings(org.id, settlement_basis="redeem", settlement_days=3, refund_window_days=7, refund_auto_audit=False, actor=None, now=portal_clock.now())
    order = orders.order(org, paid_fen=5000)
    refund = refunds.receive_request(org.id, {"refund_id": "rf1", "order_id": order.douyin_order_id, "refund_total_amount": 5000, "need_refund_audit": 1}, now=portal_clock.now())
    clock.advance(hours=2)
    client.login_as(owner)
    row = html(client.get("/ledger/refunds")).select_one(f"#ledger-refund-{refund.id}")
    assert "70 小时 0 分" in row.select_one(".ledger-refund-countdown").get_text()
    response = client.post_form(f"/ledger/refunds/{refund.id}", {"decision": "reject", "reason": ""})
    assert response.status_code == 422 and html(response).select_one(f"#ledger-refund-error-{refund.id}") is not None
    response = client.post_form(f"/ledger/refunds/{refund.id}", {"decision": "reject", "reason": "已预约到店"})
    assert response.status_code == 303
    assert db.session.get(RefundRequest, refund.id).status == "rejected"


def test_journal_labels_and_deposit_form_follow_the_language(client, owner, org, orders, clock, db):
    settled_order(orders, org, clock, paid_fen=10000)
    settle_now(clock)
    page = html(client.login_as(owner).get("/ledger/journal"))
    kinds = [o.get_text() for o in page.select("#journal-kind option")]
    accounts = [o.get_text() for o in page.select("#journal-account option")]
    assert "订单支付" in kinds and "提现失败退回" in kinds and "抖音清分" in accounts
    owner.locale = "en"
    db.session.commit()
    page = html(client.get("/ledger/journal"))
    kinds = [o.get_text() for o in page.select("#journal-kind option")]
    accounts = [o.get_text() for o in page.select("#journal-account option")]
    assert {"Order payment", "Order refund", "Redemption settlement", "Withdrawal paid out", "Failed withdrawal returned"} <= set(kinds)
    assert {"Service fees", "Douyin clearing"} <= set(accounts)
    rows = page.select_one("#ledger-journal-table tbody").get_text()
    assert "Douyin clearing" in rows and "抖音清分" not in rows and "订单支付" not in rows
    csv_rows = list(csv.reader(io.StringIO(client.get("/ledger/statement.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert any(r[1] == "Order payment" for r in csv_rows[1:])
    assert html(client.get("/ledger/deposit")).select_one("label[for=kind]").get_text(strip=True) == "Type"
    owner.locale = "zh_Hans"
    db.session.commit()
    assert html(client.get("/ledger/deposit")).select_one("label[for=kind]").get_text(strip=True) == "类型"


def test_a_refund_request_is_decided_with_two_buttons_and_shows_its_order(client, owner, org, orders, clock, db):
    service.update_settings(org.id, settlement_basis="redeem", settlement_days=3, refund_window_days=7, refund_auto_audit=False, actor=None, now=portal_clock.now())
    order = orders.order(org, paid_fen=5000, vouchers=2)
    refund = refunds.receive_request(org.id, {"refund_id": "rf2", "order_id": order.douyin_order_id, "refund_total_amount": 5000, "need_refund_audit": 1}, now=portal_clock.now())
    client.login_as(owner)
    page = html(client.get("/ledger/refunds"))
    row = page.select_one(f"#ledger-refund-{refund.id}")
    assert row.select("select") == []
    assert row.select_one(f"#ledger-refund-approve-{refund.id}")["value"] == "approve"
    assert row.select_one(f"#ledger-refund-reject-confirm-{refund.id}")["value"] == "reject"
    assert row.select_one(f"#ledger-refund-reject-{refund.id}").find_parent("details").has_attr("open") is False
    assert row.select_one(f"a[href='/orders/{order.id}']") is not None
    assert "已核销 0/2 张券" in row.select_one(f"#ledger-refund-order-{refund.id}").get_text()
    rejected = html(client.post_form(f"/ledger/refunds/{refund.id}", {"decision": "reject", "reason": ""}))
    assert rejected.select_one(f"#ledger-refund-reject-{refund.id}").find_parent("details").has_attr("open")  # the note field stays open


def test_reconciliation_offers_yesterday_whose_bill_is_complete(client, owner, org, clock, db):
    client.login_as(owner)
    field = html(client.get("/ledger/reconciliation")).select_one("#bill_date")
    assert field["value"] == (portal_clock.today_local() - timedelta(days=1)).isoformat()


def test_a_withdrawals_page_keeps_the_withdrawal_tab_active(client, owner, org, db):
    withdrawal = Withdrawal(organization_id=org.id, out_withdraw_no="w-tab-1", amount_fen=100, requested_at=portal_clock.now())
    db.session.add(withdrawal)
    db.session.flush()
    client.login_as(owner)
    active = html(client.get(f"/ledger/withdrawals/{withdrawal.id}")).select_one("#ledger-tabs .nav-link.active")
    assert active["href"] == "/ledger/withdrawals"


def test_withdraw_page_shows_douyins_balance_and_refuses_more_than_douyin_holds(client, owner, connected, orders, clock, db):
    import responses

    settled_order(orders, connected.org, clock, paid_fen=10000)
    settle_now(clock)
    bind_payout(connected.org)
    client.login_as(owner)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post("http://douyin.test/oauth/client_token/", json={"data": {"access_token": "clt.x", "expires_in": 7200, "error_code": 0, "description": ""}, "message": "success"})
        mock.post("http://douyin.test/api/apps/ecpay/saas/query_merchant_balance/", json={"err_no": 0, "err_msg": "", "log_id": "l", "data": {
            "account_info": {"online_balance": 0, "withdrawable_balacne": 9552, "freeze_balance": 0}}})
        page = html(client.get("/ledger/withdrawals"))
        assert page.select_one("#ledger-withdrawable").get_text() == "¥95.52"
        assert page.select_one("#ledger-platform-balance")["data-fen"] == "9552"
        response = client.post_form("/ledger/withdrawals", {"amount": "96.40"})
        assert response.status_code == 422
        assert "抖音账户当前可提现 ¥95.52" in html(response).select_one("#amount-error").get_text()
        assert client.post_form("/ledger/withdrawals", {"amount": "95.52"}).status_code == 303
