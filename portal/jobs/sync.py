"""Jobs on the `sync` queue: the product library's 刷新列表."""

from portal.jobs import app_context


def run_catalog_sync(run_id: int) -> str | None:
    """Do or continue one sync run (job id `sync:run:<id>`); progress is committed page by page."""
    from portal.catalog import sync
    from portal.extensions import db

    import time

    from sqlalchemy.exc import OperationalError

    with app_context():
        lease = sync.Lease()  # kept across the retries below: they go on under the lease claimed
        for attempt in range(5):
            try:
                run = sync.run_sync(run_id, checkpoint=db.session.commit, lease=lease)
                db.session.commit()
                return run.status if run is not None else None
            except OperationalError:
                # SQLite refusing a write while another writer holds it: progress up to the last
                # page is committed, so try again from there.
                db.session.rollback()
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))


def run_catalog_sync_sweep() -> list[int]:
    """Re-queue sync runs whose lease ran out: their worker died (periodic)."""
    from portal.catalog import sync
    from portal.extensions import db

    with app_context():
        ids = sync.resume_stale_runs()
        db.session.commit()
        return ids
