"""Periodic job of the onboarding domain: notice Douyin's review decisions even when nobody
has the 提审 page open (the page's own poll does the same while it is shown)."""

from portal.jobs import app_context


def run_miniapp_review_poll() -> int:
    """Refresh every running mini-program review; one failing review does not stop the others."""
    from portal import clock
    from portal.extensions import db
    from portal.onboarding import service
    from portal.onboarding.models import MiniappReview

    decided = 0
    # No request here: messages and notifications are written in the source language (portal.i18n).
    with app_context():
        for review_id in service.refresh_open_reviews(now=clock.now()):
            review = db.session.get(MiniappReview, review_id)
            try:
                service.refresh_review(review, now=clock.now())
            except service.OnboardingError:
                db.session.rollback()
                continue
            decided += review.status != "reviewing"
            db.session.commit()
    return decided
