"""Douyin sandbox: a small Flask app that speaks Douyin's HTTP API for demos and end-to-end tests.

Independent of portal/: its own models, engine, sessions and signature code.
"""
from __future__ import annotations

import os
import threading

from flask import Flask, g, request

from .store import Store, default_db_url

__all__ = ["create_app"]


class Dispatcher(threading.Thread):
    """Applies due timers and delivers due callbacks, every `interval` seconds."""

    def __init__(self, store: Store, interval: float):
        super().__init__(name="sandbox-dispatcher", daemon=True)
        self.store, self.interval = store, interval
        self.stopped = threading.Event()

    def run(self):
        from . import callbacks, services
        while not self.stopped.wait(self.interval):
            try:
                with self.store.session() as s:
                    services.tick(s, self.store)
                    s.commit()
                callbacks.deliver_due(self.store)
            except Exception:  # keep delivering after a bad row; the log shows it
                import logging
                logging.getLogger("sandbox").exception("dispatcher pass failed")

    def stop(self):
        self.stopped.set()


def create_app(config: dict | None = None) -> Flask:
    """Build the sandbox app. Config keys: SANDBOX_DATABASE_URL, CALLBACK_DISPATCHER (bool,
    default True), DISPATCH_INTERVAL (s), FAULT_SEED, and any runtime setting in upper case
    (CALLBACK_TIME_SCALE, CALLBACK_SYNC, PRODUCT_AUTO_APPROVE_SECONDS, …; see store.SETTINGS)."""
    app = Flask(__name__)
    app.config.update(
        SANDBOX_DATABASE_URL=os.environ.get("SANDBOX_DATABASE_URL") or None,
        CALLBACK_DISPATCHER=True,
        DISPATCH_INTERVAL=0.2,
        SECRET_KEY=os.environ.get("SANDBOX_SECRET_KEY") or os.urandom(16).hex(),
        SESSION_COOKIE_NAME="sandbox_session",  # cookies ignore ports: keep clear of the portal's
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    store = Store(app.config["SANDBOX_DATABASE_URL"] or default_db_url(), dict(app.config))
    app.extensions["sandbox"] = store
    _reset_stuck_deliveries(store)

    from . import api, console, consumer, control, services, storefront
    app.register_blueprint(api.bp)
    app.register_blueprint(storefront.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(consumer.bp)
    app.register_blueprint(control.bp)
    from . import tpapp
    app.register_blueprint(tpapp.bp)
    app.register_blueprint(tpapp.control_bp)
    tpapp.ensure_component(store, dict(app.config))

    @app.before_request
    def open_session():
        g.db = None
        if request.path.startswith("/sandbox/") and request.remote_addr not in ("127.0.0.1", "::1"):
            return {"error": "control endpoints are local only"}, 403
        if request.path.startswith(api.API_PREFIXES):
            injected = api.fault_response(request.path)
            if injected is not None:
                return injected
        if request.path.startswith("/static/"):
            return None
        g.db = store.open_session()
        services.tick(g.db, store)
        g.db.commit()
        return None

    @app.after_request
    def close_session(response):
        ids = _close(store)
        if ids and store.settings_snapshot()["callback_sync"]:
            from .callbacks import deliver_one
            for oid in ids:
                deliver_one(store, oid)
        return response

    @app.teardown_request
    def teardown(_exc):
        _close(store)

    @app.context_processor
    def helpers():
        from .views_util import fen, ms_time
        return {"fen": fen, "ms_time": ms_time}

    dispatcher = None
    if app.config["CALLBACK_DISPATCHER"]:
        dispatcher = Dispatcher(store, float(app.config["DISPATCH_INTERVAL"]))
        dispatcher.start()
    store.dispatcher = dispatcher
    if dispatcher is not None and (app.config.get("COMPONENT_PUSH_URL") or os.environ.get("COMPONENT_PUSH_URL")):
        tpapp.TicketPusher(store, float(app.config.get("COMPONENT_TICKET_INTERVAL") or os.environ.get("COMPONENT_TICKET_INTERVAL") or 600)).start()
    return app


def _close(store: Store) -> list[int]:
    s = g.pop("db", None)
    if s is None:
        return []
    try:
        s.rollback()
    finally:  # the store's lock is released whatever the rollback did: every later request waits on it
        ids = store.close_session(s)
    return ids


def _reset_stuck_deliveries(store: Store) -> None:
    from sqlalchemy import update
    from .models import Outbox
    with store.session() as s:
        s.execute(update(Outbox).where(Outbox.status == "SENDING").values(status="PENDING"))
        s.commit()
