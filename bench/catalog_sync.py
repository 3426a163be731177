"""刷新列表 of 10 000 products against the sandbox (latency off): wall time and worker memory.

    .venv/bin/python -m bench.catalog_sync [--products 10000]

The sandbox runs in its own process on a port picked here; the sync runs in a separate worker
process (`--worker`) so its peak RSS is the worker's alone. Two runs are made: the first applies
Douyin's changes (10 % repriced, 5 % offline), the second is a rerun that must change nothing.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_sandbox(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    port = _free_port()
    db_url = f"sqlite:///{workdir / 'sandbox.db'}"
    env = dict(os.environ, SANDBOX_DATABASE_URL=db_url, SANDBOX_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/sandbox/control", timeout=0.5)
            return proc, base, db_url
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("sandbox did not start")


def _seed_sandbox(base: str, db_url: str, n: int) -> dict:
    requests.post(base + "/sandbox/control", json={"latency_ms": 0, "error_rate": 0}, timeout=10).raise_for_status()
    account = requests.post(base + "/sandbox/control/accounts", json={"account_name": "压测商户"}, timeout=10).json()
    poi = requests.post(base + "/sandbox/control/pois", json={"account_id": account["account_id"], "poi_name": "压测门店"}, timeout=10).json()
    app = requests.post(base + "/sandbox/control/apps", json={"name": "压测小程序", "account_id": account["account_id"]}, timeout=10).json()
    from sqlalchemy import create_engine, insert

    from sandbox.models import Product

    now_ms = int(time.time() * 1000)
    rows = []
    for i in range(n):
        price = 9900 - (100 if i % 10 == 0 else 0)  # 10 % repriced on Douyin
        version = {
            "product": {"product_id": f"{7_100_000_000_000_000_000 + i}", "out_id": f"bench{i:06d}", "product_name": f"压测套餐{i:05d}",
                        "product_type": 1, "category_id": "1001000", "pois": [{"poi_id": poi["poi_id"]}]},
            "sku": {"sku_id": f"{7_200_000_000_000_000_000 + i}", "actual_amount": price, "origin_amount": 12800,
                    "stock": {"limit_type": 1, "stock_qty": 100}},
        }
        rows.append({"product_id": version["product"]["product_id"], "account_id": account["account_id"], "out_id": f"bench{i:06d}",
                     "draft": version, "online": version, "draft_status": 1, "audit_msg": "",
                     "online_status": 0 if i % 20 == 5 else 1, "submitted_ms": now_ms, "decided_ms": now_ms, "update_ms": now_ms})
    engine = create_engine(db_url)
    with engine.begin() as conn:
        for start in range(0, n, 2000):
            conn.execute(insert(Product), rows[start:start + 2000])
    engine.dispose()
    return {"account_id": account["account_id"], "poi_id": poi["poi_id"], "appid": app["appid"], "app_secret": app["app_secret"]}


def _portal_config(workdir: Path, base: str) -> dict:
    from cryptography.fernet import Fernet

    key_file = workdir / "fernet"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'portal.db'}",
        "INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": "bench",
        "SECRETS_FERNET_KEY": key_file.read_text(),
        "REDIS_URL": None,
        "DOUYIN_API_BASE": base,
        "RQ_INPROCESS_WORKER": False,
        "CATALOG_SYNC_QPS": 50,
    }


def _seed_portal(config: dict, sandbox: dict, n: int) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from portal import clock, create_app, vault
    from portal.accounts import service as accounts
    from portal.catalog.models import Product, ReviewStatus, product_stores
    from portal.extensions import db
    from portal.onboarding import connection

    app = create_app(config)
    with app.app_context():
        upgrade()
        org = accounts.create_organization("压测商户")
        store = accounts.create_store(org, "压测门店")
        store.douyin_poi_id = sandbox["poi_id"]
        store.douyin_account_id = sandbox["account_id"]
        douyin = connection.get_or_create_app(org.id)
        douyin.enabled = True
        douyin.app_id = sandbox["appid"]
        douyin.laike_account_id = sandbox["account_id"]
        douyin.app_secret_enc = vault.encrypt(sandbox["app_secret"])
        db.session.flush()
        now = clock.now()
        rows = [
            {"organization_id": org.id, "kind": "groupon", "name": f"压测套餐{i:05d}", "description": "", "category_id": "1001000",
             "category_name": "美食 / 火锅", "original_price_fen": 12800, "price_fen": 9900, "stock": 100, "uses": 1, "valid_days": 90,
             "usage_rules": "", "out_id": f"bench{i:06d}", "douyin_product_id": f"{7_100_000_000_000_000_000 + i}",
             "review_status": ReviewStatus.APPROVED, "review_reason": "", "local_online": True, "douyin_online": True, "paused_reason": "",
             "images": [], "created_at": now, "updated_at": now}
            for i in range(n)
        ]
        from portal.catalog.service import content_of

        for row in rows:  # as if we had submitted each one: Douyin's own edits are then not conflicts
            row["submitted_version"] = {"name": row["name"], "original_price_fen": 12800, "price_fen": 9900, "stock": 100,
                                        "category_id": "1001000", "poi_ids": [sandbox["poi_id"]], "sold_start": None, "sold_end": None}
            row["submitted_at"] = now
        assert set(rows[0]["submitted_version"]) == set(content_of(Product(name="", original_price_fen=0, price_fen=0, stock=0)))
        for start in range(0, n, 2000):
            db.session.execute(insert(Product), rows[start:start + 2000])
        ids = db.session.scalars(db.select(Product.id).where(Product.organization_id == org.id)).all()
        db.session.execute(insert(product_stores), [{"product_id": pid, "store_id": store.id} for pid in ids])
        db.session.commit()
        return org.id


def _worker(config_json: str, organization_id: int) -> None:
    """Start one run and do it here, like the RQ job does; print wall time and peak RSS."""
    config = json.loads(config_json)
    from portal import create_app, jobs
    from portal.catalog import sync
    from portal.extensions import db
    from portal.jobs.sync import run_catalog_sync

    app = create_app(config)
    jobs.bind_app(app)
    with app.app_context():
        run, _ = sync.start_sync_run(organization_id, actor=None)
        db.session.commit()
        run_id = run.id
    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        status = profiler.runcall(run_catalog_sync, run_id)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    else:
        status = run_catalog_sync(run_id)
    elapsed = time.perf_counter() - started
    with app.app_context():
        run = db.session.get(sync.SyncRun, run_id)
        figures = {"status": status, "seconds": round(elapsed, 2), "pages": run.pages, "seen": run.seen, "changed": run.changed,
                   "conflicts": run.conflicts, "errors": run.errors,
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG_JSON", "ORG_ID"))
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        workdir = Path(tmp)
        proc, base, db_url = _start_sandbox(workdir)
        try:
            t0 = time.perf_counter()
            sandbox = _seed_sandbox(base, db_url, args.products)
            config = _portal_config(workdir, base)
            org_id = _seed_portal(config, sandbox, args.products)
            print(f"seeded {args.products} products on both sides in {time.perf_counter() - t0:.1f}s (sandbox {base}, latency 0)")
            for label in ("first run", "rerun"):
                out = subprocess.run([sys.executable, "-m", "bench.catalog_sync", "--worker", json.dumps(config), str(org_id)],
                                     cwd=ROOT, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(out.stderr[-3000:])
                    raise SystemExit(f"{label} failed")
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{label}: {figures['status']} in {figures['seconds']} s, worker peak RSS {figures['peak_rss_mb']} MB; "
                      f"pages {figures['pages']}, products {figures['seen']}, changed {figures['changed']}, "
                      f"conflicts {figures['conflicts']}, errors {figures['errors']}")
            print("targets: under 20 s and under 200 MB per run")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
