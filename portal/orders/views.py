from flask import Blueprint, render_template

from portal.accounts import tenancy
from portal.accounts.models import Role  # noqa: F401

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    return render_template("placeholder.html", section="orders", layout="desktop")
