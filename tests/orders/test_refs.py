"""One order number everywhere: the same order reads the same on every page that names it, and
every mention links to the order's page."""

from bs4 import BeautifulSoup

from portal import clock as portal_clock
from portal.ledger import refunds, service
from portal.ledger.models import Reconciliation, ReconciliationDifference


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def mentions(page, order):
    return [(a.get_text(), a["href"]) for a in page.select("a.order-ref") if a["href"] == f"/orders/{order.id}"]


def test_every_page_names_an_order_by_one_number_linked_to_its_page(client, owner, org, orders, clock, db):
    service.update_settings(org.id, settlement_basis="redeem", settlement_days=3, refund_window_days=7, refund_auto_audit=False,
                            actor=None, now=portal_clock.now())
    settled = orders.order(org, paid_fen=10000)
    orders.redeem_all(settled)
    clock.advance(days=3)
    service.settle_batch(now=portal_clock.now())
    withdrawal = service.request_withdrawal(org.id, 5000, actor=owner, now=portal_clock.now())
    refunded = orders.order(org, paid_fen=5000)
    refunds.receive_request(org.id, {"refund_id": "rf-ref-1", "order_id": refunded.douyin_order_id, "refund_total_amount": 5000,
                                     "need_refund_audit": 1}, now=portal_clock.now())
    run = Reconciliation(organization_id=org.id, bill_date="2026-01-01", status="differences", ran_at=portal_clock.now())
    run.differences.append(ReconciliationDifference(order_id=settled.id, douyin_order_id=settled.douyin_order_id, problem="amount_differs"))
    run.differences.append(ReconciliationDifference(douyin_order_id="unknown-1", problem="unknown_order"))
    db.session.add(run)
    db.session.flush()
    client.login_as(owner)
    expected = [(settled.douyin_order_id, f"/orders/{settled.id}")]
    for path in ("/orders/", "/ledger/orders", "/ledger/journal", f"/ledger/withdrawals/{withdrawal.id}", "/ledger/reconciliation"):
        assert mentions(html(client.get(path)), settled)[:1] == expected, path
    assert mentions(html(client.get("/ledger/refunds")), refunded) == [(refunded.douyin_order_id, f"/orders/{refunded.id}")]
    assert html(client.get(f"/orders/{settled.id}")).select_one("#page-title").get_text() == f"订单 {settled.douyin_order_id}"
    reconciliation = html(client.get("/ledger/reconciliation"))
    assert reconciliation.select_one("span.order-ref").get_text() == "unknown-1"  # no such order here: no link
