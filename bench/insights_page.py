"""The data overview and the 担保账户 pages at 1 000 000 orders against a plain 50-row page, in the same run.

    .venv/bin/python -m bench.insights_page

Builds (once, then reuses) a database of one merchant with two stores and BENCH_ORDERS orders
(default 1 000 000) over the last 365 days, each with a voucher; about 70 % redeemed, 10 %
refunded, redeemed orders older than three days settled. The per-order facts are written in
bulk the way the signal receivers would have left them, and the daily figures are built with
`rebuild_daily_figures`. The ledger gets what the services would have posted: a ledger order and
a payment transaction per order, a refund transaction per refunded order, and one settlement
batch per store and day. Then it requests /insights/ (30 days and 365 days, as the owner and as
the store manager), /ledger/, /ledger/orders and /ledger/journal, and the baseline: a plain
page listing 50 orders in the portal's layout. It prints the median CPU and wall time per
request (the pages take turns) and each page's CPU as a multiple of the baseline's; the same 50
rows without any layout are printed for reference.

BENCH_DATABASE_URL picks the database (default SQLite in /tmp/bench_insights.db).
"""

from __future__ import annotations

import os
import random
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta

from flask import render_template
from sqlalchemy import func, select, text

from bench import pages_side_by_side

ORDERS = int(os.environ.get("BENCH_ORDERS", "1000000"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "sqlite:////tmp/bench_insights.db")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "40"))
CHUNK = 20_000

CODES = [("short_video", f"shortvideo_{m:02d}{d:02d}_douyin") for m, d in ((3, 9), (5, 1), (6, 18), (8, 8), (10, 1), (11, 11))]
CODES += [("live", f"live_{n}") for n in ("0618", "0909", "1111")] + [("search", ""), ("other", "")]

ROWS = """<table class="table" id="plain-rows">{% for o in rows %}<tr><td>{{ o.out_order_no }}</td><td>{{ o.paid_at|local_dt }}</td>
<td>{{ o.paid_fen|fen }}</td><td>{{ o.channel }}</td><td>{{ o.tracking_code }}</td></tr>{% endfor %}</table>"""
# The baseline: 50 orders in the portal's own layout (signed in, navigation, language), so the
# ratio shows what each page's own queries and rendering cost at 1 000 000 orders.
PLAIN = '{% extends "base.html" %}{% block content %}' + ROWS + "{% endblock %}"
# For reference only: the same rows with no layout at all.
BARE = "<!doctype html><html><head><title>bare</title></head><body>" + ROWS + "</body></html>"


def _build(db, org, stores):
    from portal.insights.aggregation import local_day, rebuild_daily_figures
    from portal.insights.models import OrderFact, RedemptionFact
    from portal.ledger import service as ledger
    from portal.ledger.models import LedgerOrder, LedgerPosting, LedgerTransaction
    from portal.orders.models import Order, OrderItem, Voucher

    accounts = {(store.id, code): ledger.get_account(org.id, store.id, code, store.id).id
                for store in stores for code in ("douyin_clearing", "in_transit", "available", "fees", "refunded")}
    db.session.commit()

    rng = random.Random(7)
    start = NOW - timedelta(days=365)
    span = int((NOW - start).total_seconds())
    conn = db.session.connection()
    t0 = time.perf_counter()
    for base in range(0, ORDERS, CHUNK):
        orders, items, vouchers, facts, redemptions = [], [], [], [], []
        ledger_orders, txns, postings = [], [], []
        for n in range(base + 1, min(base + CHUNK, ORDERS) + 1):
            paid_at = start + timedelta(seconds=rng.randrange(span))
            store = stores[n % 2]
            channel, code = CODES[rng.randrange(len(CODES))]
            total = rng.choice((1990, 4900, 9900, 12800, 19900))
            paid = total - rng.choice((0, 0, 0, 500))
            roll = rng.random()
            redeemed_at = paid_at + timedelta(minutes=rng.randrange(30, 96 * 60)) if roll < 0.7 else None
            if redeemed_at and redeemed_at > NOW:
                redeemed_at = None
            refunded = redeemed_at is None and roll > 0.9
            status = "refunded" if refunded else ("completed" if redeemed_at else "paid")
            settled_at = redeemed_at + timedelta(days=3) if redeemed_at and redeemed_at + timedelta(days=3) < NOW else None
            orders.append(dict(id=n, organization_id=org.id, store_id=store.id, douyin_order_id=f"bench{n}", out_order_no=f"B{n:09d}",
                               status=status, fulfilment="in_store", total_fen=total, discount_fen=total - paid, paid_fen=paid,
                               paid_at=paid_at, buyer_phone=f"139{n:08d}", buyer_open_id="", source="normal", channel=channel,
                               tracking_code=code, douyin_poi_id="", shipping_status="",
                               completed_at=redeemed_at, created_at=paid_at))
            items.append(dict(id=n, order_id=n, product_id=None, title="双人套餐", quantity=1, unit_price_fen=total, douyin_item_order_id=""))
            vouchers.append(dict(id=n, organization_id=org.id, order_id=n, order_item_id=n, kind="local", code=f"V{n:011d}",
                                 status="redeemed" if redeemed_at else ("refunded" if refunded else "unused"), valid_from=paid_at,
                                 valid_until=paid_at + timedelta(days=90), redeemed_at=redeemed_at, redeemed_by_id=None,
                                 redeemed_store_id=store.id if redeemed_at else None, douyin_certificate_id="", douyin_verify_id="", note=""))
            fees = paid * 6 // 1000
            facts.append(dict(order_id=n, organization_id=org.id, store_id=store.id, status=status, channel=channel, tracking_code=code,
                              paid_at=paid_at, gmv_fen=total, paid_fen=paid, vouchers=1, open_vouchers=int(not redeemed_at and not refunded),
                              refunded_at=paid_at + timedelta(hours=5) if refunded else None, refunds_fen=paid if refunded else 0,
                              settled_at=settled_at, settled_net_fen=paid - fees if settled_at else 0, settled_fees_fen=fees if settled_at else 0))
            ledger_orders.append(dict(
                order_id=n, organization_id=org.id, store_id=store.id, scope=store.id,
                status="settled" if settled_at else ("refunded" if refunded else "in_transit"), source="normal", paid_fen=paid,
                fee_category="美食", tech_fee_rate="0", promo_applied=False, tech_fee_fen=0, channel_fee_fen=fees, net_fen=paid - fees,
                paid_at=paid_at, completed_at=redeemed_at, due_at=redeemed_at + timedelta(days=3) if redeemed_at else None,
                settled_at=settled_at, settle_batch=f"{local_day(settled_at)}-{store.id}" if settled_at else None,
                refunded_at=paid_at + timedelta(hours=5) if refunded else None, withdrawn_fen=0,
                douyin_settle_status="", douyin_settle_id="", douyin_settle_note=""))
            txns.append(dict(id=n, organization_id=org.id, kind="payment", reference=f"order:{n}", order_id=n, memo=f"B{n:09d}", posted_at=paid_at))
            postings += [dict(transaction_id=n, account_id=accounts[(store.id, "douyin_clearing")], organization_id=org.id, store_id=store.id, amount_fen=-paid),
                         dict(transaction_id=n, account_id=accounts[(store.id, "in_transit")], organization_id=org.id, store_id=store.id, amount_fen=paid)]
            if refunded:
                txns.append(dict(id=ORDERS + n, organization_id=org.id, kind="refund", reference=f"order:{n}", order_id=n, memo="",
                                 posted_at=paid_at + timedelta(hours=5)))
                postings += [dict(transaction_id=ORDERS + n, account_id=accounts[(store.id, "in_transit")], organization_id=org.id, store_id=store.id, amount_fen=-paid),
                             dict(transaction_id=ORDERS + n, account_id=accounts[(store.id, "refunded")], organization_id=org.id, store_id=store.id, amount_fen=paid)]
            if redeemed_at:
                redemptions.append(dict(voucher_id=n, organization_id=org.id, order_id=n, store_id=store.id, channel=channel,
                                        tracking_code=code, paid_at=paid_at, redeemed_at=redeemed_at,
                                        cycle_minutes=int((redeemed_at - paid_at).total_seconds() // 60)))
        for model, rows in ((Order, orders), (OrderItem, items), (Voucher, vouchers), (OrderFact, facts), (RedemptionFact, redemptions),
                            (LedgerOrder, ledger_orders), (LedgerTransaction, txns)):
            conn.execute(model.__table__.insert(), rows)
        # Postings in time order, as the services write them (the journal lists them by id).
        postings.sort(key=lambda p, at={t["id"]: t["posted_at"] for t in txns}: at[p["transaction_id"]])
        conn.execute(LedgerPosting.__table__.insert(), postings)
        db.session.commit()
        conn = db.session.connection()
        print(f"  {base + len(orders):>9,} orders written ({time.perf_counter() - t0:5.0f} s)", flush=True)
    if db.engine.dialect.name == "postgresql":  # the rows above came with their ids: move the sequences past them
        for table in ("orders", "order_items", "vouchers", "ledger_transactions"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
    _settle_batches(db, org, accounts)
    t1 = time.perf_counter()
    buckets = rebuild_daily_figures(org.id, local_day(start), local_day(NOW))
    db.session.commit()
    print(f"  rebuild_daily_figures: {buckets:,} buckets in {time.perf_counter() - t1:.1f} s", flush=True)
    if db.engine.dialect.name == "postgresql":  # fresh tables: the statistics autovacuum would gather in service
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def _settle_batches(db, org, accounts):
    """One settlement transaction per store and day, its postings the sums of the orders it settled."""
    from sqlalchemy import update

    from portal.ledger.models import LedgerAccount, LedgerOrder, LedgerPosting, LedgerTransaction

    batches = db.session.execute(
        select(LedgerOrder.settle_batch, LedgerOrder.store_id, func.min(LedgerOrder.settled_at), func.count(), func.sum(LedgerOrder.paid_fen),
               func.sum(LedgerOrder.net_fen), func.sum(LedgerOrder.channel_fee_fen))
        .where(LedgerOrder.settle_batch.is_not(None)).group_by(LedgerOrder.settle_batch, LedgerOrder.store_id).order_by(func.min(LedgerOrder.settled_at))
    ).all()
    for batch, store_id, settled_at, count, paid, net, fee in batches:
        txn = LedgerTransaction(organization_id=org.id, kind="settlement", reference=f"settlement:{batch}:{store_id}", settle_batch=batch,
                                memo=f"核销结算 {count} 笔订单", posted_at=settled_at)
        db.session.add(txn)
        db.session.flush()
        for code, amount in (("in_transit", -paid), ("available", net), ("fees", fee)):
            db.session.add(LedgerPosting(transaction_id=txn.id, account_id=accounts[(store_id, code)], organization_id=org.id, store_id=store_id, amount_fen=amount))
    db.session.flush()
    for account_id, total in db.session.execute(select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_fen)).group_by(LedgerPosting.account_id)).all():
        db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account_id).values(balance_fen=total))
    db.session.commit()
    print(f"  {len(batches):,} settlement batches posted", flush=True)


def main() -> None:
    from portal import clock, create_app
    from portal.accounts import service as accounts
    from portal.accounts.models import Organization, Role, User
    from portal.extensions import db
    from portal.orders.models import Order

    clock.freeze(NOW)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "INSTANCE_PATH": os.path.join(tempfile.gettempdir(), "bench_insights_instance"),
        "SECRET_KEY": "bench",
        "SECRETS_FERNET_KEY": "0" * 43 + "=",
        "RQ_INPROCESS_WORKER": False,
        "WTF_CSRF_ENABLED": False,
    })

    # Compiled once, as template files are.
    plain_template, bare_template = app.jinja_env.from_string(PLAIN), app.jinja_env.from_string(BARE)

    @app.get("/bench/plain")
    def plain():
        rows = db.session.scalars(select(Order).order_by(Order.id.desc()).limit(50)).all()
        return render_template(plain_template, rows=rows)

    @app.get("/bench/bare")
    def bare():
        rows = db.session.scalars(select(Order).order_by(Order.id.desc()).limit(50)).all()
        return render_template(bare_template, rows=rows)

    with app.app_context():
        db.create_all()
        org = db.session.scalar(select(Organization).where(Organization.name == "基准商户"))
        count = db.session.scalar(select(func.count(Order.id)).where(Order.organization_id == org.id)) if org else 0
        if count != ORDERS:
            if org is not None or db.session.scalar(select(func.count(Order.id))):
                raise SystemExit(f"{DATABASE_URL} holds other data; delete it (or set BENCH_DATABASE_URL) and run again")
            print(f"building {ORDERS:,} orders in {DATABASE_URL} (once; reused by later runs)", flush=True)
            org = accounts.create_organization("基准商户", multi_store=True)
            stores = [accounts.create_store(org, "基准商户·一店"), accounts.create_store(org, "基准商户·二店")]
            owner = accounts.create_user("owner@bench.test", secrets.token_hex(8), name="店主")
            accounts.add_membership(owner, org, Role.OWNER)
            manager = accounts.create_user("manager@bench.test", secrets.token_hex(8), name="店长")
            accounts.add_membership(manager, org, Role.STORE_MANAGER, stores[0])
            db.session.commit()
            _build(db, org, stores)
        from portal.insights.models import DailyFigure, DailyStoreFigure

        kept = [db.session.scalar(select(func.sum(model.paid_fen)).where(model.organization_id == org.id)) for model in (DailyFigure, DailyStoreFigure)]
        if kept[0] != kept[1]:
            raise SystemExit(f"{DATABASE_URL} was built by an older portal (its store-day figures do not match its buckets); delete it and run again")
        ids = {u.email: u.get_id() for u in db.session.scalars(select(User).where(User.email.like("%@bench.test")))}
        day_from_year = (clock.today_local() - timedelta(days=364)).isoformat()

    print(f"\n{ORDERS:,} orders, {REQUESTS} requests each, database {DATABASE_URL.split(':')[0]}")
    print(f"{'page':<44}{'CPU ms/req':>12}{'wall ms/req':>13}{'bytes':>9}{'× plain':>9}")
    pages = (
        ("owner@bench.test", "/bench/plain"),
        ("owner@bench.test", "/insights/"),
        ("owner@bench.test", f"/insights/?day_from={day_from_year}"),
        ("manager@bench.test", "/insights/"),
        ("owner@bench.test", "/ledger/"),
        ("owner@bench.test", "/ledger/orders"),
        ("owner@bench.test", "/ledger/journal"),
        ("manager@bench.test", "/ledger/"),
        ("owner@bench.test", "/bench/bare"),
    )
    labels = {"/bench/plain": "plain page, 50 orders", "/bench/bare": "(reference) the 50 rows, no layout", "/ledger/": "担保账户 (balances, 20 orders)", "/ledger/orders": "担保账户 orders, 50",
              "/ledger/journal": "担保账户 journal, 50 postings", "/insights/": "overview 30 days (default)"}
    clients = []
    for who, url in pages:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = ids[who]
            session["_fresh"] = True
        clients.append((client, url, None))
    results = [
        (labels.get(url, "overview 365 days") + (" (store manager)" if who.startswith("manager") else ""), *figures)
        for (who, url), figures in zip(pages, pages_side_by_side(clients, REQUESTS))
    ]
    plain = results[0][1]
    for label, cpu, wall, size in results:
        print(f"{label:<44}{cpu:>12.1f}{wall:>13.1f}{size:>9,}{cpu / plain:>8.2f}×", flush=True)
    print("target: the ledger pages and the overview (30 days) within 2× of the plain page")


if __name__ == "__main__":
    main()
