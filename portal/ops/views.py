"""/healthz (the process answers), /readyz (it can serve: database, queue, schema at head) and
/metrics (Prometheus, for operators). No session, no CSRF, no tenant: a load balancer calls them."""

from __future__ import annotations

import functools

from flask import Blueprint, Response, abort, current_app, jsonify
from sqlalchemy import text

from portal.extensions import csrf, db, queue
from portal.ops import metrics

bp = Blueprint("ops", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": _check_database(), "queue": _check_queue(), "migrations": _check_migrations()}
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "unready", checks=checks), 200 if ready else 503


@bp.get("/metrics", endpoint="metrics")
def metrics_endpoint():
    if not metrics.authorized(current_app):
        from flask_login import current_user

        abort(403 if current_user.is_authenticated else 401)
    return Response(metrics.scrape(current_app), mimetype=metrics.CONTENT_TYPE_LATEST)


def _problem(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any failure is the answer, not an error page
        return _problem(exc)
    finally:
        db.session.rollback()


def _check_queue() -> str:
    app = current_app._get_current_object()
    try:
        _ping_connection(app).ping()
    except Exception as exc:
        return _problem(exc)
    state = app.extensions["portal_queue"]
    thread = state.inline_thread
    if thread is not None and not thread.is_alive():
        return "in-process worker thread has stopped"
    return "ok"


def _ping_connection(app):
    """Redis with short timeouts for the probe (the queue's own connection waits as long as it must)."""
    found = app.extensions.get("portal_ready_redis")
    if found is None:
        url = app.config.get("REDIS_URL")
        if url:
            import redis

            found = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        else:
            found = queue.connection(app)
        app.extensions["portal_ready_redis"] = found
    return found


def _check_migrations() -> str:
    head = _head_revision(current_app.extensions["migrate"].directory)
    try:
        current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception as exc:
        db.session.rollback()
        return _problem(exc)
    if current != [head]:
        return f"database at {', '.join(current) or 'nothing'}, code at {head}: run flask db upgrade"
    return "ok"


@functools.cache
def _head_revision(directory: str) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config).get_current_head()
