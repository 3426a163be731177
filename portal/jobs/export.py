"""Jobs of the redemption domain (queue `default`): the daily Excel export."""

from portal.jobs import app_context


def run_daily_exports() -> int:
    """10:00 Asia/Shanghai: yesterday's file for every store (rebuilding one is harmless)."""
    from portal import clock
    from portal.accounts.models import Store
    from portal.extensions import db
    from portal.redemption import export

    with app_context():
        now = clock.now()
        day = export.previous_day(now)
        store_ids = export.stores_to_export()
        for store_id in store_ids:
            export.export_store_day(db.session.get(Store, store_id), day, now=now)
            db.session.commit()
        return len(store_ids)
