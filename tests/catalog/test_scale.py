"""The library's count stops past a cap, and its name search can use PostgreSQL's trigram index."""

from bs4 import BeautifulSoup
from sqlalchemy import text

from portal.catalog import service, views


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
