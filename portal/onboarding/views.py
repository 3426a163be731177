from flask import Blueprint, render_template

from portal.accounts import tenancy
from portal.accounts.models import Role  # noqa: F401

bp = Blueprint("onboarding", __name__, url_prefix="/onboarding")


@bp.get("/")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def index():
    return render_template("placeholder.html", section="onboarding", layout="desktop")
