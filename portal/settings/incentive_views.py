"""核销激励 at /settings/incentives/: the offers (owner and HQ admins), the called-back orders to
push one to, and what was pushed with its uptake (owner, HQ admins, store managers)."""

from flask import flash, request, url_for
from flask_login import current_user

from portal import clock, htmx
from portal.accounts import tenancy
from portal.catalog.models import Product
from portal.extensions import db
from portal.i18n import gettext as _
from portal.orders.models import Order
from portal.settings import incentives
from portal.settings.forms import IncentiveOfferForm, PushIncentiveForm
from portal.settings.models import IncentiveOffer
from portal.settings.views import ADMINS, MANAGERS, _feature_off, _field_error, bp

PAGE = "settings/incentives.html"


def _offer_form(formdata=None) -> IncentiveOfferForm:
    form = IncentiveOfferForm() if formdata is not None else IncentiveOfferForm(formdata=None, body=incentives.DEFAULT_BODY, valid_days=3)
    form.product_ids.choices = [(str(p.id), p.name) for p in db.session.scalars(tenancy.query(Product, store_column="").order_by(Product.id))]
    return form


def _page(*, offer_form=None, push_errors=None, status=200):
    tenant = tenancy.current()
    org_id = tenant.organization.id
    offers = incentives.list_offers(org_id)
    orders = incentives.pushable_orders(org_id, tenant.store_ids)
    return htmx.render(
        PAGE, None, status=status,
        offers=offers,
        offer_form=offer_form or (_offer_form() if tenant.is_admin else None),
        orders=[(order, incentives.offers_for(order, offers)) for order in orders],
        push_errors=push_errors or {},
        sent=incentives.list_sent(org_id, tenant.store_ids),
        placeholder_names="、".join("{%s}（%s）" % (name, label) for name, label in incentives.PLACEHOLDERS.items()),
        now=clock.now(),
    )


@bp.get("/incentives/")
@tenancy.require(*MANAGERS)
def incentives_index():
    return _feature_off("followup_messages") or _page()


@bp.post("/incentives/offers")
@tenancy.require(*ADMINS)
def incentive_offer_add():
    off = _feature_off("followup_messages")
    if off:
        return off
    form = _offer_form(request.form)
    if form.validate_on_submit():
        try:
            incentives.add_offer(tenancy.current().organization, text=form.text.data, gift=form.gift.data, valid_days=form.valid_days.data,
                                 product_ids=form.product_ids.data, template_id=form.template_id.data, body=form.body.data,
                                 actor=current_user)
        except incentives.IncentiveError as error:
            _field_error(form, error, "text")
        else:
            db.session.commit()
            flash(_("核销激励“%(text)s”已保存，回访后即可推送给顾客。", text=form.text.data.strip()), "success")
            return htmx.redirect(url_for("settings.incentives_index"))
    return _page(offer_form=form, status=422)


@bp.post("/incentives/offers/<int:offer_id>/switch")
@tenancy.require(*ADMINS)
def incentive_offer_switch(offer_id):
    offer = tenancy.get_or_404(IncentiveOffer, offer_id, store_column="")
    active = request.form.get("active") == "1"
    incentives.set_offer_active(offer, active, actor=current_user)
    db.session.commit()
    flash(_("已启用，可以推送。") if active else _("已停用；已推送的激励在截止前仍然有效。"), "success")
    return htmx.redirect(url_for("settings.incentives_index"))


@bp.post("/incentives/orders/<int:order_id>/push")
@tenancy.require(*MANAGERS)
def incentive_push(order_id):
    off = _feature_off("followup_messages")
    if off:
        return off
    order = tenancy.get_or_404(Order, order_id)
    form = PushIncentiveForm()
    if form.validate_on_submit():
        offer = tenancy.get_or_404(IncentiveOffer, form.offer_id.data, store_column="")
        try:
            incentive = incentives.push(order, offer, actor=current_user, now=clock.now())
        except incentives.IncentiveError as error:
            db.session.rollback()
            return _page(push_errors={order.id: str(error)}, status=422)
        db.session.commit()
        flash(_("已向订单 %(order)s 的顾客推送“%(text)s”，%(deadline)s 前到店核销有效。", order=order.douyin_order_id, text=incentive.text,
                deadline=incentive.deadline_at.astimezone(clock.SHANGHAI).strftime("%m-%d %H:%M")), "success")
        return htmx.redirect(url_for("settings.incentives_index"))
    return _page(push_errors={order.id: "；".join(form.offer_id.errors) or _("请选择要推送的激励")}, status=422)
