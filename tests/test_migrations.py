"""`flask db upgrade` from empty builds exactly the schema the models describe."""

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from portal import create_app
from portal.extensions import db as _db
from portal.insights.models import METRICS, DailyStoreFigure
from tests.fixtures.app import scratch_postgres


def test_migrations_match_the_models(app):
    with app.app_context(), _db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, _db.metadata)
    assert diff == []


@pytest.fixture
def empty_database(database_url, tmp_path):
    """A database of its own, of the suite's kind, with nothing in it."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    with scratch_postgres(database_url, "portal_migration") as url:
        yield url


def test_store_day_sums_start_from_the_buckets_already_kept(empty_database, tmp_path):
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                      "SECRETS_FERNET_KEY": Fernet.generate_key().decode(), "RQ_INPROCESS_WORKER": False})
    # Every metric 1, but paid_fen as given: the sums must add each metric per store and day.
    insert = text(
        f"INSERT INTO insight_daily_figures (organization_id, day, store_id, channel, tracking_code, {', '.join(METRICS)}) "
        f"VALUES (1, :day, :store, :channel, :code, {', '.join(':paid' if m == 'paid_fen' else '1' for m in METRICS)})"
    )
    with app.app_context():
        upgrade(revision="0009")
        with _db.engine.begin() as connection:
            connection.execute(text("INSERT INTO organizations (id, name, edition, multi_store, created_at) VALUES (1, 'a', 'basic', true, '2026-11-20 00:00:00')"))
            for day, store, channel, code, paid in (("2026-11-19", 1, "live", "live_1", 100), ("2026-11-19", 1, "search", "", 250),
                                                    ("2026-11-19", 2, "live", "live_1", 7), ("2026-11-20", 1, "live", "live_1", 5_000_000_000)):
                connection.execute(insert, {"day": date.fromisoformat(day), "store": store, "channel": channel, "code": code, "paid": paid})
        upgrade()
        rows = _db.session.execute(
            select(DailyStoreFigure.day, DailyStoreFigure.store_id, DailyStoreFigure.orders, DailyStoreFigure.paid_fen).order_by(DailyStoreFigure.id)
        ).all()
        _db.session.remove()
        _db.engine.dispose()
    assert sorted(map(tuple, rows)) == [(date(2026, 11, 19), 1, 2, 350), (date(2026, 11, 19), 2, 1, 7), (date(2026, 11, 20), 1, 1, 5_000_000_000)]
