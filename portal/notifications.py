"""The notification hook: every domain tells the merchant something through `notify()`.

An in-app entry is always written; the settings domain decides, per kind, whether it is also
e-mailed (`delivery_hooks`), so this module stays free of preference rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.extensions import db
from portal.i18n import lazy_gettext as _l

KINDS = {
    "product_review": _l("商品审核结果"),
    "miniapp_review": _l("小程序审核结果"),
    "refund_request": _l("退款申请"),
    "anomaly": _l("异常规则提醒"),
    "withdrawal": _l("提现结果"),
    "system": _l("系统通知"),
}

# Called with each new notification after it is added (e.g. to queue an e-mail).
delivery_hooks: list[Callable[["Notification"], None]] = []


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_org_read", "organization_id", "read_at"),)


def notify(organization_id: int, kind: str, title: str, body: str = "", *, link: str = "", store_id: int | None = None) -> Notification:
    """Tell the merchant something; the caller's transaction commits it."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    note = Notification(
        organization_id=organization_id,
        store_id=store_id,
        kind=kind,
        title=str(title),
        body=str(body),
        link=link,
        created_at=clock.now(),
    )
    db.session.add(note)
    db.session.flush()
    for hook in delivery_hooks:
        hook(note)
    return note
