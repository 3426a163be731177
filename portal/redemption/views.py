from flask import Blueprint, render_template

from portal.accounts import tenancy
from portal.accounts.models import Role  # noqa: F401

bp = Blueprint("redemption", __name__, url_prefix="/counter")


@bp.get("/")
@tenancy.require(*tenancy.STAFF)
def index():
    return render_template("placeholder.html", section="redemption", layout="counter")
