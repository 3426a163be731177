"""The data overview (数据概览): /insights/ for owners, HQ admins and store managers."""

from flask import Blueprint, abort, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from portal import clock, htmx, money, params
from portal.accounts import tenancy
from portal.accounts.models import Store
from portal.forms import options
from portal.i18n import lazy_gettext as _l
from portal.insights import charts, service, tables
from portal.insights.forms import OverviewFilterForm
from portal.settings.incentives import counts as incentive_counts

bp = Blueprint("insights", __name__, url_prefix="/insights")

PAGE, PARTIAL = "insights/index.html", "insights/_overview.html"


def _filter():
    """The period and store filter shared by the overview and its follow-up lists: the form, the
    stores the user may see, the store ids to report on, and the query arguments that keep them."""
    tenant = tenancy.current()
    stores = tenancy.store_names()
    day_from, day_to = service.default_period(clock.today_local())
    args = MultiDict(request.args)
    # A missing or cleared date (the form submitted with the field emptied) means the default period.
    if not args.get("day_from", "").strip():
        args["day_from"] = day_from.isoformat()
    if not args.get("day_to", "").strip():
        args["day_to"] = day_to.isoformat()
    form = OverviewFilterForm(formdata=args)
    form.store.choices = options([("", str(_l("全部门店")))] + [(str(k), v) for k, v in stores.items()])
    store_ids = tenant.store_ids
    period_args = {"day_from": args["day_from"], "day_to": args["day_to"]}
    if tenant.is_admin and form.store.data:
        store_ids = {tenancy.get_or_404(Store, form.store.data).id}
        period_args["store"] = form.store.data
    return tenant, form, stores, store_ids, period_args


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    tenant, form, stores, store_ids, period_args = _filter()
    context = {"form": form, "stores": stores, "show_store_filter": tenant.is_admin, "period_args": period_args}
    if not form.validate():
        return htmx.invalid(PAGE, PARTIAL, report=None, **context)
    try:
        report = service.overview(
            tenant.organization.id,
            store_ids=store_ids,
            stores=stores,
            day_from=form.day_from.data,
            day_to=form.day_to.data,
            now=clock.now(),
        )
    except service.InsightsError as error:
        getattr(form, error.field or "day_to").errors.append(str(error))
        return htmx.invalid(PAGE, PARTIAL, report=None, **context)
    points = [(row.label, row.figures.paid_fen) for row in report.by_day]
    context["paid_chart"] = charts.bar_chart(points, fmt=money.format_fen, min_step=100)
    context["redemption_chart"] = charts.bar_chart([(row.label, row.figures.redemptions) for row in report.by_day])
    context["incentives"] = incentive_counts(tenant.organization.id, store_ids, form.day_from.data, form.day_to.data)
    return htmx.render(PAGE, PARTIAL, report=report, channel_labels=service.channel_labels(), chart_svg=charts.svg, tables=tables, **context)


FOLLOW_UP_TITLES = {"open": _l("长周期未核销"), "long": _l("长周期核销")}


@bp.get("/follow-up/<kind>")
@tenancy.require(*tenancy.MANAGERS)
def follow_up(kind):
    """A whole follow-up list of the overview's period, a page at a time."""
    if kind not in service.FOLLOW_UP_KINDS:
        abort(404)
    tenant, form, stores, store_ids, period_args = _filter()
    if not form.validate():  # the overview shows what is wrong with the period, next to the field
        return redirect(url_for("insights.index", **request.args))
    page = params.page_arg()
    try:
        rows, has_more = service.follow_up(kind, tenant.organization.id, store_ids=store_ids, day_from=form.day_from.data,
                                           day_to=form.day_to.data, now=clock.now(), page=page)
    except service.InsightsError:
        return redirect(url_for("insights.index", **request.args))
    store_name = stores.get(next(iter(store_ids))) if store_ids and len(store_ids) == 1 else ""
    return htmx.render("insights/follow_up.html", "insights/_follow_up.html", kind=kind, rows=rows, has_more=has_more, page_no=page,
                       title=str(FOLLOW_UP_TITLES[kind]), stores=stores, store_name=store_name, period_args=period_args,
                       channel_labels=service.channel_labels(), tables=tables)
