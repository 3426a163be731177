"""The consumer simulator at /consumer/: a 390 px Douyin-like page to buy, show vouchers, refund, book."""
from __future__ import annotations

import re
import time

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   url_for)
from sqlalchemy import select

from . import services as sv
from .models import (GOODS_DELIVERY_TYPE, REFUNDED, REFUNDING, UNUSED, VERIFIED, Account, App, SubscriptionMessage, Order,
                     Poi, Product, Refund, TradeBook)
from .services import SandboxError
from .views_util import barcode_svg, qr_svg, release_session

bp = Blueprint("consumer", __name__, url_prefix="/consumer")

STATUS_LABELS = {0: "未支付", UNUSED: "待使用", VERIFIED: "已使用", REFUNDED: "已退款", REFUNDING: "退款中"}
CHANNEL_LABELS = {"short_video": "短视频", "live": "直播间", "search": "搜索"}
SOURCE_LABELS = {"ad": "广告", "normal": "自然流量", "alliance": "达人分销"}


def store():
    return current_app.extensions["sandbox"]


def phone() -> str:
    return request.args.get("phone") or request.cookies.get("sbx_phone") or "13800000000"


@bp.get("/")
def index():
    pois = list(g.db.scalars(select(Poi).order_by(Poi.id)))
    names = {a.account_id: a.account_name for a in g.db.scalars(select(Account))}
    return render_template("consumer/index.html", pois=pois, names=names, phone=phone())


@bp.get("/poi/<poi_id>")
def poi(poi_id):
    p = g.db.scalar(select(Poi).where(Poi.poi_id == poi_id)) or abort(404)
    rows = g.db.scalars(select(Product).where(Product.account_id == p.account_id,
                                              Product.online_status == 1).order_by(Product.id))
    products = [r for r in rows if p.poi_id in {x.poi_id for x in sv.product_pois(g.db, r)}]
    return render_template("consumer/poi.html", poi=p, products=products)


@bp.get("/product/<product_id>")
def product(product_id):
    row = g.db.scalar(select(Product).where(Product.product_id == product_id)) or abort(404)
    if row.online is None:
        abort(404)
    pois = sv.product_pois(g.db, row)
    return render_template("consumer/product.html", row=row, p=row.online["product"],
                           sku=row.online["sku"], pois=pois, poi_id=request.args.get("poi_id"),
                           phone=phone(), channels=CHANNEL_LABELS, sources=SOURCE_LABELS)


@bp.post("/buy")
def buy():
    f = request.form
    try:
        order = sv.purchase(
            g.db, store(), product_id=f.get("product_id", ""), poi_id=f.get("poi_id", ""),
            quantity=int(f.get("quantity") or 1), channel=f.get("channel", "short_video"),
            tracking_code=f.get("tracking_code", "").strip(), order_source=f.get("order_source", "normal"),
            phone=f.get("phone", "").strip() or "13800000000", pay_channel=int(f.get("pay_channel") or 10),
            pay=f.get("action") != "cancel")
        g.db.commit()
    except (SandboxError, ValueError) as exc:
        g.db.rollback()
        flash(getattr(exc, "message", str(exc)), "error")
        return redirect(url_for("consumer.product", product_id=f.get("product_id", ""),
                                poi_id=f.get("poi_id", "")), code=303)
    flash("支付成功" if order.pay_status == "SUCCESS" else "已放弃支付", "ok")
    resp = redirect(url_for("consumer.order", order_id=order.order_id), code=303)
    resp.set_cookie("sbx_phone", order.phone, samesite="Lax")
    return resp


@bp.get("/orders")
def orders():
    rows = list(g.db.scalars(select(Order).where(Order.phone == phone()).order_by(Order.id.desc())))
    return render_template("consumer/orders.html", orders=rows, phone=phone())


@bp.get("/order/<order_id>")
def order(order_id):
    o = g.db.scalar(select(Order).where(Order.order_id == order_id)) or abort(404)
    merchant_codes = _merchant_codes(o)
    vouchers = []
    for item in o.items:
        v = {"item": item, "label": STATUS_LABELS.get(item.status, str(item.status))}
        shown = {} if o.delivery_type == 1 else (merchant_codes.pop(item.item_order_id, None)
                                                  or merchant_codes.pop(next(iter(merchant_codes), None), None) or {})
        v["code"] = item.code if o.delivery_type == 1 else shown.get("code") or ""
        if int(shown.get("uses_total") or 1) > 1:  # a 次卡: one code, its uses left as the merchant counts them
            v["uses"] = (int(shown.get("uses_left") or 0), int(shown["uses_total"]))
        if o.pay_status == "SUCCESS" and v["code"]:
            if o.delivery_type == 1:
                link = url_for("consumer.short_link", short=o.short_code, _external=True)
                v["qr"] = qr_svg(link)
                v["qr_text"] = link
            else:
                v["qr"] = qr_svg(v["code"])
                v["qr_text"] = v["code"]
            v["barcode"] = barcode_svg(v["code"])
        vouchers.append(v)
    return render_template(
        "consumer/order.html", o=o, vouchers=vouchers,
        refunds=list(g.db.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))),
        messages=list(g.db.scalars(select(SubscriptionMessage).where(
            SubscriptionMessage.appid == o.appid, SubscriptionMessage.open_id == o.open_id).order_by(SubscriptionMessage.id))),
        bookings=list(g.db.scalars(select(TradeBook).where(TradeBook.order_id == order_id).order_by(TradeBook.id))),
        book_day=_book_day(), booking_options=_booking_options(o),
        goods=o.delivery_type == GOODS_DELIVERY_TYPE, fulfil=sv.fulfil_status(g.db, o),
        channels=CHANNEL_LABELS, sources=SOURCE_LABELS, refundable=[i for i in o.items if i.status == UNUSED])


def _book_day() -> str:
    """The day the booking picker shows: the one asked for, else the sandbox clock's today (Beijing)."""
    asked = request.args.get("book_day", "")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", asked):
        return asked
    return time.strftime("%Y-%m-%d", time.gmtime(store().now_ms(g.db) / 1000 + 8 * 3600))


def _booking_options(o: Order) -> dict | None:
    """The slots and private rooms the merchant's back end offers for this order on the picker's day."""
    if o.pay_status != "SUCCESS" or o.delivery_type != 0:
        return None
    app = g.db.scalar(select(App).where(App.appid == o.appid))
    return sv.merchant_booking_options(app, o, _book_day())


def _merchant_codes(o: Order) -> dict[str, dict]:
    """A mini-program order's codes are the merchant's own (三方码): the mini-program shows what
    the merchant's back end answers, by item order id (in order while it has not learnt them):
    {item_order_id: {code, uses_total?, uses_left?}}."""
    if o.pay_status != "SUCCESS" or o.delivery_type != 0:
        return {}
    app = g.db.scalar(select(App).where(App.appid == o.appid))
    placed = sv.merchant_order(app, o.out_order_no, o.open_id) if app is not None else None
    return {v.get("item_order_id") or f"#{n}": v for n, v in enumerate((placed or {}).get("vouchers") or []) if isinstance(v, dict)}


@bp.post("/order/<order_id>/refund")
def refund(order_id):
    o = g.db.scalar(select(Order).where(Order.order_id == order_id)) or abort(404)
    ids = request.form.getlist("item_order_id")
    try:
        sv.request_user_refund(g.db, store(), o, ids or None, int(request.form.get("reason_code") or 101),
                               request.form.get("reason_text", "").strip() or "不想要了")
        g.db.commit()
        flash("退款申请已提交", "ok")
    except SandboxError as exc:
        g.db.rollback()
        flash(exc.message, "error")
    return redirect(url_for("consumer.order", order_id=order_id), code=303)


@bp.post("/order/<order_id>/book")
def book(order_id):
    o = g.db.scalar(select(Order).where(Order.order_id == order_id)) or abort(404)
    try:
        people = request.form.get("people", "").strip()
        url, wish = sv.booking_wish(g.db, o, request.form.get("date", ""), request.form.get("slot", ""),
                                    request.form.get("note", ""), room=request.form.get("room", ""),
                                    people=int(people) if people.isdigit() else None)
        release_session()
        reply = sv.ask_merchant_to_book(url, wish)
        flash("预约已提交，商家已确认" if reply.get("status") == "confirmed" else
              f"商家无法接受该预约：{reply.get('reason') or '—'}", "ok" if reply.get("status") == "confirmed" else "error")
    except SandboxError as exc:
        flash(exc.message, "error")
    return redirect(url_for("consumer.order", order_id=order_id), code=303)


@bp.get("/s/<short>")
def short_link(short):
    """The QR's short link (like v.douyin.com/…): redirects to a long URL whose object_id is encrypted_data."""
    o = g.db.scalar(select(Order).where(Order.short_code == short))
    if o is None:
        return render_template("consumer/share.html", object_id=None), 404
    return redirect(url_for("consumer.share", object_id=o.encrypted_data), code=302)


@bp.get("/share")
def share():
    return render_template("consumer/share.html", object_id=request.args.get("object_id"))
