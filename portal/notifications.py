"""The notification hook: every domain tells the merchant something through `notify()`.

An in-app entry is always written; the settings domain decides, per kind, whether it is also
e-mailed (`delivery_hooks`), so this module stays free of preference rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.messages import MessageText

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
    # What the merchant reads: `title` and `body` in the reader's language (portal/messages.py);
    # the columns keep older rows' text, the *_msg columns the message ids with their values.
    title_literal: Mapped[str] = mapped_column("title", String(200), default="")
    title_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    body_literal: Mapped[str] = mapped_column("body", Text, default="")
    body_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_org_read", "organization_id", "read_at"),)

    title = MessageText("title_literal", "title_msg")
    body = MessageText("body_literal", "body_msg")


def notify(organization_id: int, kind: str, title, body="", *, link: str = "", store_id: int | None = None) -> Notification:
    """Tell the merchant something; the caller's transaction commits it. `title` and `body` are
    lazy strings (`_l(...)`) or Messages, stored as message ids and shown in the reader's
    language; a plain string (Douyin's own words) is kept as it is."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    note = Notification(
        organization_id=organization_id,
        store_id=store_id,
        kind=kind,
        title=title,
        body=body,
        link=link,
        created_at=clock.now(),
    )
    db.session.add(note)
    db.session.flush()
    for hook in delivery_hooks:
        hook(note)
    return note
