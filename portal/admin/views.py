"""The platform operator area at /admin/: the headline operations figures, merchants, edition and feature toggles, sync runs,
failed jobs, webhook events with replay, onboarding state (never secrets)."""

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user

from portal import htmx
from portal.accounts import tenancy
from portal.accounts.models import Edition, Organization
from portal.admin import service
from portal.douyin.events import WebhookEvent
from portal.extensions import db
from portal.i18n import gettext as _
from portal.ops import figures
from portal.settings import features

bp = Blueprint("admin", __name__, url_prefix="/admin")
EDITION_LABELS = {Edition.BASIC: "基础版", Edition.ADVANCED: "高级版", Edition.FLAGSHIP: "旗舰版"}


def org_or_404(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        abort(404)
    return org


@bp.get("/")
@tenancy.operator_required
def index():
    q = request.args.get("q", "")
    merchants = service.search_merchants(q)
    # The headline figures are on the page only: a search keystroke swaps the rows and reads no stores.
    ops_figures = None if htmx.is_partial() else figures.read_or_none()
    return htmx.render(
        "admin/index.html", "admin/_merchant_rows.html", merchants=merchants, q=q, owner_email=service.owner_email,
        store_count=service.store_count, editions=EDITION_LABELS, figures=ops_figures,
    )


def merchant_page(org: Organization, *, status: int = 200, **overrides):
    """The merchant page; `overrides` put a submitted form (with its errors) in place of a blank one."""
    return render_template(
        "admin/merchant.html",
        org=org,
        editions=EDITION_LABELS,
        features=features.states(org),
        facts=service.onboarding_facts(org.id),
        runs=service.sync_runs(org.id),
        jobs=service.failed_jobs(org.id),
        events=service.webhook_events(org.id),
        **deposits.context(org, **overrides),
    ), status


@bp.get("/merchants/<int:org_id>")
@tenancy.operator_required
def merchant(org_id):
    return merchant_page(org_or_404(org_id))


@bp.post("/merchants/<int:org_id>/edition")
@tenancy.operator_required
def edition(org_id):
    org = org_or_404(org_id)
    try:
        features.set_edition(org, request.form.get("edition", ""), actor=current_user)
    except features.FeatureError as error:
        flash(str(error), "danger")
        return htmx.redirect(url_for("admin.merchant", org_id=org.id))
    db.session.commit()
    if htmx.is_partial():
        return htmx.render("admin/merchant.html", "admin/_features.html", org=org, editions=EDITION_LABELS, features=features.states(org), trigger="admin-features-changed")
    return htmx.redirect(url_for("admin.merchant", org_id=org.id))


@bp.post("/merchants/<int:org_id>/features/<name>")
@tenancy.operator_required
def feature(org_id, name):
    org = org_or_404(org_id)
    if name not in features.FEATURES:
        abort(404)
    features.set_feature(org, name, request.form.get("enabled") == "on", actor=current_user)
    db.session.commit()
    if htmx.is_partial():
        return htmx.render("admin/merchant.html", "admin/_features.html", org=org, editions=EDITION_LABELS, features=features.states(org), trigger="admin-features-changed")
    return htmx.redirect(url_for("admin.merchant", org_id=org.id))


@bp.get("/events/<int:event_id>")
@tenancy.operator_required
def event(event_id):
    item = db.session.get(WebhookEvent, event_id) or abort(404)
    return render_template("admin/event.html", event=item, org=db.session.get(Organization, item.organization_id))


@bp.post("/events/<int:event_id>/replay")
@tenancy.operator_required
def replay(event_id):
    item = db.session.get(WebhookEvent, event_id) or abort(404)
    service.replay_event(item, actor=current_user)
    db.session.commit()
    flash(_("已重新处理该回调"), "success")
    return htmx.redirect(url_for("admin.event", event_id=item.id))


@bp.get("/jobs")
@tenancy.operator_required
def jobs():
    return render_template("admin/jobs.html", jobs=service.failed_jobs())


@bp.post("/jobs/<job_id>/retry")
@tenancy.operator_required
def retry_job(job_id):
    try:
        service.retry_job(job_id, actor=current_user)
    except service.AdminError as error:
        flash(str(error), "danger")
    else:
        db.session.commit()
        flash(_("任务已重新排队"), "success")
    back = request.form.get("next", "")
    return htmx.redirect(back if back.startswith("/") and not back.startswith("//") else url_for("admin.jobs"))


# Last: the deposit pages register their routes on `bp` (and import merchant_page from here).
from portal.admin import deposits  # noqa: E402
