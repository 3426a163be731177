from collections import Counter

from sqlalchemy import select

from portal.extensions import db
from portal.insights.models import METRICS, DailyFigure, DailyStoreFigure


def snapshot(org_id: int) -> dict:
    """The organization's daily figures as {(day, store, channel, code): {metric: value}}.

    Also checks that the store-day sums are the buckets summed per store and day, so that every
    test that looks at the buckets proves the sums kept beside them."""
    rows = db.session.scalars(select(DailyFigure).where(DailyFigure.organization_id == org_id))
    figures = {
        (r.day, r.store_id, r.channel, r.tracking_code): {m: getattr(r, m) for m in METRICS if getattr(r, m)}
        for r in rows
    }
    expected: dict = {}
    for (day, store_id, _channel, _code), metrics in figures.items():
        expected.setdefault((day, store_id), Counter()).update(metrics)
    store_days = db.session.scalars(select(DailyStoreFigure).where(DailyStoreFigure.organization_id == org_id))
    kept = {(r.day, r.store_id): {m: getattr(r, m) for m in METRICS if getattr(r, m)} for r in store_days}
    assert kept == {key: {m: v for m, v in metrics.items() if v} for key, metrics in expected.items()}
    return figures


def total(org_id: int, metric: str) -> int:
    return sum(values.get(metric, 0) for values in snapshot(org_id).values())
