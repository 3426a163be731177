"""Who did what to which object. Every state change a person makes writes one entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import clock, messages
from portal.extensions import db

_SECRET_WORDS = ("secret", "password", "private", "token", "salt", "key")


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    code: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_id: Mapped[str] = mapped_column(String(40), default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime]

    actor = relationship("User")

    __table_args__ = (Index("ix_audit_entries_org_at", "organization_id", "at"),)


def scrub(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop every value whose key looks like a secret, at any depth."""
    clean: dict[str, Any] = {}
    for key, value in payload.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            clean[key] = "[redacted]"
        elif isinstance(value, dict):
            clean[key] = scrub(value)
        else:
            clean[key] = value
    return clean


def record(code: str, *, actor=None, organization_id: int | None = None, obj=None, **payload) -> AuditEntry:
    """Add an audit entry to the session (the caller's transaction commits it).

    `code` reads `<domain>.<noun>.<past-verb>`; `obj` is any mapped object with an `id`.
    Secrets are redacted from the payload. Sentences in it (lazy strings, Messages) are kept as
    message ids with values, put into words in the reader's language when the log is read.
    """
    if organization_id is None and obj is not None:
        organization_id = getattr(obj, "organization_id", None)
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=getattr(actor, "id", None),
        code=code,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "id", "") or ""),
        payload=scrub({key: messages.dump(value) for key, value in payload.items()}),
        at=clock.now(),
    )
    db.session.add(entry)
    return entry
