"""Settings at /settings/: notifications, follow-up and call-backs, bookings, stores, content,
linked accounts, language, audit trail."""

import csv
import io

from markupsafe import Markup

from flask import Blueprint, Response, abort, flash, render_template, request, url_for
from flask_login import current_user

from portal import clock, htmx
from portal.accounts import tenancy
from portal.accounts.models import Role, Store
from portal.catalog.models import Product
from portal.douyin import DouyinError
from portal.extensions import db
from portal.forms import options
from portal.i18n import gettext as _
from portal.notifications import KINDS, Notification
from portal.onboarding.connection import NotConnected, client_for
from portal.settings import bookings as booking_service
from portal.settings import content as content_service
from portal.settings import activity, features, linked, service, storepage
from portal.settings.errors import SettingsError
from portal.settings.forms import ActivityFilterForm, ContentForm, FollowUpForm, LinkForm, ShopNameForm, SlotForm, StorePageForm
from portal.settings.forms import RoomForm
from portal.settings.models import BookingRoom, BookingSlot, CallbackTask, Content, LinkAuthorization, LinkedAccount

bp = Blueprint("settings", __name__, url_prefix="/settings")
ADMINS = (Role.OWNER, Role.HQ_ADMIN)
MANAGERS = (Role.OWNER, Role.HQ_ADMIN, Role.STORE_MANAGER)
NOTIFICATIONS_CHANGED = "notifications-changed"


@bp.app_context_processor
def _badge_context():
    def unread():
        tenant = tenancy.current() if current_user.is_authenticated else None
        if tenant is None or tenant.role == Role.CLERK:
            return None
        return service.unread_count(tenant.organization.id, tenant.store_ids)

    return {"settings_unread_notifications": unread}


def _tenant():
    return tenancy.current()


def _feature_off(name: str):
    if features.enabled(_tenant().organization.id, name):
        return None
    status = 200 if request.method == "GET" else 403
    return render_template("settings/feature_off.html", feature=features.FEATURES[name]), status


def _field_error(form, error: SettingsError, default: str):
    getattr(form, error.field if error.field and hasattr(form, error.field) else default).errors.append(str(error))


@bp.get("/")
@tenancy.require(*ADMINS)
def index():
    org = _tenant().organization
    return render_template(
        "settings/index.html",
        shop_form=ShopNameForm(name=org.name),
        features=features.states(org),
        official=next((a for a in linked.active(org.id) if a.role == "official"), None),
    )


@bp.post("/shop")
@tenancy.require(*ADMINS)
def rename_shop():
    form = ShopNameForm()
    if form.validate_on_submit():
        try:
            service.rename_shop(_tenant().organization, form.name.data, actor=current_user)
        except SettingsError as error:
            _field_error(form, error, "name")
        else:
            db.session.commit()
            flash(_("店铺名称已更新，官方账号名称已同步"), "success")
            return htmx.redirect(url_for("settings.index"))
    return htmx.invalid("settings/index.html", "settings/_shop_form.html", shop_form=form, links={}, features=features.states(_tenant().organization), official=None)


# --- notifications ---------------------------------------------------------------------------

def _notes_page(**extra):
    tenant = _tenant()
    notes = db.session.scalars(
        service.visible_notifications(tenant.organization.id, tenant.store_ids).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(200)
    ).all()
    return htmx.render("settings/notifications.html", "settings/_notification_list.html", notes=notes, kinds=KINDS, trigger=extra.pop("trigger", None), **extra)


@bp.get("/notifications/")
@tenancy.require(*MANAGERS)
def notifications():
    return _notes_page()


@bp.get("/notifications/badge")
@tenancy.require(*MANAGERS)
def notification_badge():
    return render_template("settings/_notification_badge.html")


def _visible_note_or_404(note_id) -> Notification:
    tenant = _tenant()
    note = db.session.scalar(service.visible_notifications(tenant.organization.id, tenant.store_ids).where(Notification.id == note_id))
    if note is None:
        abort(404)
    return note


@bp.post("/notifications/<int:note_id>/read")
@tenancy.require(*MANAGERS)
def notification_read(note_id):
    note = _visible_note_or_404(note_id)
    service.mark_read(note, now=clock.now())
    db.session.commit()
    if htmx.is_partial():
        return htmx.render("settings/notifications.html", "settings/_notification_row.html", note=note, kinds=KINDS, trigger=NOTIFICATIONS_CHANGED)
    return htmx.redirect(note.link or url_for("settings.notifications"), trigger=NOTIFICATIONS_CHANGED)


@bp.post("/notifications/read-all")
@tenancy.require(*MANAGERS)
def notifications_read_all():
    tenant = _tenant()
    service.mark_all_read(tenant.organization.id, tenant.store_ids, now=clock.now())
    db.session.commit()
    if htmx.is_partial():
        return _notes_page(trigger=NOTIFICATIONS_CHANGED)
    return htmx.redirect(url_for("settings.notifications"), trigger=NOTIFICATIONS_CHANGED)


@bp.get("/notifications/switches")
@tenancy.require(*ADMINS)
def notification_switches():
    org_id = _tenant().organization.id
    return render_template(
        "settings/switches.html", switches=service.notification_switches(org_id), kinds=KINDS, email_on=features.enabled(org_id, "email_notifications")
    )


@bp.post("/notifications/switches/<kind>")
@tenancy.require(*ADMINS)
def notification_switch(kind):
    if kind not in service.SWITCHABLE_KINDS:
        abort(404)
    org = _tenant().organization
    service.set_notification_switch(org, kind, request.form.get("email") == "on", actor=current_user)
    db.session.commit()
    if htmx.is_partial():
        return render_template("settings/_switch.html", kind=kind, on=service.notification_switches(org.id)[kind], kinds=KINDS)
    on = service.notification_switches(org.id)[kind]
    flash(_("已保存：「%(kind)s」从现在起%(how)s。", kind=KINDS.get(kind, kind), how=_("同时发邮件") if on else _("只在站内通知，不再发邮件")), "success")
    return htmx.redirect(url_for("settings.notification_switches"))


# --- after-payment follow-up and call-backs ---------------------------------------------------

def _preview(body: str):
    """The filled fields of a field map (with the first store's facts), or the problem with it."""
    store = tenancy.stores()[0] if tenancy.stores() else None
    try:
        return service.render_fields(body, service.sample_values(store)), None
    except SettingsError as problem:
        return {}, str(problem)


def _followup_page(form, status=200):
    tenant = _tenant()
    preview, error = _preview(form.body.data or "")
    return htmx.render(
        "settings/followup.html",
        "settings/_followup_form.html",
        form=form,
        preview=preview,
        preview_error=error if status == 200 else None,
        placeholders=service.PLACEHOLDERS,
        feature_on=features.enabled(tenant.organization.id, "followup_messages"),
        status=status,
    )


@bp.route("/followup", methods=["GET", "POST"])
@tenancy.require(*ADMINS)
def followup():
    org = _tenant().organization
    if request.method == "GET":
        template = service.get_template(org.id)
        db.session.commit()
        return _followup_page(FollowUpForm(enabled=template.enabled, template_id=template.template_id, body=template.body, page=template.page))
    form = FollowUpForm()
    if form.validate_on_submit():
        try:
            service.save_template(org, template_id=form.template_id.data, body=form.body.data, page=form.page.data,
                                  enabled=form.enabled.data, actor=current_user)
        except SettingsError as error:
            _field_error(form, error, "body")
        else:
            db.session.commit()
            flash(_("支付后消息模板已保存"), "success")
            return htmx.redirect(url_for("settings.followup"))
    return _followup_page(form, status=422)


@bp.post("/followup/preview")
@tenancy.require(*ADMINS)
def followup_preview():
    preview, error = _preview(request.form.get("body", ""))
    return render_template("settings/_followup_preview.html", preview=preview, preview_error=error)


@bp.get("/callbacks")
@tenancy.require(*MANAGERS)
def callbacks():
    tenant = _tenant()
    tasks = service.list_callback_tasks(tenant.organization.id, tenant.store_ids)
    return htmx.render("settings/callbacks.html", "settings/_callback_list.html", tasks=tasks, now=clock.now())


@bp.post("/callbacks/<int:task_id>/contacted")
@tenancy.require(*MANAGERS)
def callback_contacted(task_id):
    task = tenancy.get_or_404(CallbackTask, task_id)
    service.mark_contacted(task, actor=current_user, now=clock.now(), note=request.form.get("note", ""))
    db.session.commit()
    flash(_("已记录为已联系，记录人和时间已保存。"), "success")
    return htmx.redirect(url_for("settings.callbacks"))


# --- stores ------------------------------------------------------------------------------------

@bp.get("/stores/")
@tenancy.require(*ADMINS)
def stores():
    return render_template("settings/stores.html", stores=tenancy.stores())


def _store_form(store) -> StorePageForm:
    if request.method != "GET":
        return StorePageForm()
    page = storepage.find_page(store)
    hours = (page.hours if page else None) or {}
    return StorePageForm(name=store.name, address=store.address, phone=store.phone, cover_image_url=page.cover_image_url if page else "",
                         **{f"hours_{day}": ", ".join(hours.get(day, [])) for day in storepage.WEEKDAYS})


def _store_page(store, form, status=200, problem=None):
    return htmx.render("settings/store_edit.html", "settings/_store_form.html", form=form, store=store, status=status,
                       store_page=storepage.find_page(store), weekdays=storepage.WEEKDAYS, mismatch_fields=storepage.MISMATCH_FIELDS,
                       problem=problem)


@bp.route("/stores/<int:store_id>", methods=["GET", "POST"])
@tenancy.require(*ADMINS)
def store_edit(store_id):
    store = tenancy.get_or_404(Store, store_id)
    form = _store_form(store)
    if form.validate_on_submit():
        try:
            storepage.save_store_page(store, actor=current_user, now=clock.now(), name=form.name.data, address=form.address.data or "",
                                      phone=form.phone.data or "", cover_image_url=form.cover_image_url.data or "",
                                      hours={day: getattr(form, f"hours_{day}").data or "" for day in storepage.WEEKDAYS})
        except SettingsError as error:
            _field_error(form, error, "name")
        else:
            db.session.commit()
            flash(_("门店信息已保存，正在推送到抖音门店页并等待审核") if store.douyin_poi_id else _("门店信息已保存；门店尚未绑定抖音门店（POI），未推送"), "success")
            return htmx.redirect(url_for("settings.store_edit", store_id=store.id))
    return _store_page(store, form, status=422 if form.is_submitted() else 200)


@bp.get("/stores/<int:store_id>/review")
@tenancy.require(*ADMINS)
def store_review(store_id):
    """The Douyin review of the store page and the POI comparison, asked afresh (the card polls it while under review)."""
    store = tenancy.get_or_404(Store, store_id)
    page = storepage.get_page(store, now=clock.now())
    problem = None
    try:
        storepage.refresh_review(store, page, client=client_for(store.organization_id), actor=current_user, now=clock.now())
    except (DouyinError, NotConnected) as error:
        problem = str(error)
    db.session.commit()
    response = render_template("settings/_store_review.html", store=store, store_page=page, mismatch_fields=storepage.MISMATCH_FIELDS, problem=problem)
    if not htmx.is_partial():
        return _store_page(store, _store_form(store), problem=problem)
    return response


# --- bookings ------------------------------------------------------------------------------------

def _bookings_page(slot_form=None, status=200, room_form=None):
    stores = tenancy.stores()
    store = next((s for s in stores if s.id == request.values.get("store_id", type=int)), stores[0] if stores else None)
    day = booking_service.parse_day(request.values.get("day"))
    rows = booking_service.day_view(store, day) if store else []
    return htmx.render(
        "settings/bookings.html",
        "settings/_booking_day.html",
        stores=stores,
        store=store,
        day=day,
        rows=rows,
        booked=booking_service.booked,
        slot_form=slot_form or SlotForm(),
        rooms=booking_service.list_rooms(store.id) if store else [],
        room_form=room_form or RoomForm(formdata=None),
        status=status,
    )


@bp.get("/bookings/")
@tenancy.require(*MANAGERS)
def bookings():
    return _feature_off("bookings") or _bookings_page()


@bp.post("/bookings/slots")
@tenancy.require(*ADMINS)
def slot_add():
    off = _feature_off("bookings")
    if off:
        return off
    store = tenancy.get_or_404(Store, request.form.get("store_id"))
    form = SlotForm()
    if form.validate_on_submit():
        try:
            booking_service.add_slot(store, starts=form.starts.data, ends=form.ends.data, capacity=form.capacity.data, actor=current_user)
        except SettingsError as error:
            _field_error(form, error, "starts")
        else:
            db.session.commit()
            flash(_("时段 %(starts)s–%(ends)s 已添加，顾客从现在起可以预约。", starts=form.starts.data.strip(), ends=form.ends.data.strip()), "success")
            return htmx.redirect(url_for("settings.bookings", store_id=store.id))
    return _bookings_page(slot_form=form, status=422)


@bp.post("/bookings/slots/<int:slot_id>/delete")
@tenancy.require(*ADMINS)
def slot_delete(slot_id):
    slot = tenancy.get_or_404(BookingSlot, slot_id)
    store_id = slot.store_id
    booking_service.remove_slot(slot, actor=current_user)
    db.session.commit()
    flash(_("时段已删除，顾客不能再预约它；已有的预约不受影响。"), "success")
    return htmx.redirect(url_for("settings.bookings", store_id=store_id))


@bp.post("/bookings/rooms")
@tenancy.require(*ADMINS)
def room_add():
    off = _feature_off("bookings")
    if off:
        return off
    store = tenancy.get_or_404(Store, request.form.get("store_id"))
    form = RoomForm()
    if form.validate_on_submit():
        try:
            booking_service.add_room(store, name=form.name.data, seats=form.seats.data, actor=current_user)
        except SettingsError as error:
            _field_error(form, error, "name")
        else:
            db.session.commit()
            flash(_("包间 %(name)s 已添加，顾客预约时段时可以选择它。", name=form.name.data.strip()), "success")
            return htmx.redirect(url_for("settings.bookings", store_id=store.id))
    return _bookings_page(room_form=form, status=422)


@bp.post("/bookings/rooms/<int:room_id>/delete")
@tenancy.require(*ADMINS)
def room_delete(room_id):
    room = tenancy.get_or_404(BookingRoom, room_id)
    store_id = room.store_id
    booking_service.remove_room(room, actor=current_user)
    db.session.commit()
    flash(_("包间已删除，顾客不能再选择它；已有的预约保留包间名称。"), "success")
    return htmx.redirect(url_for("settings.bookings", store_id=store_id))


# --- content and attribution ------------------------------------------------------------------

def _content_form() -> ContentForm:
    form = ContentForm()
    form.store_id.choices = options((str(s.id), _("%(store)s（POI %(poi)s）", store=s.name, poi=s.douyin_poi_id or _("未绑定"))) for s in tenancy.stores())
    products = db.session.scalars(tenancy.query(Product).order_by(Product.id)).all()
    form.product_ids.choices = options((str(p.id), p.name) for p in products)
    return form


def _content_page(form, status=200):
    org_id = _tenant().organization.id
    contents = db.session.scalars(tenancy.query(Content).order_by(Content.published_on.desc(), Content.id.desc())).all()
    return htmx.render(
        "settings/content.html",
        "settings/_content_form.html",
        form=form,
        contents=contents,
        links={c.id: content_service.tracking_link(c) for c in contents},
        stats=content_service.performance(org_id, [c.tracking_code for c in contents]),
        status=status,
    )


@bp.get("/content/")
@tenancy.require(*ADMINS)
def content():
    return _feature_off("content_attribution") or _content_page(_content_form())


@bp.post("/content/")
@tenancy.require(*ADMINS)
def content_register():
    off = _feature_off("content_attribution")
    if off:
        return off
    form = _content_form()
    if form.validate_on_submit():
        store = tenancy.get_or_404(Store, form.store_id.data)
        products = [tenancy.get_or_404(Product, pid) for pid in form.product_ids.data]
        try:
            item = content_service.register_content(
                _tenant().organization, kind=form.kind.data, title=form.title.data, douyin_item_id=form.douyin_item_id.data,
                published_on=form.published_on.data, store=store, products=products, actor=current_user,
            )
        except SettingsError as error:
            _field_error(form, error, "title")
        else:
            db.session.commit()
            flash(_("已登记，追踪码 %(code)s", code=item.tracking_code), "success")
            return htmx.redirect(url_for("settings.content"))
    return _content_page(form, status=422)


# --- linked accounts ------------------------------------------------------------------------------

def _qr_svg(text: str) -> Markup:
    import segno

    return Markup(segno.make(text, error="m").svg_inline(scale=4, border=2))


def _linked_page(form, status=200, authorization=None, problem=None):
    org = _tenant().organization
    accounts = linked.active(org.id)
    now = clock.now()
    return htmx.render(
        "settings/linked.html",
        "settings/_link_authorization.html",
        form=form,
        accounts=accounts,
        unbound=linked.recently_unbound(org.id, now=now),
        problems={a.id: linked.unbind_problem(a, now=now) for a in accounts},
        unbinds=linked.official_unbinds(org.id),
        rules=linked,
        platforms=linked.PLATFORMS,
        authorization=authorization or linked.open_authorization(org.id),
        problem=problem,
        now=now,
        qr_svg=_qr_svg,
        status=status,
    )


@bp.get("/accounts/")
@tenancy.require(*ADMINS)
def linked_accounts():
    return _feature_off("linked_accounts") or _linked_page(LinkForm())


@bp.post("/accounts/")
@tenancy.require(*ADMINS)
def link_account():
    """Start a binding: Douyin issues the QR the account's owner scans (no typed account ids)."""
    off = _feature_off("linked_accounts")
    if off:
        return off
    form = LinkForm()
    if form.validate_on_submit():
        org = _tenant().organization
        try:
            linked.check_place(org.id, form.role.data)
            auth = linked.start_authorization(org, form.role.data, client=client_for(org.id), actor=current_user, now=clock.now())
        except SettingsError as error:
            _field_error(form, error, "role")
        except (DouyinError, NotConnected) as error:
            db.session.rollback()
            return _linked_page(form, status=502, problem=str(error))
        else:
            db.session.commit()
            return _linked_page(LinkForm(formdata=None), authorization=auth)
    return _linked_page(form, status=422)


@bp.get("/accounts/authorizations/<int:auth_id>")
@tenancy.require(*ADMINS)
def link_authorization(auth_id):
    """The pending authorization, moved on with what Douyin says; polled while it waits."""
    auth = tenancy.get_or_404(LinkAuthorization, auth_id)
    org = _tenant().organization
    problem = None
    try:
        linked.poll_authorization(auth, org, client=client_for(org.id), actor=current_user, now=clock.now())
    except (DouyinError, NotConnected) as error:
        problem = str(error)
    db.session.commit()
    if auth.status == "bound" and htmx.is_partial():
        flash(_("账号已绑定：%(name)s", name=auth.nickname or auth.aweme_id), "success")
        return htmx.redirect(url_for("settings.linked_accounts"))
    return _linked_page(LinkForm(formdata=None), authorization=auth, problem=problem)


@bp.get("/accounts/<int:account_id>/unbind")
@tenancy.require(*ADMINS)
def unbound_account(account_id):
    """An unbound account's row, polled while its unbind waits for Douyin's confirmation."""
    account = tenancy.get_or_404(LinkedAccount, account_id)
    if account.unbound_at is None:
        abort(404)
    return render_template("settings/_unbound_row.html", a=account, rules=linked, platforms=linked.PLATFORMS)


@bp.post("/accounts/<int:account_id>/unbind")
@tenancy.require(*ADMINS)
def unbind_account(account_id):
    account = tenancy.get_or_404(LinkedAccount, account_id)
    try:
        linked.unbind(account, actor=current_user, now=clock.now())
    except SettingsError as error:
        flash(str(error), "danger")
        return _linked_page(LinkForm(formdata=None), status=422)
    db.session.commit()
    flash(_("账号已解绑"), "success")
    return htmx.redirect(url_for("settings.linked_accounts"))


# --- audit trail ------------------------------------------------------------------------------------

def _activity(*, limit):
    """The filter form and the matching entries (None when the filter is refused)."""
    org_id = _tenant().organization.id
    form = ActivityFilterForm(formdata=request.args)
    form.who.choices = options([("", _("全部")), ("system", _("系统"))] + [(str(i), name) for i, name in activity.actors(org_id)])
    form.group.choices = options([("", _("全部"))] + [(k, v) for k, v in activity.GROUPS.items()])
    if not form.validate():
        return form, None
    try:
        entries = activity.search(org_id, who=form.who.data or "", group=form.group.data or "", day_from=form.day_from.data,
                                  day_to=form.day_to.data, limit=limit)
    except activity.FilterError as error:
        getattr(form, error.field).errors.append(str(error))
        return form, None
    return form, entries


@bp.get("/audit")
@tenancy.require(*ADMINS)
def audit_trail():
    form, entries = _activity(limit=200)
    lines = activity.sentences(entries) if entries is not None else []
    return render_template("settings/audit.html", form=form, lines=lines, args=request.args), (200 if entries is not None else 422)


@bp.get("/audit.csv")
@tenancy.require(*ADMINS)
def audit_export():
    form, entries = _activity(limit=None)
    if entries is None:
        return render_template("settings/audit.html", form=form, lines=[], args=request.args), 422
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese correctly only with a BOM
    writer = csv.writer(buffer)
    writer.writerow([_("时间"), _("操作人"), _("类别"), _("操作"), _("代码")])
    for line in activity.sentences(entries):
        writer.writerow([clock.local_text(line.at, "%Y-%m-%d %H:%M:%S"), line.who, line.group, line.sentence, line.code])
    name = f"activity-{clock.today_local().isoformat()}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8", headers={"Content-Disposition": f"attachment; filename={name}"})


# 核销激励's pages live in their own module, on this blueprint.
from portal.settings import incentive_views  # noqa: E402,F401
