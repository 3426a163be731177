"""The journal's 关联 column names what a person recognises: the order's number, the withdrawal
with its amount and day, the settlement batch with its day; each links to its page."""

import csv
import io

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import clock as portal_clock
from portal.ledger.models import LedgerOrder
from portal.ledger import service


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def settled(orders, org, clock, paid_fen=10000):
    order = orders.order(org, paid_fen=paid_fen)
    orders.redeem_all(order)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    return order


def refs(page, what):
    return [cell for cell in page.select("#ledger-journal-table td.ledger-ref") if cell["data-ref"] == what]


def test_journal_names_orders_withdrawals_and_settlement_batches_never_keys(client, owner, org, orders, clock, db):
    order = settled(orders, org, clock)
    withdrawal = service.request_withdrawal(org.id, 5000, actor=owner, now=portal_clock.now())
    page = html(client.login_as(owner).get("/ledger/journal"))
    table = page.select_one("#ledger-journal-table").get_text()
    assert "order:" not in table and "settlement:" not in table and "withdrawal:" not in table
    assert order.out_order_no not in table  # the mini-program's internal number is an order-page detail
    link = refs(page, "order")[0].select_one("a.order-ref")
    assert link.get_text() == order.douyin_order_id and link["href"] == f"/orders/{order.id}"
    day = portal_clock.today_local().isoformat()
    w = refs(page, "withdrawal")[0].select_one("a")
    assert w.get_text() == f"提现 ¥50.00（{day} 申请）" and w["href"] == f"/ledger/withdrawals/{withdrawal.id}"
    batch = refs(page, "settlement")[0].select_one("a")
    assert batch.get_text() == f"{day} 结算批次" and batch["href"].startswith("/ledger/orders?batch=")


def test_statement_names_the_same_references_without_links(client, owner, org, orders, clock, db):
    order = settled(orders, org, clock)
    rows = list(csv.reader(io.StringIO(client.login_as(owner).get("/ledger/statement.csv").get_data(as_text=True).lstrip("\ufeff"))))
    references = {row[2] for row in rows[1:]}
    assert order.douyin_order_id in references and f"{portal_clock.today_local().isoformat()} 结算批次" in references
    assert not any(ref.startswith(("order:", "settlement:")) for ref in references)


def test_settlement_batch_link_lists_the_orders_it_settled(client, owner, org, orders, clock, db):
    first = settled(orders, org, clock)
    second = settled(orders, org, clock, paid_fen=20000)
    client.login_as(owner)
    href = refs(html(client.get("/ledger/journal?kind=settlement")), "settlement")[-1].select_one("a")["href"]
    page = html(client.get(href))
    assert page.select_one("#ledger-orders-batch") is not None
    listed = {row["id"] for row in page.select("#ledger-orders-table tbody tr[id]")}
    assert listed == {f"ledger-order-{first.id}"} and f"ledger-order-{second.id}" not in listed


def test_an_unknown_or_other_tenants_batch_is_404(client, accounts, owner, org, orders, clock, db):
    other = accounts.org("别家", stores=1)
    settled(orders, other, clock)
    batch = db.session.scalar(select(LedgerOrder.settle_batch).where(LedgerOrder.organization_id == other.id))
    client.login_as(owner)
    assert client.get(f"/ledger/orders?batch={batch}").status_code == 404
    assert client.get("/ledger/orders?batch=nosuchbatch").status_code == 404


def test_anonymous_batch_page_redirects_to_login(client):
    response = client.get("/ledger/orders?batch=x")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_store_manager_journal_links_their_orders(client, manager, org, orders, clock, db):
    order = orders.order(org, paid_fen=3000, store=org.stores[0])
    page = html(client.login_as(manager).get("/ledger/journal"))
    assert [a.get_text() for a in page.select("#ledger-journal-table a.order-ref")][:1] == [order.douyin_order_id]
