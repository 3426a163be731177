from flask import Blueprint, render_template

from portal.accounts import tenancy
from portal.accounts.models import Role  # noqa: F401

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.get("/")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def index():
    return render_template("placeholder.html", section="settings", layout="desktop")
