"""Scale-out as the README deploys it: two web processes (gunicorn) and two RQ workers against one
PostgreSQL and one Redis. Counter confirms and Douyin's payment callbacks go to both web
processes; one web process and one worker are SIGKILLed mid-load. Nothing is lost or doubled, and
the survivors finish the work (the webhook sweep re-queues what the dead worker held).

PostgreSQL only (a scratch database of its own), and Redis must answer: `make test` runs it in
its PostgreSQL run."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select, update

from tests.fixtures.app import REDIS_TEST_URL, _redis_answers, scratch_postgres, wait_until
from tests.fixtures.processes import kill_tree

pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parents[2]
CONFIRMS = 24
CALLBACKS = 24


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(app) -> dict:
    """A connected merchant, a clerk signed in, CONFIRMS paid vouchers and CALLBACKS placed
    (unpaid) orders with their signed payment callbacks, made through the services."""
    from portal import clock
    from portal.accounts.models import Role
    from portal.accounts.service import start_session
    from portal.extensions import db
    from portal.orders import service as orders
    from portal.outbox import OutboxMessage, OutboxStatus
    from tests.fixtures.accounts import AccountFactory
    from tests.fixtures.douyin import ConnectedMerchant, platform_keys
    from tests.fixtures.orders import OrderFactory
    from portal.douyin.signing import sign_callback

    with app.app_context(), app.test_request_context():
        accounts, shop = AccountFactory(), OrderFactory()
        org = accounts.org("扩容商户")
        store = org.stores[0]
        merchant = ConnectedMerchant(org, None)
        clerk = accounts.user(Role.CLERK, org, store)
        product = shop.product(org, stores=[store])
        # Paid, and Douyin's item orders not yet learnt: a confirm reports nothing, so the workers'
        # share of the load is the callbacks' (and the insights jobs every order and redemption queue).
        codes = []
        for i in range(CONFIRMS):
            pre = shop.pre_order(org, product, open_id=f"scale-c{i}", phone=f"139{i:08d}")
            codes.append(orders.confirm_payment(org.id, shop.msg(pre), now=clock.now()).vouchers[0].code)
        placed = [shop.pre_order(org, product, open_id=f"scale-p{i}", phone=f"138{i:08d}") for i in range(CALLBACKS)]
        callbacks = []
        for pre in placed:
            body = json.dumps({"version": "3.0", "type": "payment", "msg": json.dumps(shop.msg(pre), ensure_ascii=False)},
                              ensure_ascii=False).encode()
            ts, nonce = str(int(clock.now().timestamp())), secrets.token_hex(8)
            signature = sign_callback(private_key_pem=platform_keys()[0], timestamp=ts, nonce=nonce, body=body)
            callbacks.append((body, {"Byte-Timestamp": ts, "Byte-Nonce-Str": nonce, "Byte-Signature": signature,
                                     "Content-Type": "application/json"}))
        sid = start_session(clerk, now=clock.now())
        # The seed's own deliveries are done (its jobs are dropped below): not the load's work.
        db.session.execute(update(OutboxMessage).values(status=OutboxStatus.DELIVERED, delivered_at=clock.now()))
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session.update({"_user_id": clerk.get_id(), "sid": sid, "_fresh": True, "csrf_token": (raw := secrets.token_hex(20))})
        return {
            "org_id": org.id, "store_id": store.id, "codes": codes, "callbacks": callbacks,
            "out_order_nos": [pre.out_order_no for pre in placed], "trade_path": merchant.trade_url,
            "cookie": client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value,
            "csrf": URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw),
        }


class _Refusing(BaseHTTPRequestHandler):
    """Douyin refusing every call at once (an auth error is not retried): the deliveries the
    load queues end quickly as failed, and the callbacks' jobs are not kept waiting behind them."""

    def _refuse(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"err_no": 40004, "err_tips": "access denied", "data": {"error_code": 40004, "description": "access denied"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


class Web:
    def __init__(self, env: dict, tmp: Path, name: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(env, PORTAL_BIND=f"127.0.0.1:{self.port}", WEB_CONCURRENCY="1", PORTAL_THREADS="4",
                   PROMETHEUS_MULTIPROC_DIR=str(tmp / f"metrics-{name}"))
        self.log = tmp / f"{name}.log"
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=env,
                                        start_new_session=True, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False


def _worker(env: dict, tmp: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=(tmp / f"{name}.log").open("ab"), stderr=subprocess.STDOUT)


def test_two_web_processes_and_two_workers_lose_and_double_nothing_when_one_of_each_is_killed(tmp_path):
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not _redis_answers():
        pytest.fail(f"Redis is not answering at {REDIS_TEST_URL}: the scale-out test needs it")
    from flask_migrate import upgrade

    from portal import create_app
    from portal.douyin.events import EventStatus, WebhookEvent
    from portal.extensions import db, queue
    from portal.orders.models import Order, PreOrder, PreOrderStatus, Voucher, VoucherStatus
    from portal.queue import remove_prefix
    from portal.redemption.models import Outcome, RedemptionAttempt

    prefix = f"scale{uuid.uuid4().hex[:8]}-"
    douyin = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=douyin.serve_forever, daemon=True).start()
    douyin_url = f"http://127.0.0.1:{douyin.server_address[1]}"
    with scratch_postgres(base, "portal_scale") as url:
        settings = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": secrets.token_hex(16),
                    "SECRETS_FERNET_KEY": Fernet.generate_key().decode(), "REDIS_URL": REDIS_TEST_URL, "RQ_QUEUE_PREFIX": prefix,
                    "RQ_INPROCESS_WORKER": False, "DOUYIN_API_BASE": douyin_url, "DEMO_CLOCK_FILE": "off"}
        app = create_app(settings)
        with app.app_context():
            upgrade()
        seed = _seed(app)
        with app.app_context():
            remove_prefix(queue.connection(app), prefix)  # the seed's own jobs: not the load's work
        env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_TEST_URL, RQ_QUEUE_PREFIX=prefix, FLASK_APP="wsgi.py",
                   PORTAL_INSTANCE_PATH=settings["INSTANCE_PATH"], SECRET_KEY=settings["SECRET_KEY"],
                   SECRETS_FERNET_KEY=settings["SECRETS_FERNET_KEY"], RQ_INPROCESS_WORKER="0",
                   DOUYIN_API_BASE=douyin_url, DEMO_CLOCK_FILE="off", PUBLIC_BASE_URL="https://portal.test",
                   WEBHOOK_SWEEP_AFTER_SECONDS="2", LOG_FORMAT="json")
        env.pop("TEST_DATABASE_URL", None)
        webs = [Web(env, tmp_path, "web-a"), Web(env, tmp_path, "web-b")]
        workers = [_worker(env, tmp_path, "worker-a"), _worker(env, tmp_path, "worker-b")]
        try:
            assert wait_until(lambda: all(web.ready() for web in webs), timeout=40), [w.log.read_text()[-2000:] for w in webs]
            answers: dict[str, list] = {"confirm": [], "callback": []}
            done, lock, killed = [0], threading.Lock(), threading.Event()
            total = CONFIRMS + 2 * CALLBACKS

            def send(first: int, method: str, path: str, **kwargs):
                """To web `first`; if it is gone (killed mid-request), to the other, as a load balancer retries."""
                for attempt in range(6):
                    web = webs[(first + attempt) % 2]
                    try:
                        return requests.request(method, web.url + path, timeout=30, **kwargs)
                    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):  # reset mid-answer
                        time.sleep(0.2)
                raise AssertionError(f"{path}: no web process answered")

            def confirm(i: int):
                form = {"code": seed["codes"][i], "nonce": uuid.uuid4().hex, "store_id": seed["store_id"], "csrf_token": seed["csrf"]}
                response = send(i % 2, "POST", "/counter/redeem", data=form, cookies={"portal_session": seed["cookie"]})
                return "confirm", response

            def callback(i: int, web: int):
                body, headers = seed["callbacks"][i]
                return "callback", send(web, "POST", seed["trade_path"], data=body, headers=headers)

            tasks = [(confirm, (i,)) for i in range(CONFIRMS)] + [(callback, (i, w)) for i in range(CALLBACKS) for w in (0, 1)]
            random.Random(21).shuffle(tasks)  # confirms and callbacks interleaved, the same way every run

            def run(task):
                kind, response = task[0](*task[1])
                with lock:
                    answers[kind].append(response)
                    done[0] += 1
                    if done[0] == total // 3 and not killed.is_set():
                        killed.set()
                        kill_tree(webs[0].process)
                        kill_tree(workers[0])

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(run, tasks))
            assert killed.is_set() and webs[0].process.poll() is not None and workers[0].poll() is not None

            assert [r.status_code for r in answers["confirm"]] == [200] * CONFIRMS
            refused = [r.text for r in answers["confirm"] if 'id="redemption-success"' not in r.text]
            assert refused == [], refused[0][refused[0].find('id="redemption-panel"'):][:1500]
            assert [r.json()["err_no"] for r in answers["callback"]] == [0] * (2 * CALLBACKS)

            def drained():
                with app.app_context():
                    return all(len(q) == 0 for q in queue.all(app))

            def unprocessed():
                with app.app_context():
                    waiting = db.session.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.status != EventStatus.PROCESSED))
                    db.session.rollback()
                    return waiting

            assert wait_until(drained, timeout=60, interval=0.5), (tmp_path / "worker-b.log").read_text()[-3000:]
            # What the dead worker held is still "received": the sweep (minutely, on the survivor's
            # scheduler in production) queues it again. Run now rather than at the next minute.
            with app.app_context():
                queue.enqueue_now("default", "portal.jobs.default.run_webhook_sweep", job_id=f"test-sweep:{prefix}")
            assert wait_until(lambda: unprocessed() == 0, timeout=30, interval=0.5), (tmp_path / "worker-b.log").read_text()[-3000:]
            with app.app_context():
                events = db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "payment")).all()
                assert len(events) == CALLBACKS  # each sent to both web processes: stored once
                orders = db.session.scalars(select(Order).where(Order.out_order_no.in_(seed["out_order_nos"]))).all()
                assert sorted(o.out_order_no for o in orders) == sorted(seed["out_order_nos"])  # one order each
                assert set(db.session.scalars(select(PreOrder.status).where(PreOrder.out_order_no.in_(seed["out_order_nos"])))) == {PreOrderStatus.PAID}
                vouchers = db.session.scalars(select(Voucher).where(Voucher.code.in_(seed["codes"]))).all()
                assert {v.status for v in vouchers} == {VoucherStatus.REDEEMED} and len(vouchers) == CONFIRMS
                redeemed = db.session.execute(
                    select(RedemptionAttempt.voucher_id, func.count()).where(RedemptionAttempt.outcome == Outcome.SUCCESS)
                    .group_by(RedemptionAttempt.voucher_id)
                ).all()
                assert sorted(count for _, count in redeemed) == [1] * CONFIRMS  # no confirm doubled
            assert webs[1].ready() and workers[1].poll() is None  # the survivors still serve
        finally:
            for process in [web.process for web in webs] + workers:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in [web.process for web in webs] + workers:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    kill_tree(process)
            with app.app_context():
                remove_prefix(queue.connection(app), prefix)
            with app.app_context():
                db.engine.dispose()  # before the scratch database is dropped
            douyin.shutdown()
