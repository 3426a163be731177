"""The data overview (数据概览): /insights/ for owners, HQ admins and store managers."""

from flask import Blueprint, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from portal import clock, htmx, money
from portal.accounts import tenancy
from portal.accounts.models import Store
from portal.insights import charts, service
from portal.insights.forms import OverviewFilterForm

bp = Blueprint("insights", __name__, url_prefix="/insights")

PAGE, PARTIAL = "insights/index.html", "insights/_overview.html"


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    tenant = tenancy.current()
    stores = {s.id: s.name for s in tenancy.stores()}
    day_from, day_to = service.default_period(clock.today_local())
    args = MultiDict(request.args)
    args.setdefault("day_from", day_from.isoformat())
    args.setdefault("day_to", day_to.isoformat())
    form = OverviewFilterForm(formdata=args)
    form.store.choices = [("", str(_l("全部门店")))] + [(str(k), v) for k, v in stores.items()]
    store_ids = tenant.store_ids
    if tenant.is_admin and form.store.data:
        store_ids = {tenancy.get_or_404(Store, form.store.data).id}
    context = {"form": form, "stores": stores, "show_store_filter": tenant.is_admin}
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
    context["paid_chart"] = charts.bar_chart(points, fmt=money.format_fen)
    context["redemption_chart"] = charts.bar_chart([(row.label, row.figures.redemptions) for row in report.by_day])
    return htmx.render(PAGE, PARTIAL, report=report, channel_labels=service.CHANNEL_LABELS, **context)
