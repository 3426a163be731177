"""The ledger's long lists page by keyset: every row once, newest first, with a bounded pager."""

from datetime import timedelta

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.ledger import queries
from portal.ledger.models import LedgerPosting


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _walk(client, url, row_prefix, more_id, newest_id):
    seen, pages, page = [], 0, html(client.get(url))
    assert page.select_one(f"#{newest_id}") is None
    while True:
        pages += 1
        seen += [int(tr["id"].removeprefix(row_prefix)) for tr in page.select(f"tbody tr[id^={row_prefix}]")]
        following = page.select_one(f"#{more_id}")
        if following is None:
            break
        assert "before=" in following["href"] and "page=" not in following["href"]
        page = html(client.get(following["href"]))
        assert page.select_one(f"#{newest_id}")["href"].split("?")[0] == url.split("?")[0]
    return seen, pages


def test_the_journal_walks_every_posting_once_newest_first(client, owner, org, orders, db, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for _ in range(3):
        orders.order(org)
    client.login_as(owner)
    seen, pages = _walk(client, "/ledger/journal", "ledger-posting-", "ledger-journal-more", "ledger-journal-newest")
    everything = db.session.scalars(select(LedgerPosting.id).where(LedgerPosting.organization_id == org.id).order_by(LedgerPosting.id.desc())).all()
    assert seen == everything and len(everything) >= 6 and pages == (len(everything) + 1) // 2


def test_the_journal_pager_keeps_its_filters(client, owner, org, orders, db, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 1)
    for _ in range(2):
        orders.order(org)
    client.login_as(owner)
    page = html(client.get("/ledger/journal?account=in_transit"))
    following = page.select_one("#ledger-journal-more")["href"]
    assert "account=in_transit" in following
    assert {tr["data-account"] for tr in html(client.get(following)).select("tbody tr[data-account]")} == {"in_transit"}


def test_the_order_list_walks_every_order_once_with_ties_on_the_payment_time(client, owner, org, orders, clock, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    at = clock.now() - timedelta(hours=1)
    made = [orders.order(org, paid_at=at + timedelta(minutes=m)) for m in (0, 5, 5, 9, 12)]
    client.login_as(owner)
    seen, pages = _walk(client, "/ledger/orders", "ledger-order-", "ledger-orders-more", "ledger-orders-newest")
    assert seen == [o.id for o in sorted(made, key=lambda o: (o.paid_at, o.id), reverse=True)] and pages == 3
