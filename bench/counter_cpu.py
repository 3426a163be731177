"""CPU per request of the counter's lookup and confirm, next to the floor and a bare endpoint, in one process.

    .venv/bin/python -m bench.counter_cpu [--requests 400] [--profile 300] [--database postgresql sqlite]

No server and no network in between: Flask's test client calls the apps in this process, so
what is measured is the portal's own CPU per request (time.process_time), not the load
generator's or the database server's. The four variants take turns request by request (the
order turned round every other turn), so a busy moment of the machine weighs on all alike:

- bare: Flask and one endpoint (`counter_redeem.bare_app`);
- floor: signed-in POST, CSRF, the counter's form, one conditional UPDATE, commit
  (`counter_redeem.floor_app`: the least a confirm could cost through the portal's stack);
- lookup: POST /counter/lookup of an unused code (the preview card);
- confirm: POST /counter/redeem of a distinct paid voucher (the real view, service and commit).

For each it prints the median ms of CPU, that over the floor's, and the database statements per
request (round trips after the pool's check, counted with `before_cursor_execute`). Then a
profile of `--profile` lookups and confirms: where their CPU goes by package and by step.
PostgreSQL (a throw-away database on 127.0.0.1:5432, dropped after) and SQLite, each when it
answers; Redis on 127.0.0.1:6379 when it answers, else the in-memory queue. Figures only,
nothing asserted; the targets (issue 22): confirm at most 1.5x the floor, lookup 1.2x.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench import counter_redeem

# Where a request's CPU goes, by the file a function lives in (first match wins).
PACKAGES = (
    ("portal", "/portal/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("psycopg", "/psycopg"),
    ("sqlite3", "sqlite3"),
    ("werkzeug", "/werkzeug/"),
    ("flask + extensions", "/flask"),
    ("jinja2 + markupsafe", "/jinja2/"),
    ("jinja2 + markupsafe", "/markupsafe/"),
    ("wtforms", "/wtforms/"),
    ("redis + rq", "/redis/"),
    ("redis + rq", "/rq/"),
    ("babel", "/babel/"),
)
# Steps of a request, by function (cumulative time; a step includes what it calls).
STEPS = (
    ("signed-in user (user loader)", "portal/templating.py", "load_user"),
    ("form + CSRF", "flask_wtf/form.py", "validate_on_submit"),
    ("service: lookup", "portal/redemption/service.py", "lookup"),
    ("service: redeem", "portal/redemption/service.py", "redeem"),
    ("answer rendered", "portal/htmx.py", "render"),
    ("commit (with after-commit jobs)", "sqlalchemy/orm/session.py", "commit"),
    ("  after-commit jobs (Redis push)", "portal/queue.py", "_after_commit"),
)


def _variants(seed: dict, codes) -> dict:
    """Each variant: (path, body for the next request, expected text)."""
    store = seed["store_id"]

    def form(code, **extra):
        return {"code": code, "store_id": store, "csrf_token": seed["csrf"], **extra}

    lookup_codes = iter(seed["lookup_codes"] * 1000)
    return {
        "bare": ("/bare", lambda: None, "ok"),
        "floor": ("/bench/floor", lambda: form(next(codes), nonce=uuid.uuid4().hex), "redemption-success"),
        "lookup": ("/counter/lookup", lambda: form(next(lookup_codes)), "redemption-preview"),
        "confirm": ("/counter/redeem", lambda: form(next(codes), nonce=uuid.uuid4().hex), "redemption-success"),
    }


def _count_statements(engine):
    from sqlalchemy import event

    seen = [0]

    def on_execute(*_):
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    return seen


def run(database: str, requests: int, profile: int) -> None:
    from cryptography.fernet import Fernet

    with tempfile.TemporaryDirectory(prefix="bench-counter-cpu-") as tmp:
        workdir = Path(tmp)
        if database == "postgresql":
            url, drop = counter_redeem._database(workdir)
            if not url.startswith("postgresql"):
                print("PostgreSQL does not answer on 127.0.0.1:5432: skipped")
                return
        else:
            url, drop = f"sqlite:///{workdir / 'bench.db'}", (lambda: None)
        redis_url = counter_redeem._redis_url()
        os.environ.update(BENCH_DATABASE_URL=url, BENCH_INSTANCE=str(workdir / "instance"), BENCH_SECRET=secrets.token_hex(16),
                          BENCH_FERNET=Fernet.generate_key().decode(), BENCH_REDIS_URL=redis_url or "",
                          BENCH_QUEUE_PREFIX=f"benchcpu{secrets.token_hex(4)}-")
        try:
            _measure(database, redis_url, requests, profile)
        finally:
            drop()
            if redis_url:  # the benchmark's queued jobs, never meant to run
                import redis

                from portal.queue import remove_prefix

                remove_prefix(redis.Redis.from_url(redis_url), os.environ["BENCH_QUEUE_PREFIX"])


def _measure(database: str, redis_url: str | None, requests: int, profile: int) -> None:
    warm = 20
    needed = 2 * (requests + warm) + profile
    print(f"\n{database}, queue: {'Redis' if redis_url else 'in-memory'}; seeding {needed + 20} paid vouchers…", flush=True)
    seed = counter_redeem._seed(needed + 20)
    seed["lookup_codes"], codes = seed["codes"][:20], iter(seed["codes"][20:])
    bare = counter_redeem.bare_app().test_client()
    app = counter_redeem.floor_app()
    logging.getLogger("portal.request").setLevel(logging.WARNING)  # a line per request would be measured too
    portal = app.test_client()
    portal.set_cookie(app.config["SESSION_COOKIE_NAME"], seed["cookie"], domain="localhost")
    with app.app_context():
        from portal.extensions import db

        statements = _count_statements(db.engine)
    headers = {"HX-Request": "true"}  # the counter swaps its panel with htmx: the partial, as a phone gets it
    variants = _variants(seed, codes)
    clients = {"bare": bare}

    def send(name):
        path, body, expect = variants[name]
        client = clients.get(name, portal)
        response = client.post(path, data=body(), headers=None if name == "bare" else headers)
        text = response.get_data(as_text=True)
        if response.status_code != 200 or expect not in text:
            raise SystemExit(f"{name}: {response.status_code} {text[:300]}")

    names = list(variants)
    for _ in range(warm):
        for name in names:
            send(name)
    cpu = {name: [] for name in names}
    counts = {name: 0 for name in names}
    for turn in range(requests):
        for name in reversed(names) if turn % 2 else names:
            before = statements[0]
            start = time.process_time()
            send(name)
            cpu[name].append(time.process_time() - start)
            counts[name] += statements[0] - before
    medians = {name: statistics.median(values) * 1000 for name, values in cpu.items()}
    floor = medians["floor"]
    print(f"{requests} requests each, taking turns; CPU per request (median), database statements per request:")
    print(f"  {'':<10} {'ms CPU':>8} {'x floor':>8} {'x bare':>8} {'statements':>11}")
    for name in names:
        print(f"  {name:<10} {medians[name]:8.2f} {medians[name] / floor:8.2f} {medians[name] / medians['bare']:8.1f} {counts[name] / requests:11.1f}")
    print("  targets: confirm <= 1.5x floor, lookup <= 1.2x floor; confirm <= 4 statements")
    if profile:
        for name in ("lookup", "confirm"):
            _profile(name, send, profile)


def _profile(name: str, send, n: int) -> None:
    profiler = cProfile.Profile(time.process_time)  # CPU, as the timing: waits on the database are not the portal's
    profiler.enable()
    for _ in range(n):
        send(name)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    by_package: dict[str, float] = {}
    total = 0.0
    for (filename, _line, _func), (_cc, _nc, tottime, _cumtime, _callers) in stats.items():
        total += tottime
        package = "C built-ins (driver, sockets, json)" if filename == "~" else next((label for label, part in PACKAGES if part in filename), "python + other")
        by_package[package] = by_package.get(package, 0.0) + tottime
    print(f"profile of {n} × {name} ({total / n * 1000:.2f} ms each under the profiler): by package")
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1]):
        print(f"    {package:<24} {seconds / total:6.1%}")
    print("  by step (cumulative)")
    for label, part, func in STEPS:
        seconds = sum(cumtime for (filename, _line, fn), (_cc, _nc, _tt, cumtime, _callers) in stats.items()
                      if fn == func and filename.endswith(part))
        if seconds:
            print(f"    {label:<34} {seconds / total:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", type=int, default=300, help="lookups and confirms profiled after the timing; 0: none")
    parser.add_argument("--database", nargs="+", choices=("postgresql", "sqlite"), default=["postgresql", "sqlite"])
    args = parser.parse_args()
    for database in args.database:
        run(database, args.requests, args.profile)


if __name__ == "__main__":
    main()
