"""订单与核销, 商品库 and the counter's lookup at a million orders, next to the same pages at a thousand.

    .venv/bin/python -m bench.orders_million [--orders 1000000] [--small 1000] [--requests 40] [--only catalog]

Makes two throw-away PostgreSQL databases (BENCH_PG_URL, default postgresql://127.0.0.1:5432/test
is used only to create and drop them), migrates both, and in each makes one merchant with a
store, an owner and a clerk, then one real order through the services (pre-order, payment,
order_query) that set-based SQL copies (generate_series) into `--small` and `--orders` orders,
each with its item and voucher, paid 30 s apart, plus a tenth as many products. Phones end in
one of 20 tails (a tail matches a twentieth of the orders) except three orders ending in 9999.
Then ANALYZE, and the pages take turns request by request in this process through Flask's test
client (signed in, CSRF off): the order list's first page, a page halfway down the history
(keyset `before`), the phone-tail searches, the product library, its name searches and the
counter's lookup of an unused code (POST /counter/lookup). Printed: the median CPU (this
process: Python, the ORM, Jinja) and wall milliseconds per request (wall includes PostgreSQL's
own work: one request at a time), at both sizes and their ratio. Figures only; the target
(issue 22) is every page at 1 M orders within 2x of the same page at 1 000. `--only catalog`
loads the products alone (as many as the full run: a tenth of `--orders`) and times only 商品库,
in a fraction of the time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")
BASE_ID = 1000  # copied rows take ids above the template's
COMMON_TAIL, RARE_TAIL = "0007", "9999"


@contextlib.contextmanager
def _database(label: str):
    base = make_url(PG_URL)
    name = f"portal_bench_orders_{label}_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy(conn, table, template_id: int, n: int, overrides: dict[str, str]) -> None:
    """n copies of `table`'s row `template_id`, row g (1..n) taking the SQL `overrides` (which may
    use g); every other column as the template has it."""
    from sqlalchemy import text

    columns = [c.name for c in table.columns]
    values = [overrides.get(c, f"t.{c}") for c in columns]
    conn.execute(text(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)} "
                      f"FROM {table.name} t, generate_series(1, :n) g WHERE t.id = :template"), {"n": n, "template": template_id})
    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"))


def _merchant(url: str, workdir: Path, n: int, *, orders_too: bool = True):
    """An app on `url` with one merchant of n orders (only the first unless `orders_too`) and n / 10
    products; returns the app and what the requests need."""
    import secrets

    from cryptography.fernet import Fernet
    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal import clock, create_app
    from portal.accounts import service as accounts
    from portal.accounts.models import Role
    from portal.catalog.models import Product
    from portal.extensions import db
    from portal.orders import service as orders
    from portal.orders.models import Order, OrderItem, Voucher

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(workdir / f"instance-{n}"), "SECRET_KEY": "bench",
        "SECRETS_FERNET_KEY": Fernet.generate_key().decode(), "REDIS_URL": None, "RQ_INPROCESS_WORKER": False,
        "WTF_CSRF_ENABLED": False, "DOUYIN_API_BASE": "http://douyin.invalid",
    })
    with app.app_context(), app.test_request_context():
        upgrade()
        org = accounts.create_organization("压测商户")
        store = accounts.create_store(org, "压测门店")
        owner = accounts.create_user(f"owner{n}@bench.test", None, name="店主")
        accounts.add_membership(owner, org, Role.OWNER)
        clerk = accounts.create_user(f"clerk{n}@bench.test", None, name="张三")
        accounts.add_membership(clerk, org, Role.CLERK, store)
        now = clock.now()
        product = Product(organization_id=org.id, kind="groupon", name="压测套餐0", original_price_fen=12800, price_fen=9900, out_id="bench-0",
                          review_status="approved", local_online=True, douyin_online=True, created_at=now, updated_at=now)
        product.stores = [store]
        db.session.add(product)
        db.session.flush()
        pre = orders.place_order(org.id, sku_id="bench-0", poi_id="", quantity=1, open_id="o0", phone="13900000000", now=now)
        orders.confirm_payment(org.id, {"out_order_no": pre.out_order_no, "order_id": "ot0", "status": "SUCCESS", "total_amount": 9900,
                                        "discount_amount": 0, "event_time": int(now.timestamp() * 1000)}, now=now)
        template = orders.apply_order_query(org.id, {"order_id": "ot0"}, {
            "order_id": "ot0", "out_order_no": pre.out_order_no, "pay_status": "SUCCESS", "total_amount": 9900, "discount_amount": 0,
            "pay_time": int(now.timestamp() * 1000), "item_order_list": [{"item_order_id": "ot000", "sku_id": "bench-0", "item_order_amount": 9900}],
        }, now=now)
        db.session.commit()

        started = time.perf_counter()
        conn = db.session.connection()
        rare = {3, n // 2, n - 1}
        phone = (f"'139' || lpad((g % 10000)::text, 4, '0') || CASE WHEN g IN ({', '.join(map(str, rare))}) THEN '{RARE_TAIL}' "
                 f"ELSE lpad((g % 20)::text, 4, '0') END")
        paid_at = f"t.paid_at - ({n} - g) * interval '30 seconds'"
        for_orders = n if orders_too else 0
        _copy(conn, Order.__table__, template.id, for_orders, {
            "id": f"{BASE_ID} + g", "douyin_order_id": "'bench' || g", "out_order_no": "'B' || g", "buyer_phone": phone,
            "buyer_phone_tail": f"right({phone}, 4)", "paid_at": paid_at, "created_at": paid_at,
        })
        _copy(conn, OrderItem.__table__, template.items[0].id, for_orders, {"id": f"{BASE_ID} + g", "order_id": f"{BASE_ID} + g", "douyin_item_order_id": "'bi' || g"})
        _copy(conn, Voucher.__table__, template.vouchers[0].id, for_orders, {
            "id": f"{BASE_ID} + g", "order_id": f"{BASE_ID} + g", "order_item_id": f"{BASE_ID} + g", "code": "'9' || lpad(g::text, 15, '0')",
        })
        _copy(conn, Product.__table__, product.id, max(n // 10, 1), {
            "id": f"{BASE_ID} + g", "name": "'压测套餐' || g", "out_id": "'bench-' || g",
            **({"douyin_product_id": "'17' || lpad(g::text, 17, '0')"} if "douyin_product_id" in Product.__table__.c else {}),
        })
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
        loaded = time.perf_counter() - started
        count = db.session.scalar(text("SELECT count(*) FROM orders"))
        print(f"  loaded {count:,} orders with items and vouchers, {max(n // 10, 1):,} products: {loaded:.1f} s", flush=True)

        def client_of(user):
            sid = accounts.start_session(user, now=now)
            db.session.commit()
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"], session["sid"], session["_fresh"] = user.get_id(), sid, True
                session["csrf_token"] = secrets.token_hex(20)
            return client

        codes = [f"9{g:015d}" for g in range(n // 2, n // 2 + 20)]
        return app, {"owner": client_of(owner), "clerk": client_of(clerk), "store_id": store.id, "middle": BASE_ID + n // 2, "codes": codes}


def _requests(seed: dict) -> list[tuple[str, object, str, dict | None]]:
    codes = iter(seed["codes"] * 100_000)
    owner, clerk = seed["owner"], seed["clerk"]
    return [
        ("订单与核销, first page", owner, "/orders/", None),
        ("订单与核销, page halfway down (before=)", owner, f"/orders/?before={seed['middle']}", None),
        (f"phone tail, common ({COMMON_TAIL}: 1/20 of orders)", owner, f"/orders/?q={COMMON_TAIL}", None),
        (f"phone tail, rare ({RARE_TAIL}: 3 orders)", owner, f"/orders/?q={RARE_TAIL}", None),
        ("商品库, first page", owner, "/catalog/", None),
        ("商品库, name search, every product (压测套餐)", owner, "/catalog/?q=%E5%8E%8B%E6%B5%8B%E5%A5%97%E9%A4%90", None),
        ("商品库, name search, a ninth, clustered (套餐1)", owner, "/catalog/?q=%E5%A5%97%E9%A4%901", None),
        ("商品库, name search, many (套餐12)", owner, "/catalog/?q=%E5%A5%97%E9%A4%9012", None),
        ("商品库, name search, rare (套餐777)", owner, "/catalog/?q=%E5%A5%97%E9%A4%90777", None),
        ("counter lookup (POST /counter/lookup)", clerk, "/counter/lookup", lambda: {"code": next(codes), "store_id": seed["store_id"]}),
    ]


def _send(client, url, form):
    response = client.post(url, data=form()) if form else client.get(url)
    assert response.status_code == 200, (url, response.status_code)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", choices=["catalog"], help="load the products alone and time only 商品库")
    args = parser.parse_args()
    orders_too = args.only is None
    with tempfile.TemporaryDirectory(prefix="bench-orders-million-") as tmp, _database("small") as small_url, _database("big") as big_url:
        print(f"{args.small:,} orders:")
        small_app, small = _merchant(small_url, Path(tmp), args.small, orders_too=orders_too)
        print(f"{args.orders:,} orders:")
        big_app, big = _merchant(big_url, Path(tmp), args.orders, orders_too=orders_too)
        pairs = [(a, b) for a, b in zip(_requests(small), _requests(big), strict=True) if orders_too or a[0].startswith("商品库")]
        sizes = ((small_app, 0), (big_app, 1))
        for (a, b) in pairs:  # warm: templates compiled, statement caches filled
            for _ in range(3):
                for app, side in sizes:
                    _label, client, url, form = (a, b)[side]
                    with app.app_context():
                        _send(client, url, form)
        cpu = [[[], []] for _ in pairs]
        wall = [[[], []] for _ in pairs]
        for _turn in range(args.requests):
            for i, (a, b) in enumerate(pairs):
                for app, side in sizes:
                    _label, client, url, form = (a, b)[side]
                    c0, w0 = time.process_time(), time.perf_counter()
                    _send(client, url, form)
                    cpu[i][side].append((time.process_time() - c0) * 1000)
                    wall[i][side].append((time.perf_counter() - w0) * 1000)
        print(f"\nmedian of {args.requests} requests each, pages taking turns (ms)")
        print(f"  {'':<44} {'CPU small':>9} {'CPU big':>8} {'x':>6}   {'wall small':>10} {'wall big':>9} {'x':>6}")
        for i, (a, _b) in enumerate(pairs):
            cs, cb = (statistics.median(v) for v in cpu[i])
            ws, wb = (statistics.median(v) for v in wall[i])
            print(f"  {a[0]:<44} {cs:9.2f} {cb:8.2f} {cb / cs:6.2f}   {ws:10.2f} {wb:9.2f} {wb / ws:6.2f}")
        print(f"  (small: {args.small:,} orders, big: {args.orders:,}; target: big within 2x of small)")


if __name__ == "__main__":
    main()
