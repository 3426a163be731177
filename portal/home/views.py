"""The home page (概览): where an owner, HQ admin or store manager lands: today's money and
what needs them now. The figures and the to-do list refresh themselves while the page is open."""

from flask import Blueprint, current_app

from portal import clock, htmx
from portal.accounts import tenancy
from portal.home import service

bp = Blueprint("home", __name__)

REFRESH_SECONDS = 30  # the default of HOME_REFRESH_SECONDS (portal.config)


@bp.get("/dashboard")
@tenancy.require(*tenancy.MANAGERS)
def dashboard():
    tenant = tenancy.current()
    now = clock.now()
    org = tenant.organization
    return htmx.render(
        "home/dashboard.html",
        "home/_now.html",
        figures=service.figures(org.id, tenant.store_ids, now=now),
        todos=service.todos(org, tenant.store_ids, admin=tenant.is_admin, now=now),
        stores=tenancy.store_names(),
        now=now,
        refresh_seconds=current_app.config.get("HOME_REFRESH_SECONDS", REFRESH_SECONDS),
    )
