from flask import Blueprint, render_template

from portal.accounts import tenancy
from portal.accounts.models import Role  # noqa: F401

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    return render_template("placeholder.html", section="catalog", layout="desktop")
