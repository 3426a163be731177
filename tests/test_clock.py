from datetime import UTC, datetime, timedelta

from portal import clock


def test_clock_fixture_freezes_and_moves(clock):
    start = clock.now()
    assert start == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    clock.advance(days=3, hours=1)
    assert clock.now() - start == timedelta(days=3, hours=1)


def test_local_day_is_shanghai(clock):
    clock.set(datetime(2026, 11, 20, 17, 30, tzinfo=UTC))  # 01:30 next day in Shanghai
    assert clock.now().date().day == 20
    from portal.clock import today_local

    assert today_local().day == 21


def test_utc_columns_refuse_naive_datetimes(db, accounts):
    import pytest
    from sqlalchemy.exc import StatementError

    org = accounts.org()
    org.created_at = datetime(2026, 1, 1)
    with pytest.raises(StatementError):
        db.session.flush()
    db.session.rollback()


def test_utc_columns_round_trip_aware(db, accounts):
    org = accounts.org()
    org.created_at = datetime(2026, 1, 1, 8, 0, tzinfo=clock.SHANGHAI)
    db.session.flush()
    db.session.expire(org)
    assert org.created_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert org.created_at.tzinfo is not None


def test_local_text_shows_shanghai_time_or_a_dash():
    assert clock.local_text(datetime(2026, 11, 30, 16, 5, tzinfo=UTC)) == "2026-12-01 00:05"
    assert clock.local_text(datetime(2026, 11, 30, 16, 5, tzinfo=UTC), "%Y-%m-%d") == "2026-12-01"
    assert clock.local_text(None) == "—"
