"""The counter's redeem under 16 concurrent connections on gunicorn, next to a bare Flask endpoint.

    .venv/bin/python -m bench.counter_redeem [--requests 2000] [--concurrency 16] [--workers 4] [--threads 4] [--rate 30]

Starts gunicorn servers on free ports in this run, one at a time: the portal (PostgreSQL and Redis when they answer on
127.0.0.1:5432 — a throw-away database, dropped after — else a SQLite file) and a bare Flask app
with one endpoint. A clerk session redeems a distinct, paid voucher per request (POST
/counter/redeem with CSRF on: the real view, service, conditional UPDATE, attempt log, outbox row,
signals, commit). Prints requests/s, p50/p99 latency and server CPU per request (user+system time
of the gunicorn processes, from /proc) for both. Figures only, nothing asserted; the target is p99
under 60 ms and at least a third of the bare endpoint's throughput.

The 16 connections send back to back, so the servers run flat out and latency is mostly the wait
for a core (the load generator shares them). The redeem is also timed at a set pace, open loop
(`--rate`, 30 requests/s unless given; 0 skips it): those p50/p99 are a busy counter's, not a
saturated machine's.

For reference it also times a floor (`floor_app`): the least a confirm could do through the
portal's stack (sign-in, CSRF, the two fields, the conditional UPDATE, the commit). The distance from
it to the counter is what the domains' work costs; from it to the bare endpoint, the stack's.

Last, for each server, the least mean latency its measured CPU allows at that many connections on
this machine's cores (Little's law, the load generator left out): no p99 can be under it.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")


def bare_app():
    """The baseline: Flask and nothing else."""
    from flask import Flask

    app = Flask("bare")

    @app.post("/bare")
    def bare():
        return "ok"

    return app


def portal_app(counter_only: bool = False):
    """The portal as gunicorn builds it (settings from BENCH_* environment variables).

    `counter_only` detaches the other domains' receivers of the counter's signals (ledger,
    insights…), to show what the counter's own path costs next to the whole transaction."""
    from portal import create_app, signals

    app = create_app(_config())
    if counter_only:
        import weakref

        for event in (signals.voucher_redeemed, signals.order_completed):
            for ref in list(event.receivers.values()):
                receiver = ref() if isinstance(ref, weakref.ref) else ref
                if receiver is not None:
                    event.disconnect(receiver)
    return app


def floor_app():
    """The least a confirm could do through the portal's stack, for reference: sign-in, CSRF and
    the counter's two fields (read as the confirm reads them), the conditional UPDATE of the voucher, the commit and a one-line answer.
    No attempt log, rules, outbox, audit, order or ledger: what the domains' work costs is the
    distance between this and the real confirm."""
    from flask import abort, request
    from flask_login import login_required
    from sqlalchemy import update

    from portal import clock
    from portal.extensions import db
    from portal.orders.models import Voucher
    from portal.redemption.forms import redeem_fields

    app = portal_app()
    answer = app.jinja_env.from_string('<div class="redemption-success">{{ code }}</div>')

    @app.post("/bench/floor")
    @login_required
    def floor():
        fields = redeem_fields(request.form)  # the confirm's own reading of its two fields
        if fields is None:
            abort(422)
        code, _nonce = fields
        claimed = db.session.execute(
            update(Voucher).where(Voucher.code == code, Voucher.status == "unused").values(status="redeemed", redeemed_at=clock.now())
        ).rowcount
        db.session.commit()
        return answer.render(code=code) if claimed else abort(409)

    return app


def _config() -> dict:
    from portal.config import ENGINE_OPTIONS

    return {
        "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
        "INSTANCE_PATH": os.environ["BENCH_INSTANCE"],
        "SECRET_KEY": os.environ["BENCH_SECRET"],
        "SECRETS_FERNET_KEY": os.environ["BENCH_FERNET"],
        # As deployed (README, Production): jobs go to Redis when it answers; an in-memory Redis
        # per gunicorn worker otherwise (its jobs then never run, but enqueueing still costs).
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL") or None,
        "RQ_QUEUE_PREFIX": os.environ.get("BENCH_QUEUE_PREFIX", ""),
        "RQ_INPROCESS_WORKER": False,
        # The deployed engine options (a pre-ping per checkout), with a pool for 4 threads.
        "SQLALCHEMY_ENGINE_OPTIONS": {**ENGINE_OPTIONS, "pool_size": 8, "max_overflow": 8} if os.environ["BENCH_DATABASE_URL"].startswith("postgresql") else dict(ENGINE_OPTIONS),
    }


def _redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url
    except Exception:
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database(workdir: Path) -> tuple[str, callable]:
    try:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=2) as conn:
            name = f"portal_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop():
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        base = PG_URL.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}", drop
    except Exception:
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None


def _seed(n: int) -> dict:
    """A merchant, a clerk, a product and n paid orders (one voucher each), through the services."""
    from flask_migrate import upgrade

    from portal import clock
    from portal.accounts import service as accounts
    from portal.accounts.models import Role
    from portal.catalog.models import Product
    from portal.extensions import db
    from portal.orders import service as orders

    app = portal_app()
    with app.app_context(), app.test_request_context():
        upgrade()
        org = accounts.create_organization("压测商户")
        store = accounts.create_store(org, "压测门店")
        clerk = accounts.create_user("clerk@bench.test", None, name="张三")
        accounts.add_membership(clerk, org, Role.CLERK, store)
        now = clock.now()
        product = Product(organization_id=org.id, kind="groupon", name="双人套餐", original_price_fen=12800, price_fen=9900, out_id="bench-1",
                          review_status="approved", local_online=True, douyin_online=True, created_at=now, updated_at=now)
        product.stores = [store]
        db.session.add(product)
        db.session.flush()
        codes = []
        for i in range(n):
            # As in production: the mini-program's pre-order, Douyin's payment message, order_query's
            # item orders. Distinct buyers: the per-phone rule must not hold the benchmark's redemptions.
            pre = orders.place_order(org.id, sku_id="bench-1", poi_id="", quantity=1, open_id=f"o{i}", phone=f"139{i:08d}", now=now)
            douyin_order_id = f"ot{i:019d}"
            orders.confirm_payment(org.id, {"out_order_no": pre.out_order_no, "order_id": douyin_order_id, "status": "SUCCESS", "total_amount": 9900,
                                            "discount_amount": 0, "event_time": int(now.timestamp() * 1000)}, now=now)
            order = orders.apply_order_query(org.id, {"order_id": douyin_order_id}, {
                "order_id": douyin_order_id, "out_order_no": pre.out_order_no, "pay_status": "SUCCESS", "total_amount": 9900, "discount_amount": 0,
                "pay_time": int(now.timestamp() * 1000), "item_order_list": [{"item_order_id": f"{i:019d}00", "sku_id": "bench-1", "item_order_amount": 9900}],
            }, now=now)
            codes.append(order.vouchers[0].code)
            if i % 500 == 0:
                db.session.commit()
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # fresh tables: the statistics autovacuum would gather in service
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        sid = accounts.start_session(clerk, now=now)  # the user loader wants a live server-side session
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = clerk.get_id()
            session["sid"] = sid
            session["_fresh"] = True
            session["csrf_token"] = raw = secrets.token_hex(20)
        from itsdangerous import URLSafeTimedSerializer

        token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
        return {"codes": codes, "cookie": cookie, "csrf": token, "store_id": store.id, "organization_id": org.id}


def _process(pid) -> tuple[str, float]:
    """A process's name and its user + system CPU seconds, from /proc (OSError once it is gone)."""
    head, _, rest = Path(f"/proc/{pid}/stat").read_text().rpartition(")")
    fields = rest.split()  # from the state on: utime and stime are the 12th and 13th
    return head.partition("(")[2], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system time of a process and its children still alive (the gunicorn workers)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            total += _process(p)[1]
        except OSError:
            pass
    return total


def _services_cpu_seconds() -> dict[str, float]:
    """User + system time of the PostgreSQL and Redis processes on this machine (every backend,
    by process name), and of this process: the load generator."""
    totals = {"postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, seconds = _process(entry.name)
        except OSError:
            continue
        kind = "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis-server") else None
        if kind:
            totals[kind] += seconds
    usage = os.times()
    totals["load"] = usage.user + usage.system
    return totals


def _measure(server_pid: int, run) -> dict:
    """Run `run()` (a load) and add the CPU it cost per request: the server's, PostgreSQL's,
    Redis's and the load generator's."""
    server0, services0 = _cpu_seconds(server_pid), _services_cpu_seconds()
    result = run()
    server1, services1 = _cpu_seconds(server_pid), _services_cpu_seconds()
    per = 1000 / result["n"]
    result["cpu"] = (server1 - server0) * per
    for kind in services0:
        result[f"cpu_{kind}"] = (services1[kind] - services0[kind]) * per
    result["cpu_all"] = result["cpu"] + sum(result[f"cpu_{kind}"] for kind in services0)
    return result


def _serve(target: str, port: int, workers: int, threads: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "gthread",
           "--threads", str(threads), "--log-level", "warning", "--keep-alive", "30", target]
    process = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            time.sleep(1.0)  # let every worker boot
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start for {target}")


def _load(url: str, bodies: list[dict] | None, n: int, concurrency: int, cookie: str | None, expect: str, headers: dict | None = None,
          rate: float | None = None) -> dict:
    """Closed loop: each connection sends its next request when the last is answered. With
    `rate`, open loop instead: request i is due at i / rate seconds, and its latency runs from
    then (a request held up behind a slow one counts its wait)."""
    import requests

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    counter = iter(range(n))
    begin = time.perf_counter() + 0.2

    def worker():
        session = requests.Session()
        session.headers.update(headers or {})
        if cookie:
            # Sent as a header, the server's cookies refused: the portal's session cookie is
            # `Secure`, so a jar would keep the answer's cookie in place of this one and never
            # send it over this plain-HTTP loopback.
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            session.headers["Cookie"] = f"portal_session={cookie}"
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            data = bodies[i] if bodies else {}
            start = time.perf_counter()
            if rate:
                start = begin + i / rate
                time.sleep(max(0.0, start - time.perf_counter()))
            response = session.post(url, data=data)
            elapsed = time.perf_counter() - start
            ok = response.status_code == 200 and expect in response.text
            with lock:
                latencies.append(elapsed)
                failures[0] += 0 if ok else 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "n": len(latencies),
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": failures[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=30, help="also the whole redeem at this many requests/s, open loop (p50/p99 at a set load); 0: skip")
    args = parser.parse_args()
    from cryptography.fernet import Fernet

    with tempfile.TemporaryDirectory(prefix="bench-counter-") as tmp:
        workdir = Path(tmp)
        url, drop = _database(workdir)
        env = dict(os.environ, BENCH_DATABASE_URL=url, BENCH_INSTANCE=str(workdir / "instance"), BENCH_SECRET=secrets.token_hex(16),
                   BENCH_FERNET=Fernet.generate_key().decode(), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        redis_url = _redis_url()
        if redis_url:
            env.update(BENCH_REDIS_URL=redis_url, BENCH_QUEUE_PREFIX=f"bench{secrets.token_hex(4)}-")
        os.environ.update({k: env[k] for k in env if k.startswith("BENCH_")})
        warmup = 100
        servers = []
        try:
            paced = int(args.rate * 20) if args.rate else 0  # 20 s at the set rate
            print(f"database: {url.split('@')[-1].split('?')[0]}; queue: {'Redis' if redis_url else 'in-memory'}; seeding {3 * (args.requests + warmup) + paced} paid vouchers…", flush=True)
            seed = _seed(3 * (args.requests + warmup) + paced)
            codes = iter(seed["codes"])
            runs = (
                ("POST /counter/redeem (whole txn)", "bench.counter_redeem:portal_app()", "/counter/redeem", "redemption-success"),
                ("  same, counter's path only", "bench.counter_redeem:portal_app(counter_only=True)", "/counter/redeem", "redemption-success"),
                ("  floor: sign-in, fields, one UPDATE", "bench.counter_redeem:floor_app()", "/bench/floor", "redemption-success"),
                ("POST /bare (bare Flask)", "bench.counter_redeem:bare_app()", "/bare", "ok"),
            )
            results = []
            for label, target, path, expect in runs:
                port = _free_port()
                server = _serve(target, port, args.workers, args.threads, env)
                servers.append(server)
                url_ = f"http://127.0.0.1:{port}{path}"
                portal = path != "/bare"
                n = args.requests if portal else args.requests * 3

                def bodies(count):
                    if not portal:
                        return None
                    return [{"code": next(codes), "nonce": uuid.uuid4().hex, "store_id": seed["store_id"], "csrf_token": seed["csrf"]} for _ in range(count)]

                # The counter page swaps the result panel with htmx: the partial, as a phone gets it.
                headers = {"HX-Request": "true"} if portal else None
                cookie = seed["cookie"] if portal else None
                _load(url_, bodies(warmup), warmup, args.concurrency, cookie, expect, headers)
                work = bodies(n)
                result = _measure(server.pid, lambda: _load(url_, work, n, args.concurrency, cookie, expect, headers))
                results.append((label, result))
                if paced and target.endswith("portal_app()"):
                    work = bodies(paced)
                    at_rate = _measure(server.pid, lambda: _load(url_, work, paced, args.concurrency, cookie, expect, headers, rate=args.rate))
                    rated = (f"  same, open loop at {args.rate:g}/s", at_rate)
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=15)

            print(f"gunicorn gthread, {args.workers} workers x {args.threads} threads, {args.concurrency} concurrent connections, {os.cpu_count()} CPUs")
            rows = results[:1] + ([rated] if paced else []) + results[1:]
            for label, r in rows:
                print(f"  {label:<34} {r['n']:>6} req  {r['rps']:8.1f} req/s  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
                      f"CPU {r['cpu']:5.2f} ms/req  failures {r['failures']}")
            # Where the machine's cores go per request: the throughputs' ratio can be no better
            # than the inverse ratio of these totals while the cores are saturated.
            print("CPU per request, ms: server + PostgreSQL + Redis + load generator = whole machine")
            for label, r in rows:
                print(f"  {label:<34} {r['cpu']:6.2f} + {r['cpu_postgres']:5.2f} + {r['cpu_redis']:5.2f} + {r['cpu_load']:5.2f} = {r['cpu_all']:6.2f}")
            full, alone, floor, plain = (r for _, r in results)
            print(f"redeem throughput / bare: whole {full['rps'] / plain['rps']:.2f}, counter path {alone['rps'] / plain['rps']:.2f} (target ≥ 0.33), "
                  f"floor {floor['rps'] / plain['rps']:.2f}; p99 whole {full['p99']:.1f} ms, counter path {alone['p99']:.1f} ms (target < 60 ms), "
                  f"floor {floor['p99']:.1f} ms")
            # Little's law: with every connection always waiting on an answer, the mean latency is
            # connections / throughput, and the cores cap the throughput at cores / CPU per request.
            # Counted without the load generator, as if it ran on another machine: the least mean
            # latency, so the least p99, these requests could have on this machine's cores.
            cores = os.cpu_count()
            print(f"least mean latency at {args.concurrency} connections on {cores} CPUs (server + PostgreSQL + Redis CPU, Little's law; target p99 < 60 ms):")
            for label, r in results:
                least = args.concurrency * (r["cpu_all"] - r["cpu_load"]) / cores
                print(f"  {label:<34} {least:7.1f} ms")
        finally:
            for server in servers:
                if server.poll() is None:
                    server.send_signal(signal.SIGTERM)
                    try:
                        server.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        server.kill()
            drop()
            if redis_url:  # the benchmark's queued jobs, never meant to run
                import redis

                from portal.queue import remove_prefix

                remove_prefix(redis.Redis.from_url(redis_url), env["BENCH_QUEUE_PREFIX"])


if __name__ == "__main__":
    main()
