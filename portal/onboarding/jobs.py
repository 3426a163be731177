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


def run_authorization_renewal() -> int:
    """Refresh each authorization whose refresh token runs out within a week, so a mini-program
    that calls nothing for a month stays authorized; one failure does not stop the others."""
    from portal import clock
    from portal.douyin import DouyinError
    from portal.extensions import db
    from portal.onboarding import authorization
    from portal.onboarding.connection import NotConnected
    from portal.onboarding.models import DouyinApp

    renewed = 0
    with app_context():
        for app_id in authorization.renew_expiring(now=clock.now()):
            try:
                authorization.refresh(db.session.get(DouyinApp, app_id), now=clock.now())
            except (DouyinError, NotConnected):
                db.session.rollback()
                continue
            db.session.commit()
            renewed += 1
    return renewed
