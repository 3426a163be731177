"""Settle 1 000 000 due orders on PostgreSQL, set-based and batched, and print the seconds.

    .venv/bin/python -m bench.ledger_settle

Creates a throw-away PostgreSQL database (BENCH_PG_URL, default postgresql://127.0.0.1:5432/test
is used only to create and drop it), migrates it, and loads one connected merchant with two
stores and BENCH_ORDERS (default 1 000 000) paid, fully redeemed orders whose 核销 D+3 date has
passed: orders, their overview facts, ledger orders with their fees, and the payment
transactions (clearing -> in transit), all with set-based SQL. Then it times
`ledger.service.settle_batch` in committed batches of BENCH_BATCH (default: the settlement job's
SETTLE_BATCH, 5 000) until
nothing is due, exactly as the settlement job runs it (each batch: one conditional update of
the ledger orders, one journal transaction per store, a `ledger.settle_create` outbox row per
order, the `orders_settled` signal). It then times, apart, the overview job that each batch
queues (settled cash on the orders' facts and the daily figures). Finally it checks the books,
the overview's totals and that a second run settles nothing. BENCH_KEEP=1 keeps the database.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

ORDERS = int(os.environ.get("BENCH_ORDERS", "1000000"))
BATCH = int(os.environ.get("BENCH_BATCH", "0"))  # 0: the settlement job's own batch size
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _load(db, org_id, store_ids):
    conn = db.session.connection()
    params = {"org": org_id, "s1": store_ids[0], "s2": store_ids[1], "n": ORDERS, "now": NOW.replace(tzinfo=None)}
    conn.execute(text("""
        INSERT INTO orders (id, organization_id, store_id, douyin_order_id, out_order_no, status, fulfilment, total_fen, discount_fen,
                            paid_fen, paid_at, buyer_phone, buyer_open_id, source, channel, tracking_code, douyin_poi_id, shipping_status, completed_at, created_at)
        SELECT g, :org, CASE WHEN g % 2 = 0 THEN :s1 ELSE :s2 END, 'bench' || g, 'B' || g, 'completed', 'in_store', 1990 + (g % 5) * 2000, 0,
               1990 + (g % 5) * 2000, :now - interval '10 days', '', '', CASE WHEN g % 4 = 0 THEN 'ad' ELSE 'normal' END, 'other', '', '', '',
               :now - interval '5 days', :now - interval '10 days'
        FROM generate_series(1, :n) g"""), params)
    conn.execute(text("SELECT setval(pg_get_serial_sequence('orders', 'id'), :n)"), params)
    conn.execute(text("""
        INSERT INTO ledger_orders (order_id, organization_id, store_id, scope, status, source, paid_fen, fee_category, tech_fee_rate, promo_applied,
                                   tech_fee_fen, channel_fee_fen, net_fen, paid_at, completed_at, due_at, withdrawn_fen,
                                   douyin_settle_status, douyin_settle_id, douyin_settle_note)
        SELECT o.id, o.organization_id, o.store_id, o.store_id, 'in_transit', o.source, o.paid_fen, '美食', '0.025', false,
               round(o.paid_fen * 0.025), round(o.paid_fen * 0.006), o.paid_fen - round(o.paid_fen * 0.025) - round(o.paid_fen * 0.006),
               o.paid_at, o.completed_at, o.completed_at + interval '3 days', 0, '', '', ''
        FROM orders o WHERE o.organization_id = :org"""), params)
    conn.execute(text("""
        INSERT INTO insight_order_facts (order_id, organization_id, store_id, status, channel, tracking_code, paid_at, gmv_fen, paid_fen,
                                         vouchers, open_vouchers, refunds_fen, settled_net_fen, settled_fees_fen)
        SELECT id, organization_id, store_id, status, 'other', '', paid_at, total_fen, paid_fen, 1, 0, 0, 0, 0
        FROM orders WHERE organization_id = :org"""), params)
    conn.execute(text("""
        INSERT INTO ledger_transactions (organization_id, kind, reference, order_id, memo, posted_at)
        SELECT organization_id, 'payment', 'order:' || order_id, order_id, '', paid_at FROM ledger_orders WHERE organization_id = :org"""), params)
    for code, sign in (("douyin_clearing", -1), ("in_transit", 1)):
        conn.execute(text(f"""
            INSERT INTO ledger_postings (transaction_id, account_id, organization_id, store_id, amount_fen)
            SELECT t.id, a.id, lo.organization_id, lo.store_id, {sign} * lo.paid_fen
            FROM ledger_orders lo JOIN ledger_transactions t ON t.kind = 'payment' AND t.reference = 'order:' || lo.order_id
            JOIN ledger_accounts a ON a.organization_id = lo.organization_id AND a.scope = lo.scope AND a.code = '{code}'
            WHERE lo.organization_id = :org"""), params)
    conn.execute(text("""
        UPDATE ledger_accounts a SET balance_fen = s.total FROM (
            SELECT account_id, sum(amount_fen) AS total FROM ledger_postings GROUP BY account_id) s WHERE a.id = s.account_id"""))
    conn.execute(text("ANALYZE"))


def main() -> None:
    base = make_url(PG_URL)
    name = f"portal_bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    try:
        _run(url)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(url: str) -> None:
    from flask_migrate import upgrade

    from portal import clock, create_app
    from portal.accounts import service as accounts
    from portal import jobs
    from portal.extensions import db
    from portal.insights.models import DailyFigure
    from portal.jobs import default as default_jobs
    from portal.ledger import service
    from portal.ledger.models import LedgerOrder, LedgerTransaction
    from portal.onboarding import connection
    from portal.outbox import OutboxMessage

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": "/tmp/bench_ledger_instance", "SECRET_KEY": "bench",
                      "RQ_INPROCESS_WORKER": False, "DOUYIN_API_BASE": "http://douyin.invalid"})
    clock.freeze(NOW)
    jobs.bind_app(app)
    with app.app_context():
        upgrade()
        org = accounts.create_organization("压测商户")
        stores = [accounts.create_store(org, "门店A"), accounts.create_store(org, "门店B")]
        douyin_app = connection.get_or_create_app(org.id)
        douyin_app.app_id = "ttbench"
        for store in stores:
            for code in ("douyin_clearing", "in_transit"):
                service.get_account(org.id, store.id, code, store.id)
        db.session.commit()
        t0 = time.perf_counter()
        _load(db, org.id, [s.id for s in stores])
        db.session.commit()
        print(f"loaded {ORDERS:,} due orders in {time.perf_counter() - t0:.1f} s")

        from portal.jobs.ledger import SETTLE_BATCH

        batch_size = BATCH or SETTLE_BATCH
        t0 = time.perf_counter()
        settled = batches = 0
        while True:
            n = service.settle_batch(now=clock.now(), limit=batch_size)
            db.session.commit()
            settled += n
            batches += 1
            if n < batch_size:
                break
        elapsed = time.perf_counter() - t0
        print(f"settled {settled:,} orders in {batches} batches of {batch_size:,}: {elapsed:.1f} s ({settled / elapsed:,.0f} orders/s)")

        batch_ids = db.session.scalars(select(LedgerOrder.settle_batch).distinct()).all()
        t0 = time.perf_counter()
        for batch in batch_ids:
            default_jobs.run_insights_settled(org.id, batch)
        elapsed = time.perf_counter() - t0
        print(f"overview jobs of the {len(batch_ids)} batches: {elapsed:.1f} s ({settled / elapsed:,.0f} orders/s)")
        figures = db.session.execute(select(func.sum(DailyFigure.settled_orders), func.sum(DailyFigure.settled_net_fen))
                                     .where(DailyFigure.organization_id == org.id)).one()

        t0 = time.perf_counter()
        again = service.settle_batch(now=clock.now(), limit=batch_size)
        db.session.commit()
        print(f"second run settled {again} orders in {time.perf_counter() - t0:.2f} s")
        problems = service.check_books(org.id)
        settlements = db.session.scalar(select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "settlement"))
        outbox_rows = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "ledger.settle_create"))
        left = db.session.scalar(select(func.count()).select_from(LedgerOrder).where(LedgerOrder.status == "in_transit"))
        balances = service.balances(org.id)
        print(f"settlement transactions {settlements:,}, settle_create outbox rows {outbox_rows:,}, still in transit {left}")
        print(f"in transit {balances['in_transit']}, available {balances['available']}, fees {balances['fees']}; books: {'balanced' if not problems else problems[:5]}")
        print(f"overview: {figures[0]:,} settled orders, {figures[1]} fen settled ({'matches' if figures[1] == balances['available'] else 'DIFFERS from'} available)")


if __name__ == "__main__":
    main()
