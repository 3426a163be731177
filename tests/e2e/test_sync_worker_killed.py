"""刷新列表 survives its worker dying: a real `flask worker` process (RQ on Redis) is killed with
SIGKILL half-way through a run against the live sandbox, a new worker resumes the run, and the
library ends in the state Douyin holds, each change recorded once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, insert, select

from tests.e2e.conftest import connect_merchant
from tests.fixtures.app import REDIS_TEST_URL, _redis_answers, wait_until
from tests.fixtures.processes import kill_tree

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = 400  # 8 pages of 50
PRODUCT_ID_BASE = 7_300_000_000_000_000_000


def _seed(app, sandbox_url: str, org_id: int, account_id: str, poi_id: str) -> dict[str, tuple[int, bool]]:
    """The same 400 products on both sides; Douyin repriced every 10th and took every 20th
    (from the 5th) offline. Returns what each product must end as: (price, online on Douyin)."""
    from portal import clock
    from portal.catalog.models import Product, ReviewStatus, product_stores
    from portal.extensions import db
    from sandbox.models import Product as DouyinProduct

    now_ms = int(time.time() * 1000)
    expected, douyin_rows, local_rows = {}, [], []
    for i in range(PRODUCTS):
        product_id = str(PRODUCT_ID_BASE + i)
        price = 9900 - (100 if i % 10 == 0 else 0)
        online = i % 20 != 5
        expected[product_id] = (price, online)
        version = {
            "product": {"product_id": product_id, "out_id": f"kill{i:04d}", "product_name": f"续跑套餐{i:03d}", "product_type": 1,
                        "biz_line": 1, "category_id": 1001000, "pois": [{"poi_id": poi_id}]},
            "sku": {"sku_id": str(PRODUCT_ID_BASE + 500_000 + i), "sku_name": f"续跑套餐{i:03d}", "status": 1, "actual_amount": price,
                    "origin_amount": 12800, "stock": {"limit_type": 1, "stock_qty": 100}},
        }
        douyin_rows.append({"product_id": product_id, "account_id": account_id, "out_id": f"kill{i:04d}", "draft": version,
                            "online": version, "draft_status": 1, "audit_msg": "", "online_status": int(online),
                            "submitted_ms": now_ms, "decided_ms": now_ms, "update_ms": now_ms})
        local_rows.append({
            "organization_id": org_id, "kind": "groupon", "name": f"续跑套餐{i:03d}", "description": "", "category_id": "1001000",
            "category_name": "美食 / 火锅", "original_price_fen": 12800, "price_fen": 9900, "stock": 100, "uses": 1, "valid_days": 90,
            "usage_rules": "", "out_id": f"kill{i:04d}", "douyin_product_id": product_id, "review_status": ReviewStatus.APPROVED,
            "review_reason": "", "local_online": True, "douyin_online": True, "paused_reason": "", "images": [],
            "created_at": clock.now(), "updated_at": clock.now(), "submitted_at": clock.now(),
            # As if we had submitted this version: Douyin's later edits are changes, not conflicts.
            "submitted_version": {"name": f"续跑套餐{i:03d}", "original_price_fen": 12800, "price_fen": 9900, "stock": 100,
                                  "category_id": "1001000", "poi_ids": [poi_id], "sold_start": None, "sold_end": None},
        })
    engine = create_engine(sandbox_url)
    with engine.begin() as conn:
        conn.execute(insert(DouyinProduct), douyin_rows)
    engine.dispose()
    with app.app_context():
        db.session.execute(insert(Product), local_rows)
        ids = db.session.scalars(select(Product.id).where(Product.organization_id == org_id)).all()
        store_id = _store_id(org_id)
        db.session.execute(insert(product_stores), [{"product_id": pid, "store_id": store_id} for pid in ids])
        db.session.commit()
    return expected


def _store_id(org_id: int) -> int:
    from portal.accounts.models import Store
    from portal.extensions import db

    return db.session.scalar(select(Store.id).where(Store.organization_id == org_id))


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    """`flask worker` as deployed, in its own process group (RQ forks a work horse per job)."""
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_worker_killed_mid_run_is_resumed_and_ends_in_douyins_state(tmp_path, live_sandbox):
    if not _redis_answers():
        pytest.fail(f"Redis is not answering at {REDIS_TEST_URL}: this test needs a real worker process (make test starts none; .ci/run does)")
    from flask_migrate import upgrade

    from portal import clock, create_app
    from portal.accounts import service as accounts
    from portal.catalog.models import Product, SyncChange, SyncRun, SyncStatus
    from portal.catalog import sync
    from portal.extensions import db

    tag = uuid.uuid4().hex[:8]
    prefix = f"killtest-{tag}:"
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "kill-test",
        "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": REDIS_TEST_URL,
        "RQ_QUEUE_PREFIX": prefix,
        "RQ_INPROCESS_WORKER": False,
        "DOUYIN_API_BASE": live_sandbox.url,
    }
    # The operator's third-party platform is the sandbox's; with no portal server to push to, the
    # ticket a push would deliver is stored directly.
    component = live_sandbox.control.get("/component")
    config.update({"COMPONENT_APPID": component["component_appid"], "COMPONENT_APPSECRET": component["component_appsecret"],
                   "COMPONENT_PUSH_TOKEN": component["push_token"], "COMPONENT_ENCODING_AES_KEY": component["encoding_aes_key"]})
    app = create_app(config)
    with app.app_context():
        upgrade()
        from portal.onboarding import authorization

        authorization.store_ticket(live_sandbox.control.post("/component/push_ticket")["ticket"], now=clock.now())
        org = accounts.create_organization("续跑测试商户")
        accounts.create_store(org, "续跑门店")
        db.session.commit()
    connected = connect_merchant(SimpleNamespace(app=app, url="http://127.0.0.1:9"), live_sandbox, "续跑测试商户")
    org_id = connected["organization_id"]
    expected = _seed(app, live_sandbox.app.config["SANDBOX_DATABASE_URL"], org_id, connected["account_id"], connected["poi_ids"][0])
    env = dict(os.environ, FLASK_APP="wsgi.py", DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=REDIS_TEST_URL,
               RQ_QUEUE_PREFIX=prefix, RQ_INPROCESS_WORKER="0", SECRET_KEY="kill-test", SECRETS_FERNET_KEY=config["SECRETS_FERNET_KEY"],
               DOUYIN_API_BASE=live_sandbox.url, PORTAL_INSTANCE_PATH=config["INSTANCE_PATH"])
    env.pop("FLASK_RUN_FROM_CLI", None)
    log = tmp_path / "worker.log"

    def progress() -> tuple[int, str]:
        """(pages, status) read as a page poll would, without queueing for the worker's write lock."""
        with sqlite3.connect(tmp_path / "portal.db", timeout=30) as conn:
            return conn.execute("SELECT pages, status FROM sync_runs WHERE id = ?", (run_id,)).fetchone()

    def run_row() -> SyncRun:
        with app.app_context():
            run = db.session.get(SyncRun, run_id)
            db.session.expunge(run)
            return run

    def douyin_state() -> dict[str, tuple[int, bool]]:
        with app.app_context():
            return {p.douyin_product_id: (p.price_fen, p.douyin_online)
                    for p in db.session.scalars(select(Product).where(Product.organization_id == org_id))}

    live_sandbox.control.post("", {"latency_ms": 150})  # slow enough to die between pages
    workers = [_start_worker(env, log)]
    try:
        with app.app_context():
            run, started = sync.start_sync_run(org_id, actor=None)
            db.session.commit()
            run_id = run.id
        assert started
        assert wait_until(lambda: progress()[0] >= 2, timeout=60), f"the worker never got going: {log.read_text()[-2000:]}"
        kill_tree(workers[0])

        killed = run_row()
        total_pages = PRODUCTS // 50
        assert killed.status == SyncStatus.RUNNING and 2 <= killed.pages < total_pages
        half_way = douyin_state()
        assert half_way != expected  # later pages never reached the library
        applied = sum(1 for pid, state in half_way.items() if state == expected[pid] and state != (9900, True))
        assert 0 < applied

        live_sandbox.control.post("", {"latency_ms": 0})
        workers.append(_start_worker(env, log))
        with app.app_context():  # the periodic sweep, a few minutes on: the dead worker's run is stale
            assert sync.resume_stale_runs(now=clock.now() + timedelta(minutes=5)) == [run_id]
            db.session.commit()
        assert wait_until(lambda: progress()[1] not in ("queued", "running"), timeout=60), f"the run was not resumed: {log.read_text()[-2000:]}"

        done = run_row()
        assert done.status == SyncStatus.SUCCEEDED and done.seen == PRODUCTS and done.attempts == 2
        assert douyin_state() == expected
        changed = {pid for pid, state in expected.items() if state != (9900, True)}
        with app.app_context():
            per_product = db.session.execute(
                select(SyncChange.product_id, func.count()).where(SyncChange.run_id == run_id).group_by(SyncChange.product_id)
            ).all()
        assert all(n == 1 for _pid, n in per_product)  # the page redone after the kill recorded nothing twice
        assert len(per_product) == done.changed == len(changed)
    finally:
        for worker in workers:
            kill_tree(worker)
        live_sandbox.control.post("", {"latency_ms": 0})
        with app.app_context():
            from portal.extensions import queue
            from portal.queue import remove_prefix

            remove_prefix(queue.connection(), f"killtest-{tag}")
