"""Jinja filters and globals shared by every template."""

import functools

from flask import Flask
from flask_login import current_user

from portal import clock, money
from portal.accounts import tenancy


def init_app(app: Flask) -> None:
    app.jinja_env.filters["fen"] = money.format_fen
    app.jinja_env.filters["yuan_input"] = money.fen_to_yuan_text
    app.jinja_env.filters["local_dt"] = clock.local_text
    app.jinja_env.globals["clock_now"] = clock.now
    from portal.onboarding.connection import error_text

    app.jinja_env.filters["douyin_error"] = error_text
    from portal import problems

    # A stored Douyin error in plain words, and its code and log id as a line for support.
    app.jinja_env.filters["problem"] = lambda stored: problems.explain(error_text(stored or "")).summary
    app.jinja_env.filters["problem_details"] = lambda stored: problems.explain(stored or "").details
    from portal.orders.refs import order_link

    app.jinja_env.globals["order_link"] = order_link

    @app.context_processor
    def tenant_context():
        tenant = tenancy.current() if current_user and current_user.is_authenticated else None
        return {"tenant": tenant}

    from portal.extensions import login_manager

    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        from portal.extensions import db

        from flask import session

        from portal.accounts.service import token_hash

        user_id, _, version = session_id.partition(":")
        token = session.get("sid")
        if not user_id.isdigit() or not token:
            return None
        # A signed cookie is not enough: its server-side session must not have been signed out
        # (checked in the same statement).
        user = db.session.execute(_user_statement(), {"user_id": int(user_id), "token_hash": token_hash(token)}).unique().scalar_one_or_none()
        if user is None or str(user.session_version) != version:
            return None
        return user


@functools.cache
def _user_statement():
    """A user with their memberships, organizations and (for store-scoped roles) stores, if the
    browser's server-side session is live: every signed-in request resolves its tenant from them,
    and a clerk's or manager's pages start from their store, so one statement, built once, loads
    them all."""
    from sqlalchemy import bindparam, exists, select
    from sqlalchemy.orm import joinedload

    from portal.accounts.models import Membership, User, UserSession

    memberships = joinedload(User.memberships)
    live = exists().where(UserSession.token_hash == bindparam("token_hash"), UserSession.user_id == User.id, UserSession.ended_at.is_(None))
    return select(User).where(User.id == bindparam("user_id"), live).options(
        memberships.joinedload(Membership.organization), memberships.joinedload(Membership.store)
    )
