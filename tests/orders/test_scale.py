"""A merchant with a million orders: the order list pages by keyset with a bounded pager and a
capped count, the phone tail is searched on a stored column, and the counter's lookup, the list
and the phone search read indexes, never a whole table that grows with the merchant's history."""

import json
from contextlib import contextmanager
from datetime import timedelta

from bs4 import BeautifulSoup
from sqlalchemy import event, select, text

from portal.catalog.models import ProductKind
from portal.orders import service, views
from portal.orders.models import Order, phone_tail
from portal.redemption import service as redemption

# Tables that grow with every order: a plan may never read one of them whole.
GROWING = {"orders", "order_items", "vouchers", "redemption_attempts", "ledger_orders", "insight_order_facts"}


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _row_ids(page):
    return [int(tr["id"].removeprefix("orders-row-")) for tr in page.select("#orders-table tbody tr[id^=orders-row-]")]


def _orders(org, shop, clock, minutes_ago, **placed):
    product = shop.product(org)
    return [shop.paid(org, product, paid_at=clock.now() - timedelta(minutes=m), **placed) for m in minutes_ago]


def _newest_first(orders):
    return [o.id for o in sorted(orders, key=lambda o: (o.paid_at, o.id), reverse=True)]


def test_the_order_list_walks_every_order_once_by_keyset_and_back(client, owner, org, shop, clock, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    made = _orders(org, shop, clock, [5, 4, 4, 3, 1])  # two paid in the same minute: the id breaks the tie
    client.login_as(owner)
    pages, page = [], html(client.get("/orders/"))
    assert page.select_one("#orders-prev") is None and page.select_one("#orders-newest") is None
    while True:
        pages.append(_row_ids(page))
        # The pager is bounded: newest, previous and next at most, however long the history.
        assert len(page.select("#orders-pages a")) <= 3
        following = page.select_one("#orders-next")
        if following is None:
            break
        assert "page=" not in following["href"] and "before=" in following["href"]
        page = html(client.get(following["href"]))
    assert [i for ids in pages for i in ids] == _newest_first(made) and len(pages) == 3
    back = html(client.get(page.select_one("#orders-prev")["href"]))
    assert _row_ids(back) == pages[1]
    assert _row_ids(html(client.get(page.select_one("#orders-newest")["href"]))) == pages[0]


def test_the_pager_keeps_the_filters(client, owner, org, shop, clock, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    live = _orders(org, shop, clock, [3, 2], channel="live", tracking_code="")
    _orders(org, shop, clock, [1], channel="search", tracking_code="")
    client.login_as(owner)
    first = html(client.get("/orders/?channel=live"))
    second = html(client.get(first.select_one("#orders-next")["href"]))
    assert _row_ids(first) + _row_ids(second) == _newest_first(live)
    assert second.select_one("#orders-next") is None


def test_the_count_stops_at_the_cap_and_says_so(client, owner, org, shop, clock, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    _orders(org, shop, clock, [4, 3, 2, 1])
    client.login_as(owner)
    monkeypatch.setattr(service, "COUNT_CAP", 3)
    assert html(client.get("/orders/")).select_one("#orders-count").get_text() == "共 3+ 笔订单"
    monkeypatch.setattr(service, "COUNT_CAP", 4)
    assert html(client.get("/orders/")).select_one("#orders-count").get_text() == "共 4 笔订单"


def test_a_page_past_a_cursor_of_another_merchant_is_empty(client, owner, org, accounts, shop, clock):
    other = accounts.org("别家")
    theirs = _orders(other, shop, clock, [1])[0]
    _orders(org, shop, clock, [2])
    client.login_as(owner)
    page = html(client.get(f"/orders/?before={theirs.id}"))
    assert _row_ids(page) == [] and page.select_one("#orders-empty") is not None
    assert page.select_one("#orders-newest")["href"] == "/orders/"  # a way back to the list


def test_four_digits_find_the_phones_ending_in_them_and_no_other(client, owner, org, accounts, shop, clock, db):
    ending = _orders(org, shop, clock, [3], phone="13800001234")[0]
    inside = _orders(org, shop, clock, [2], phone="13812345678")[0]
    theirs = _orders(accounts.org("别家"), shop, clock, [1], phone="13900001234")[0]
    assert (ending.buyer_phone_tail, inside.buyer_phone_tail) == ("1234", "5678")
    client.login_as(owner)
    assert _row_ids(html(client.get("/orders/?q=1234"))) == [ending.id]
    assert theirs.id not in _row_ids(html(client.get("/orders/?q=1234")))
    inside.buyer_phone = "13700001234"
    db.session.flush()
    assert _row_ids(html(client.get("/orders/?q=1234"))) == _newest_first([ending, inside])


def test_the_stored_tail_is_what_the_migration_fills_in(db, org, shop, clock):
    orders = _orders(org, shop, clock, [3, 2, 1], phone="")
    for order, phone in zip(orders, ["13800001234", "123", ""], strict=True):
        db.session.execute(text("UPDATE orders SET buyer_phone = :phone, buyer_phone_tail = 'x' WHERE id = :id"), {"phone": phone, "id": order.id})
    db.session.execute(text("UPDATE orders SET buyer_phone_tail = CASE WHEN length(buyer_phone) > 4 "
                            "THEN substr(buyer_phone, length(buyer_phone) - 3) ELSE buyer_phone END WHERE id IN (:a, :b, :c)"),
                       dict(zip("abc", [o.id for o in orders], strict=True)))
    stored = dict(db.session.execute(select(Order.buyer_phone, Order.buyer_phone_tail).where(Order.id.in_([o.id for o in orders]))).all())
    assert stored == {phone: phone_tail(phone) for phone in ["13800001234", "123", ""]} == {"13800001234": "1234", "123": "123", "": ""}


@contextmanager
def _selects(db):
    """The SELECT statements (with their parameters) run inside the block."""
    seen = []
    connection = db.session.connection()

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def _plans(db, statements) -> tuple[set[str], set[str]]:
    """The growing tables some plan reads whole, and the indexes the plans read. On PostgreSQL
    sequential scans are switched off for the transaction, so a Seq Scan means no index could
    serve the statement."""
    connection = db.session.connection()
    read, indexes = set(), set()
    for statement, parameters in statements:
        if connection.dialect.name == "postgresql":
            plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            nodes = [plan[0]["Plan"]]
            while nodes:
                node = nodes.pop()
                nodes.extend(node.get("Plans", []))
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in GROWING:
                    read.add(node["Relation Name"])
                if "Index Name" in node:
                    indexes.add(node["Index Name"])
        else:
            for *_ids, detail in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters):
                words = detail.split()
                if words[0] == "SCAN" and words[1] in GROWING and "INDEX" not in words:
                    read.add(words[1])
                if "INDEX" in words:
                    indexes.add(words[words.index("INDEX") + 1])
    return read, indexes


def _no_seqscan(db):
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))


def _no_sort(db, on: bool):
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL enable_sort = {'off' if on else 'on'}"))


def test_the_counter_lookup_of_a_half_used_card_reads_indexes_only(db, org, clerk, shop, clock):
    order = shop.paid(org, shop.product(org, kind=ProductKind.COUNT_CARD, uses=3))
    first = min(order.vouchers, key=lambda v: v.id)
    redemption.redeem(org.stores[0], first.code, nonce="scale-card", actor=clerk, now=clock.now())
    db.session.expunge_all()
    _no_seqscan(db)
    with _selects(db) as statements:
        preview = redemption.lookup(org.stores[0], first.code, actor=clerk, now=clock.now())
    assert preview.voucher.id != first.id  # the card's next use, found by its item
    read, indexes = _plans(db, statements)
    assert read == set() and "ix_vouchers_order_item_id" in indexes


def test_the_order_list_its_deep_pages_and_the_phone_search_read_indexes_only(db, org, shop, clock):
    made = _orders(org, shop, clock, [4, 3, 2, 1], phone="13800001234")
    # A history where few orders match, with its statistics: the planner's choice is then the
    # one it makes at scale, not a toss-up between two indexes over a handful of rows.
    _orders(org, shop, clock, range(10, 70), phone="13900005678")
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE orders"))
    _no_seqscan(db)
    scoped = select(Order).where(Order.organization_id == org.id)
    with _selects(db) as listing:
        service.page_orders(service.filter_orders(scoped), limit=2)
        service.page_orders(service.filter_orders(scoped), before=made[1].id, limit=2)
        service.page_orders(service.filter_orders(scoped), after=made[3].id, limit=2)
    with _selects(db) as search:
        found = service.page_orders(service.filter_orders(scoped, q="1234"), limit=2)
        service.page_orders(service.filter_orders(scoped, q="1234", status="paid"), before=made[1].id, limit=2)
    assert found.count == 4 and found.count_label == "4" and len(found.orders) == 2
    _no_sort(db, True)  # the pages' order must come from the index, not from sorting what a filter found
    read, indexes = _plans(db, listing)
    assert read == set() and "ix_orders_org_paid_at" in indexes
    _no_sort(db, False)
    if db.session.connection().dialect.name == "postgresql":
        # On a few dozen rows the planner may well read the merchant's orders through an index on
        # the organization and filter them; at a million it cannot afford to. Without those indexes
        # (dropped inside this test's transaction, which is rolled back) the search must still be
        # served by an index: the phone tail's, through the OR's bitmap.
        db.session.execute(text("DROP INDEX ix_orders_org_phone"))
        db.session.execute(text("DROP INDEX ix_orders_org_paid_at"))
    read, indexes = _plans(db, search)
    assert read == set() and "ix_orders_org_phone_tail" in indexes
