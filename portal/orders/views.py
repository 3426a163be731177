"""订单与核销: the order list with filters, an order's page, courier shipping, voucher images."""

from flask import Blueprint, Response, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import clock, htmx, params
from portal.accounts import tenancy
from portal.extensions import db
from portal.orders import codes, laike, service
from portal.orders import shipping as courier
from portal.orders.forms import ShippingForm
from portal.orders.models import Channel, Fulfilment, Order, OrderSource, OrderStatus, Voucher
from portal.redemption import service as redemption

bp = Blueprint("orders", __name__, url_prefix="/orders")

PAGE_SIZE = 50


def _choice(name: str, allowed) -> str:
    value = request.args.get(name, "")
    return value if value in {e.value for e in allowed} else ""


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    store_arg = params.int_arg("store")
    store_id = store_arg if store_arg is not None and tenancy.current().can_see_store(store_arg) else None
    filters = {
        "status": _choice("status", OrderStatus),
        "fulfilment": _choice("fulfilment", Fulfilment),
        "source": _choice("source", OrderSource),
        "channel": _choice("channel", Channel),
        "q": request.args.get("q", "").strip()[:64],
        "store_id": store_id,
    }
    stmt = service.filter_orders(tenancy.query(Order), **filters)
    page = service.page_orders(stmt, before=params.int_arg("before"), after=params.int_arg("after"), limit=PAGE_SIZE)
    return htmx.render(
        "orders/index.html",
        "orders/_rows.html",
        listing=page,
        orders=page.orders,
        counts=service.voucher_counts([o.id for o in page.orders]),
        filters=filters,
        # The pager's links keep the filters that are set, and nothing else.
        args={k: v for k, v in (("q", filters["q"]), ("status", filters["status"]), ("fulfilment", filters["fulfilment"]),
                                ("source", filters["source"]), ("channel", filters["channel"]), ("store", store_id)) if v},
        stores=tenancy.stores(),
        labels=_labels(),
        mask=service.mask_phone,
    )


def _labels():
    return {
        "status": service.STATUS_LABELS,
        "source": service.SOURCE_LABELS,
        "channel": service.CHANNEL_LABELS,
        "trade_family": laike.TRADE_FAMILY_LABELS,
        "fulfilment": service.FULFILMENT_LABELS,
        "voucher": service.VOUCHER_LABELS,
        "shipping": service.SHIPPING_LABELS,
        "carrier": courier.carrier_name,
    }


def _show(order: Order, form: ShippingForm | None = None, status: int = 200):
    history = service.order_history(order)
    return htmx.render(
        "orders/show.html",
        "orders/_shipping.html" if form is not None and form.is_submitted() else None,
        status=status,
        order=order,
        cards=service.cards(order),
        history=history,
        cases=redemption.cases_of(history),
        refunds=service.refunds_of(order),
        form=form or ShippingForm(formdata=None, status=service.next_shipping(order)),
        labels=_labels(),
        mask=service.mask_phone,
        grouped=codes.grouped,
        store_names=service.store_names,
        reason_text=redemption.REASON_TEXT,
    )


@bp.get("/<int:order_id>")
@tenancy.require(*tenancy.MANAGERS)
def show(order_id: int):
    return _show(tenancy.get_or_404(Order, order_id))


@bp.post("/<int:order_id>/shipping")
@tenancy.require(*tenancy.MANAGERS)
def shipping(order_id: int):
    order = tenancy.get_or_404(Order, order_id)
    form = ShippingForm()
    if not form.validate_on_submit():
        return _show(order, form, 422)
    try:
        service.update_shipping(order, form.status.data, actor=current_user, now=clock.now(),
                                carrier=form.carrier.data or "", tracking_number=form.tracking_number.data or "")
    except service.OrderError as error:
        db.session.rollback()
        getattr(form, error.field if error.field in ("carrier", "tracking_number") else "status").errors.append(str(error))
        return _show(order, form, 422)
    db.session.commit()
    return htmx.redirect(url_for("orders.show", order_id=order.id))


def _voucher(voucher_id: int) -> Voucher:
    voucher = db.session.scalar(
        select(Voucher).join(Order, Voucher.order_id == Order.id).where(Voucher.id == voucher_id, Order.id.in_(tenancy.query(Order).with_only_columns(Order.id)))
    )
    if voucher is None:
        from flask import abort

        abort(404)
    return voucher


@bp.get("/vouchers/<int:voucher_id>/qr.svg")
@tenancy.require(*tenancy.MANAGERS)
def qr(voucher_id: int):
    return Response(codes.qr_svg(_voucher(voucher_id).code), mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/vouchers/<int:voucher_id>/barcode.svg")
@tenancy.require(*tenancy.MANAGERS)
def barcode(voucher_id: int):
    return Response(codes.barcode_svg(_voucher(voucher_id).code), mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
