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

        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.execute(_user_statement(), {"user_id": int(user_id)}).unique().scalar_one_or_none()
        if user is None or str(user.session_version) != version:
            return None
        from flask import session

        from portal.accounts.service import session_is_live

        # A signed cookie is not enough: its server-side session must not have been signed out.
        return user if session_is_live(user.id, session.get("sid")) else None


@functools.cache
def _user_statement():
    """A user with their memberships, organizations and (for store-scoped roles) stores: every
    signed-in request resolves its tenant from them, and a clerk's or manager's pages start from
    their store, so one statement, built once, loads them all."""
    from sqlalchemy import bindparam, select
    from sqlalchemy.orm import joinedload

    from portal.accounts.models import Membership, User

    memberships = joinedload(User.memberships)
    return select(User).where(User.id == bindparam("user_id")).options(
        memberships.joinedload(Membership.organization), memberships.joinedload(Membership.store)
    )
