"""The demo's one clock: the portal follows the sandbox's clock on this machine, never the platform's."""

import time
from datetime import UTC, datetime

import pytest

from portal import clock, democlock
from portal.config import load_config
from tests.fixtures.app import wait_until

THREE_DAYS = 3 * 86400


@pytest.fixture
def followed(tmp_path):
    """A clock file the portal follows for one test; what was followed before is followed after."""
    before = clock._followed
    path = tmp_path / "demo_clock.json"
    clock.follow(str(path))
    yield path
    clock.follow(before)


@pytest.fixture
def sandbox(followed):
    from sandbox import create_app

    app = create_app({"SANDBOX_DATABASE_URL": "sqlite://", "CALLBACK_DISPATCHER": False, "DEMO_CLOCK_FILE": str(followed)})
    yield app.test_client()
    app.extensions["sandbox"].stop()


def ahead_of_real_time() -> float:
    return (clock.now() - datetime.now(UTC)).total_seconds()


def test_moving_the_sandbox_clock_moves_the_portal_clock(sandbox):
    assert abs(ahead_of_real_time()) < 5
    sandbox.post("/sandbox/control", json={"advance_seconds": THREE_DAYS})
    assert abs(ahead_of_real_time() - THREE_DAYS) < 5
    sandbox.post("/sandbox/control", json={"clock_offset_seconds": 0})
    assert abs(ahead_of_real_time()) < 5


def test_console_plus_three_days_moves_the_portal_clock(sandbox):
    sandbox.post("/console/faults", data={"advance_seconds": str(THREE_DAYS)})
    assert abs(ahead_of_real_time() - THREE_DAYS) < 5
    sandbox.post("/sandbox/control/reset")
    assert abs(ahead_of_real_time()) < 5


def test_a_frozen_test_clock_wins_over_the_followed_one(followed, clock):
    followed.write_text('{"clock_offset_seconds": 86400}')
    assert clock.now() == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_portal_follows_only_a_sandbox_on_this_machine(tmp_path):
    local = load_config({"INSTANCE_PATH": str(tmp_path), "DOUYIN_API_BASE": "http://127.0.0.1:5055"})
    assert democlock.followed_file(local) == str(tmp_path / "demo_clock.json")
    platform = load_config({"INSTANCE_PATH": str(tmp_path), "DOUYIN_API_BASE": "https://open.douyin.com"})
    assert democlock.followed_file(platform) is None
    forced = load_config({"INSTANCE_PATH": str(tmp_path), "DOUYIN_API_BASE": "https://open.douyin.com", "DEMO_CLOCK_FILE": "/tmp/x"})
    assert democlock.followed_file(forced) is None
    off = load_config({"INSTANCE_PATH": str(tmp_path), "DOUYIN_API_BASE": "http://127.0.0.1:5055", "DEMO_CLOCK_FILE": "off"})
    assert democlock.followed_file(off) is None


def test_callback_signed_on_the_moved_sandbox_clock_is_accepted(connected, db, followed):
    moved = int(time.time()) + THREE_DAYS
    payment = {"order_id": "ot-moved", "out_order_no": "o-moved", "status": "SUCCESS", "total_amount": 100, "message_id": "m-moved"}
    assert connected.trade_callback("test_moved", payment, timestamp=moved).status_code == 401
    followed.write_text('{"clock_offset_seconds": %d}' % THREE_DAYS)
    assert connected.trade_callback("test_moved", payment, timestamp=moved).status_code == 200
    # The window is not widened: real time is now stale.
    assert connected.trade_callback("test_moved", payment, timestamp=int(time.time())).status_code == 401


def test_a_clock_move_queues_the_due_work(app, followed, monkeypatch):
    # The followed clock is process-wide: a live portal of the browser tests, in this process too,
    # has a watcher of its own that sees the same moves. Count only this app's.
    moves = []
    monkeypatch.setattr(democlock, "WATCH_INTERVAL_SECONDS", 0.05)
    monkeypatch.setattr(democlock, "queue_due_work", lambda watched: moves.append(watched) if watched is app else None)
    watcher = democlock.Watcher(app)
    watcher.start_once()
    try:
        time.sleep(0.2)
        assert moves == []
        followed.write_text('{"clock_offset_seconds": %d}' % THREE_DAYS)
        assert wait_until(lambda: moves == [app], timeout=5, interval=0.05)
    finally:
        watcher.stop()


def test_due_work_is_settlement_settle_requests_withdrawals_and_the_outbox(app, queue):
    democlock.queue_due_work(app)
    assert sorted(queue.job_funcs()) == sorted(func for _queue, func, _id in democlock.DUE_WORK)
    democlock.queue_due_work(app)  # a second move before they ran queues nothing more
    assert len(queue.job_funcs()) == len(democlock.DUE_WORK)

