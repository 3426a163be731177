"""Douyin merchant portal."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from portal.config import PROJECT_ROOT, load_config

BLUEPRINTS = (
    "portal.accounts.views",
    "portal.home.views",
    "portal.onboarding.views",
    "portal.onboarding.component_events",
    "portal.catalog.views",
    "portal.orders.views",
    "portal.orders.miniapp",
    "portal.redemption.views",
    "portal.ledger.views",
    "portal.insights.views",
    "portal.settings.views",
    "portal.admin.views",
    "portal.douyin.webhooks",
)


def create_app(config: dict | None = None) -> Flask:
    """The app factory: settings, extensions, blueprints. Nothing else happens at import time."""
    settings = load_config(config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from portal.ops import logs as ops_logs

    ops_logs.configure(app.config)

    from portal import assets, errors, htmx, i18n, templating
    from portal.database import configure_sqlite
    from portal.extensions import babel, csrf, db, login_manager, migrate, queue

    import portal.models  # noqa: F401  every table, for Alembic and create_all

    from portal import ops

    ops.init_app(app)  # first: the request id is set before any other hook runs
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine, busy_timeout_ms=app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10_000))
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app, babel)
    htmx.init_app(app)
    queue.init_app(app)
    templating.init_app(app)
    assets.init_app(app)
    errors.init_app(app)

    from portal import params, security

    params.init_app(app)  # before the blueprints: URL converters are bound as rules are added
    security.init_app(app)

    from importlib import import_module

    for module in BLUEPRINTS:
        app.register_blueprint(import_module(module).bp)

    from portal import cli, wiring

    cli.init_app(app)
    wiring.init_app(app)
    from portal import democlock

    democlock.init_app(app)
    if app.config.get("RQ_INPROCESS_WORKER") and not app.config.get("REDIS_URL") and not app.testing:
        # Started by the first request, so CLI commands (migrate, seed) run no worker thread.
        app.before_request(lambda: queue.start_inline_worker(app))
    return app
