"""Jobs on the `default` queue."""

from portal.jobs import app_context


def run_deliver_mail(mail_id: int) -> str:
    """Send one queued e-mail; idempotent (a sent mail is not sent again)."""
    from portal import mail
    from portal.extensions import db

    with app_context():
        status = mail.deliver(mail_id)
        db.session.commit()
        return status
