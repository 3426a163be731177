"""The library's count stops past a cap, and its name search can use PostgreSQL's trigram index."""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, insert, inspect, text

from portal.catalog import service, views
from portal.catalog.models import Product
from tests.fixtures.catalog import CatalogFactory


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_the_count_stops_past_the_cap_and_says_so(db, catalog, owner, org, monkeypatch):
    made = [catalog.product(owner, name=f"套餐{i}") for i in range(4)]
    monkeypatch.setattr(service, "COUNT_CAP", 2)
    first = service.list_products(org.id, None, service.Filters(), limit=1)
    assert (first.total, first.total_label) == (3, "2+")
    later = service.list_products(org.id, None, service.Filters(), before=first.next_before, limit=1)
    assert later.total_label == "2+" and [p.id for p in later.products] == [made[2].id]
    monkeypatch.setattr(service, "COUNT_CAP", 4)
    assert service.list_products(org.id, None, service.Filters(), limit=1).total_label == "4"


def test_the_page_shows_the_capped_count(client, owner, catalog, db, monkeypatch):
    for i in range(3):
        catalog.product(owner, name=f"套餐{i}")
    monkeypatch.setattr(service, "COUNT_CAP", 2)
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    assert html(client.login_as(owner).get("/catalog/")).select_one("#catalog-total").get_text(strip=True) == "共 2+ 个商品"


def test_the_name_search_can_read_the_trigram_index_on_postgresql(db, catalog, owner, org):
    catalog.product(owner, name="双人烤鱼套餐")
    catalog.product(owner, name="单人午餐")
    found = service.list_products(org.id, None, service.Filters(q="烤鱼套"))
    assert [p.name for p in found.products] == ["双人烤鱼套餐"]
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        # SQLite: the plain index of the same name exists; a LIKE '%q%' cannot use it (README, Scale).
        assert connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'ix_products_name_trgm'").scalar()
        return
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = connection.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) SELECT id FROM products WHERE name LIKE %(needle)s", {"needle": "%烤鱼套%"}
    ).scalar()
    nodes, names = [plan[0]["Plan"]], set()
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        names.add(node.get("Index Name"))
    assert "ix_products_name_trgm" in names


# Oldest first: the 烤鱼饭 are clustered behind runs of products that do not match.
NAMES = ["烤鱼饭1", "烤鱼饭2", "烤鱼饭3", "凉面1", "凉面2", "凉面3", "凉面4", "烤鱼饭4", "烤鱼饭5", "凉面5"]


@pytest.mark.parametrize("cap, window", [(1000, 2000), (2, 2), (2, 100)], ids=["few-matches", "clustered-past-the-window", "within-the-window"])
def test_a_name_search_pages_both_ways_however_it_is_read(db, catalog, owner, org, accounts, monkeypatch, cap, window):
    # On PostgreSQL: matches under the cap are read through the trigram index; more are walked
    # for over `window` products, then read through the index when the window holds too few.
    monkeypatch.setattr(service, "COUNT_CAP", cap)
    monkeypatch.setattr(service, "WALK_WINDOW", window)
    made = []
    for name in NAMES:
        made.append(catalog.product(owner, name=name))
        CatalogFactory(accounts.org("别家")).product(name="烤鱼饭别家")  # another merchant's ids in between
    fish = [p.id for p in reversed(made) if p.name.startswith("烤鱼饭")]
    search = service.Filters(q="烤鱼饭")

    pages = [service.list_products(org.id, None, search, limit=2)]
    while pages[-1].next_before:
        pages.append(service.list_products(org.id, None, search, before=pages[-1].next_before, limit=2))
    assert [[p.id for p in page.products] for page in pages] == [fish[0:2], fish[2:4], fish[4:]]
    assert {page.total_label for page in pages} == {"5" if cap >= 5 else f"{cap}+"}
    assert pages[0].prev_after is None and pages[2].prev_after == fish[4]

    back = service.list_products(org.id, None, search, after=pages[2].prev_after, limit=2)
    assert [p.id for p in back.products] == fish[2:4]
    assert (back.next_before, back.prev_after) == (pages[1].next_before, pages[1].prev_after)
    first = service.list_products(org.id, None, search, after=back.prev_after, limit=2)
    assert [p.id for p in first.products] == fish[0:2] and (first.next_before, first.prev_after) == (pages[0].next_before, None)
    scoped = service.list_products(org.id, frozenset({org.stores[0].id}), search, before=pages[0].next_before, limit=2)
    assert [p.id for p in scoped.products] == fish[2:4]


def _run_recording(db, call) -> list[tuple[str, dict]]:
    """The statements (with their parameters) that `call` runs."""
    connection = db.session.connection()
    ran = []

    def record(conn, cursor, statement, parameters, context, executemany):
        ran.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    return ran


def _plan(db, statement: str, parameters) -> list[dict]:
    """The nodes of PostgreSQL's plan of `statement`, planned as on a library at rest: with
    statistics and the trigram index's pending entries merged (as autovacuum does), which the
    planner otherwise counts as a cost of every trigram search."""
    db.session.execute(text("ANALYZE products"))
    db.session.execute(text("SELECT gin_clean_pending_list('ix_products_name_trgm')"))
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
    nodes, seen = [plan[0]["Plan"]], []
    while nodes:
        seen.append(nodes.pop())
        nodes.extend(seen[-1].get("Plans", []))
    return seen


def _old_fish_and_new_noodles(db, catalog, owner):
    """150 products named 烤鱼饭, then 2 850 named 凉面, inserted in bulk."""
    template = catalog.product(owner, name="烤鱼饭0")
    values = {c.key: getattr(template, c.key) for c in inspect(Product).column_attrs if c.key != "id"}
    names = [f"烤鱼饭{i}" for i in range(1, 150)] + [f"凉面{i}" for i in range(2850)]
    db.session.execute(insert(Product), [{**values, "name": name, "out_id": f"bulk-{i}"} for i, name in enumerate(names)])


@pytest.mark.parametrize("cap, window", [(1000, 2000), (100, 100)], ids=["under-the-cap", "past-the-cap-and-the-window"])
def test_a_name_search_matching_only_old_products_reads_the_trigram_index(db, catalog, owner, org, monkeypatch, cap, window):
    # One product in twenty matches, all of them older than the rest: walking newest first would
    # read every other product before the first match.
    monkeypatch.setattr(service, "COUNT_CAP", cap)
    monkeypatch.setattr(service, "WALK_WINDOW", window)
    _old_fish_and_new_noodles(db, catalog, owner)
    page = []
    ran = _run_recording(db, lambda: page.append(service.list_products(org.id, None, service.Filters(q="烤鱼饭"), limit=2)))
    assert [p.name for p in page[0].products] == ["烤鱼饭149", "烤鱼饭148"]
    assert page[0].total_label == ("150" if cap > 150 else f"{cap}+")
    if db.session.connection().dialect.name != "postgresql":
        return  # SQLite walks the products newest first (README, Scale)
    # The statement that fetched the page: the last one that orders its rows.
    statement, parameters = [(s, p) for s, p in ran if " ORDER BY " in s][-1]
    assert "ix_products_name_trgm" in {node.get("Index Name") for node in _plan(db, statement, parameters)}


def test_a_name_search_matching_most_products_walks_them_newest_first(db, catalog, owner, org):
    _old_fish_and_new_noodles(db, catalog, owner)
    page = []
    ran = _run_recording(db, lambda: page.append(service.list_products(org.id, None, service.Filters(q="凉面"), limit=2)))
    assert [p.name for p in page[0].products] == ["凉面2849", "凉面2848"] and page[0].total_label == "1000+"
    # Found among the newest products: one statement fetched the page, not read again through the index.
    [(statement, parameters)] = [(s, p) for s, p in ran if " ORDER BY " in s]
    if db.session.connection().dialect.name == "postgresql":
        # Rows come in id order from an index and the walk stops at the page: nothing is sorted.
        assert "Sort" not in {node["Node Type"] for node in _plan(db, statement, parameters)}
