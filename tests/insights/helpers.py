from sqlalchemy import select

from portal.extensions import db
from portal.insights.models import METRICS, DailyFigure


def snapshot(org_id: int) -> dict:
    """The organization's daily figures as {(day, store, channel, code): {metric: value}}."""
    rows = db.session.scalars(select(DailyFigure).where(DailyFigure.organization_id == org_id))
    return {
        (r.day, r.store_id, r.channel, r.tracking_code): {m: getattr(r, m) for m in METRICS if getattr(r, m)}
        for r in rows
    }


def total(org_id: int, metric: str) -> int:
    return sum(values.get(metric, 0) for values in snapshot(org_id).values())
