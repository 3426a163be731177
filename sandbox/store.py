"""Engine, sessions, runtime settings and the sandbox clock.

SQLite with an in-memory database shares one connection (StaticPool) between the request
threads and the delivery thread, so every unit of work holds `Store.lock`. Nothing holds the
lock while making an HTTP call.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
from contextlib import contextmanager

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .models import Base, Setting

# name -> (type, default). Each may be set by the app config or the environment under the
# upper-case name (CALLBACK_TIME_SCALE=0.001) and changed at run time by /sandbox/control.
SETTINGS: dict[str, tuple[type, object]] = {
    "latency_ms": (int, 0),
    "error_rate": (float, 0.0),
    "error_mode": (str, "mixed"),  # http500 | code | mixed
    "burst_429": (int, 0),
    "drop_rate": (float, 0.0),
    "duplicate": (int, 1),
    "clock_offset_seconds": (float, 0.0),
    "callback_time_scale": (float, 1.0),
    "callback_sync": (bool, False),
    "callback_timeout_seconds": (float, 5.0),
    "product_auto_approve_seconds": (float, -1.0),  # < 0: off, operator decides
    "package_auto_approve_seconds": (float, 86400.0),  # one sandbox day; < 0: operator decides
    "withdraw_auto_pay": (bool, False),
    "withdraw_auto_pay_seconds": (float, 0.0),
    "withdraw_check_balance": (bool, True),
    "refund_audit_hours": (float, 72.0),
    "client_token_limit": (int, 500),
    "rake_bp": (int, 250),
    "commission_bp": (int, 1000),
    "settle_min_days": (int, 0),
    "signature_max_age_seconds": (int, 0),  # 0: timestamps not checked for freshness
    "verify_token_ttl_seconds": (int, 600),
    "certificate_valid_days": (int, 90),
}


def coerce(name: str, value):
    kind = SETTINGS[name][0]
    if kind is bool:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if kind is str:
        return str(value)
    return kind(value)


def default_db_url() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = os.path.join(root, "instance", "sandbox")
    os.makedirs(folder, exist_ok=True)
    return "sqlite:///" + os.path.join(folder, "sandbox.db")


class Store:
    def __init__(self, url: str, config: dict):
        self.url = url
        memory = url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url
        kwargs: dict = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if memory:
                kwargs["poolclass"] = StaticPool
        self.engine = create_engine(url, **kwargs)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.lock = threading.RLock()
        self.defaults = {}
        for name, (_kind, default) in SETTINGS.items():
            value = config.get(name.upper(), os.environ.get(name.upper(), default))
            self.defaults[name] = coerce(name, value)
        self.rng = random.Random(config.get("FAULT_SEED"))
        self.dispatcher = None
        # Where the clock offset is published for a portal that follows this clock (the embedded demo).
        self.clock_file = config.get("DEMO_CLOCK_FILE", os.environ.get("DEMO_CLOCK_FILE")) or None
        Base.metadata.create_all(self.engine)
        self._install_outbox_hooks()
        with self.session() as s:
            self.publish_clock(self.settings(s)["clock_offset_seconds"])

    def _install_outbox_hooks(self):
        # Outbox ids created in a session become deliverable once that session commits.
        @event.listens_for(self.Session, "after_commit")
        def _committed(session):
            session.info.setdefault("committed_outbox", []).extend(session.info.pop("new_outbox", []))

        @event.listens_for(self.Session, "after_rollback")
        def _rolled_back(session):
            session.info.pop("new_outbox", None)

    @contextmanager
    def session(self):
        with self.lock:
            s = self.Session()
            try:
                yield s
            finally:
                s.close()

    def open_session(self) -> Session:
        self.lock.acquire()
        return self.Session()

    def close_session(self, s: Session) -> list[int]:
        """Close a session from open_session and release the lock; return committed outbox ids."""
        try:
            ids = s.info.pop("committed_outbox", [])
            s.close()
        finally:
            self.lock.release()
        return ids

    # settings -----------------------------------------------------------------------------
    def settings(self, s: Session) -> dict:
        out = dict(self.defaults)
        for row in s.scalars(select(Setting)):
            if row.key in SETTINGS:
                out[row.key] = row.value
        return out

    def set_setting(self, s: Session, name: str, value) -> None:
        value = coerce(name, value)
        row = s.get(Setting, name)
        if row is None:
            s.add(Setting(key=name, value=value))
        else:
            row.value = value
        if name == "clock_offset_seconds":
            self.publish_clock(value)

    def publish_clock(self, offset_seconds: float) -> None:
        """Write the clock offset to DEMO_CLOCK_FILE, if set, in one atomic replace."""
        if not self.clock_file:
            return
        folder = os.path.dirname(os.path.abspath(self.clock_file))
        os.makedirs(folder, exist_ok=True)
        temp = f"{self.clock_file}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump({"clock_offset_seconds": float(offset_seconds)}, handle)
        os.replace(temp, self.clock_file)

    def settings_snapshot(self) -> dict:
        with self.session() as s:
            return self.settings(s)

    def stop(self) -> None:
        """Stop the delivery thread (tests build many apps)."""
        if getattr(self, "dispatcher", None) is not None:
            self.dispatcher.stop()
            self.dispatcher.join(timeout=5)

    def reset(self) -> None:
        with self.lock:
            Base.metadata.drop_all(self.engine)
            Base.metadata.create_all(self.engine)
        self.publish_clock(self.defaults["clock_offset_seconds"])

    def now_ms(self, s: Session) -> int:
        offset = self.settings(s)["clock_offset_seconds"]
        return int(time.time() * 1000 + float(offset) * 1000)


def rand_digits(n: int, first: str = "7") -> str:
    return first + "".join(secrets.choice("0123456789") for _ in range(n - len(first)))


def new_id19() -> str:
    return rand_digits(19)


def log_id(now_ms: int) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now_ms / 1000))
    return stamp + secrets.token_hex(10).upper()
