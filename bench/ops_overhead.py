"""What metrics and request logs cost a request: the portal with them and without them, side by side.

    .venv/bin/python -m bench.ops_overhead [--requests 5000]

Two copies of the portal run in this process on one SQLite file, through Flask's test client. The
second has the two hooks of `portal.ops.instrument` taken out (request id, duration, the request
count and latency sample, the access log line, the echoed `X-Request-ID`); nothing else differs.
The copies take turns request by request and the median CPU time (time.process_time) per request
is printed for `/healthz` (the bare endpoint: counted, not logged) and for the sign-in page (a
rendered page whose access line is written, to /dev/null, as production writes it). Figures only,
nothing asserted; the target is under 10 % on the bare endpoint.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from bench import pages_side_by_side


def _portal(workdir: Path, *, instrumented: bool):
    from cryptography.fernet import Fernet

    from portal import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'portal.db'}",
        "INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": "bench",
        "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": None,
        "RQ_INPROCESS_WORKER": False,
        "LOG_FORMAT": "json",
    })
    if not instrumented:
        for hooks in (app.before_request_funcs, app.after_request_funcs):
            for functions in hooks.values():
                functions[:] = [f for f in functions if f.__module__ != "portal.ops.instrument"]
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ops-overhead-") as tmp, open(os.devnull, "w") as devnull:
        workdir = Path(tmp)
        with_ops, without_ops = _portal(workdir, instrumented=True), _portal(workdir, instrumented=False)
        handler = next(h for h in logging.getLogger().handlers if getattr(h, "_portal", False))
        handler.setStream(devnull)
        rows = [
            ("/healthz", "/healthz", with_ops.test_client(), without_ops.test_client()),
            ("sign-in page (logged)", "/login", with_ops.test_client(), without_ops.test_client()),
        ]
        print(f"median CPU per request over {args.requests} requests each (the copies taking turns)")
        print(f"  {'endpoint':<24} {'with ops µs':>12} {'without µs':>11} {'overhead':>9}")
        for label, url, with_client, without_client in rows:
            # One endpoint at a time: a request right after a heavier one runs slower, whichever copy it is.
            figures = pages_side_by_side([(with_client, url, None), (without_client, url, None)], args.requests, warm=200, balanced=True)
            with_cpu, without_cpu = figures[0][0] * 1000, figures[1][0] * 1000
            print(f"  {label:<24} {with_cpu:>12.0f} {without_cpu:>11.0f} {100 * (with_cpu - without_cpu) / without_cpu:>8.1f} %")
        print("target: under 10 % on /healthz")


if __name__ == "__main__":
    main()
