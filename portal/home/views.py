"""The merchant dashboard: where an owner, HQ admin or store manager lands."""

from flask import Blueprint
from sqlalchemy import func

from portal import htmx
from portal.accounts import tenancy
from portal.accounts.models import Membership, MembershipStatus

bp = Blueprint("home", __name__)


@bp.get("/dashboard")
@tenancy.require(*tenancy.MANAGERS)
def dashboard():
    staff_count = tenancy.query(Membership).where(Membership.status == MembershipStatus.ACTIVE).with_only_columns(func.count())
    from portal.extensions import db

    return htmx.render(
        "home/dashboard.html",
        stores=tenancy.stores(),
        staff_count=db.session.scalar(staff_count),
    )
