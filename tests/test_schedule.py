from datetime import UTC, datetime, time, timedelta

from portal.schedule import PERIODIC, Periodic


def test_every_slot_is_the_next_multiple():
    entry = Periodic("x", "f", every=timedelta(minutes=10))
    assert entry.next_slot(datetime(2026, 1, 1, 3, 7, tzinfo=UTC)) == datetime(2026, 1, 1, 3, 10, tzinfo=UTC)
    assert entry.next_slot(datetime(2026, 1, 1, 3, 10, tzinfo=UTC)) == datetime(2026, 1, 1, 3, 20, tzinfo=UTC)


def test_daily_slot_is_shanghai_wall_clock():
    entry = Periodic("export", "f", daily_at=time(10, 0))
    # 01:00 UTC is 09:00 in Shanghai: today's 10:00 is 02:00 UTC.
    assert entry.next_slot(datetime(2026, 1, 1, 1, 0, tzinfo=UTC)) == datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    assert entry.next_slot(datetime(2026, 1, 1, 2, 0, tzinfo=UTC)) == datetime(2026, 1, 2, 2, 0, tzinfo=UTC)


def test_scheduling_twice_keeps_one_job(app, db, queue):
    from portal.schedule import ensure_scheduled
    from portal.extensions import queue as jobs

    ensure_scheduled(app)
    ensure_scheduled(app)
    with app.app_context():
        scheduled = jobs.get("default").scheduled_job_registry.get_job_ids()
    assert len([j for j in scheduled if "outbox-sweep" in j]) == 1
    assert "outbox-sweep" in PERIODIC
    with app.app_context():
        for job_id in scheduled:
            jobs.get("default").scheduled_job_registry.remove(job_id, delete_job=True)
