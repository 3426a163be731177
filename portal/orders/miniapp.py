"""The mini-program's back end (our API, not Douyin's): the front end places an order here before
payment and gets the tt.requestOrder arguments, then reads back the order and its codes; after
payment the buyer books a visit here.

No session and no CSRF token: the mini-program is not a browser on our site. The URL carries the
organization's callback token, input is checked here, and `service.place_order` rate-limits.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from portal import clock
from portal.security import external_url
from portal.douyin import DouyinError
from portal.extensions import csrf, db
from portal.onboarding.connection import NotConnected, credentials, find_app_by_callback_token
from portal.orders import service
from portal.orders.models import OrderSource

bp = Blueprint("miniapp", __name__, url_prefix="/mp")
csrf.exempt(bp)

_TEXT_FIELDS = {"open_id": 64, "phone": 32, "sku_id": 64, "poi_id": 32, "channel": 16, "tracking_code": 64, "order_source": 16}
_REQUIRED = ("open_id", "sku_id")


def _app_or_404(token: str):
    app = find_app_by_callback_token(token)
    if app is None or not app.enabled:
        return None
    return app


def _read(body) -> tuple[dict, dict]:
    """The order request's fields, or errors by field (all text, quantity an integer 1..10)."""
    if not isinstance(body, dict):
        return {}, {"body": "expected a JSON object"}
    values, errors = {}, {}
    for name, limit in _TEXT_FIELDS.items():
        value = body.get(name, "")
        if not isinstance(value, str) or len(value.strip()) > limit:
            errors[name] = f"expected text of at most {limit} characters"
        else:
            values[name] = value.strip()
    for name in _REQUIRED:
        if not values.get(name) and name not in errors:
            errors[name] = "required"
    quantity = body.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        errors["quantity"] = "expected an integer"
    values["quantity"] = quantity
    if values.get("order_source") and values["order_source"] not in {s.value for s in OrderSource}:
        errors["order_source"] = "unknown order source"
    unknown = sorted(set(body) - set(_TEXT_FIELDS) - {"quantity"})
    if unknown:
        errors[unknown[0]] = "unknown field"
    return values, errors


@bp.post("/<token>/orders")
def place(token: str):
    app = _app_or_404(token)
    if app is None:
        return jsonify({"error": "not found"}), 404
    values, errors = _read(request.get_json(silent=True))
    if errors:
        return jsonify({"errors": errors}), 422
    now = clock.now()
    try:
        creds = credentials(app)
        pre = service.place_order(app.organization_id, client_ip=request.remote_addr or "", now=now, **values)
        arguments = service.request_order_arguments(
            pre, creds, sku_type=current_app.config["MINIAPP_SKU_TYPE"], tag_group_id=current_app.config["MINIAPP_TAG_GROUP_ID"],
            image_url=external_url("static", filename="img/product.svg"), now=now,
        )
    except service.PreOrderThrottled as error:
        db.session.rollback()
        return jsonify({"error": str(error)}), 429
    except service.OrderError as error:
        db.session.rollback()
        return jsonify({"errors": {error.field or "order": str(error)}}), 422
    except NotConnected as error:
        db.session.rollback()
        return jsonify({"error": str(error)}), 409
    db.session.commit()
    return jsonify({"out_order_no": pre.out_order_no, **arguments}), 201


@bp.get("/<token>/orders/<out_order_no>")
def show(token: str, out_order_no: str):
    """The buyer's order as the mini-program shows it: status and our voucher codes (三方码), one
    per item order (a 次卡 is one code with its uses left).
    Only the buyer who placed it (`open_id`) sees it; anyone else gets a 404."""
    app = _app_or_404(token)
    pre = service.find_pre_order(app.organization_id, out_order_no) if app is not None else None
    if pre is None or not pre.buyer_open_id or request.args.get("open_id", "") != pre.buyer_open_id:
        return jsonify({"error": "not found"}), 404
    order = pre.order
    return jsonify({
        "out_order_no": pre.out_order_no,
        "status": order.status if order is not None else pre.status,
        "order_id": order.douyin_order_id if order is not None else None,
        "title": pre.title,
        "quantity": pre.quantity,
        "total_amount": pre.total_fen,
        "vouchers": service.customer_vouchers(order) if order is not None else [],
    })


_BOOKING_FIELDS = {"open_id": 64, "out_order_no": 64, "day": 10, "slot": 32, "note": 200, "room": 40}


def _read_booking(body):
    """The booking request's fields, its day, and errors by field."""
    from datetime import date

    if not isinstance(body, dict):
        return {}, None, {"body": "expected a JSON object"}
    errors = {name: f"expected text of at most {limit} characters" for name, limit in _BOOKING_FIELDS.items()
              if not isinstance(body.get(name, ""), str) or len(body.get(name, "")) > limit}
    people = body.get("people")
    if people is not None and (isinstance(people, bool) or not isinstance(people, int) or not 1 <= people <= 99):
        errors["people"] = "expected an integer from 1 to 99"
    errors.update({name: "unknown field" for name in sorted(set(body) - set(_BOOKING_FIELDS) - {"people"})})
    errors.update({name: "required" for name in ("open_id", "out_order_no", "day", "slot")
                   if name not in errors and not str(body.get(name) or "").strip()})
    day = None
    if not errors:
        try:
            day = date.fromisoformat(body["day"])
        except ValueError:
            errors["day"] = "expected YYYY-MM-DD"
    return body, day, errors


@bp.post("/<token>/bookings")
def book(token: str):
    """A buyer books a visit for a paid order, a time slot and optionally a private room (`room`
    by name, `people`): we create the booking on Douyin and decide it at once against the
    store's slots and rooms. 201 {book_id, status confirmed|refused, reason}; 422 for a bad
    request, an order this buyer cannot book, or a slot or room that is full, taken or unknown
    (nothing is created on Douyin then); 409 when bookings are off or the app is not connected;
    502 when Douyin refuses or is unreachable (nothing is stored)."""
    from portal.onboarding.connection import client_for
    from portal.settings import bookings, features

    app = _app_or_404(token)
    if app is None:
        return jsonify({"error": "not found"}), 404
    body, day, errors = _read_booking(request.get_json(silent=True))
    if errors:
        return jsonify({"errors": errors}), 422
    if not features.enabled(app.organization_id, "bookings"):
        return jsonify({"error": "bookings are off for this shop"}), 409
    try:
        booking = bookings.book_for_buyer(app.organization_id, client_for(app.organization_id), open_id=body["open_id"].strip(),
                                          out_order_no=body["out_order_no"].strip(), day=day, slot=body["slot"],
                                          note=body.get("note", "").strip(), room=body.get("room", "").strip(),
                                          people=body.get("people"), now=clock.now())
    except bookings.BookingRefused as error:
        db.session.rollback()
        return jsonify({"errors": {error.field or "booking": str(error)}}), 422
    except NotConnected as error:
        db.session.rollback()
        return jsonify({"error": str(error)}), 409
    except DouyinError as error:
        db.session.rollback()
        return jsonify({"error": f"Douyin: {error}"}), 502
    db.session.commit()
    return jsonify({"book_id": booking.douyin_booking_id, "status": booking.status,
                    "reason": bookings.refusal_for_customer(booking)}), 201


@bp.get("/<token>/bookings/options")
def booking_options(token: str):
    """What the buyer of a paid order can book on a day at the order's store, for the
    mini-program's picker: {day, store, slots[{slot, capacity, left}], rooms[{room, seats,
    taken_slots[]}]}. Query: open_id, out_order_no, day (YYYY-MM-DD). 404 unless the order is this
    buyer's; 422 for a malformed day; 409 when bookings are off."""
    from datetime import date

    from portal.settings import bookings, features

    app = _app_or_404(token)
    order = bookings.find_buyer_order(app.organization_id, out_order_no=request.args.get("out_order_no", ""),
                                      open_id=request.args.get("open_id", "")) if app is not None else None
    if order is None:
        return jsonify({"error": "not found"}), 404
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return jsonify({"errors": {"day": "expected YYYY-MM-DD"}}), 422
    if not features.enabled(app.organization_id, "bookings"):
        return jsonify({"error": "bookings are off for this shop"}), 409
    store = bookings.store_of_order(order)
    if store is None:
        return jsonify({"day": day.isoformat(), "store": None, "slots": [], "rooms": []})
    return jsonify({**bookings.options_for(store, day), "store": store.name})
