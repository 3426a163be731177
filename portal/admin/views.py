from flask import Blueprint, render_template

from portal.accounts import tenancy

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@tenancy.operator_required
def index():
    return render_template("placeholder.html", section="admin", layout="desktop")
