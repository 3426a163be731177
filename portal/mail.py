"""Outgoing e-mail: stored first, delivered by a job (SMTP when configured, the log otherwise)."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.extensions import db, queue

log = logging.getLogger("portal.mail")


class OutgoingMail(db.Model):
    __tablename__ = "outgoing_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


def send(to: str, subject: str, body: str) -> OutgoingMail:
    """Store a mail and queue its delivery after the current transaction commits."""
    mail = OutgoingMail(to=to, subject=subject, body=body, status="queued", created_at=clock.now())
    db.session.add(mail)
    db.session.flush()
    queue.enqueue("default", "portal.jobs.default.run_deliver_mail", mail.id, job_id=f"mail:{mail.id}")
    return mail


def deliver(mail_id: int) -> str:
    """Deliver one mail; a mail already sent is left alone (idempotent)."""
    mail = db.session.get(OutgoingMail, mail_id)
    if mail is None or mail.status == "sent":
        return "skipped"
    host = current_app.config.get("MAIL_SMTP_HOST")
    if host:
        message = EmailMessage()
        message["From"] = current_app.config["MAIL_FROM"]
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        with smtplib.SMTP(host, current_app.config["MAIL_SMTP_PORT"], timeout=10) as smtp:
            smtp.send_message(message)
    else:
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.body)
    mail.status = "sent"
    mail.sent_at = clock.now()
    return "sent"
