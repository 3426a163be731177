from flask import Blueprint, render_template

from portal.accounts import tenancy
from portal.accounts.models import Role  # noqa: F401

bp = Blueprint("ledger", __name__, url_prefix="/ledger")


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    return render_template("placeholder.html", section="ledger", layout="desktop")
