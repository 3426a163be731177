"""Sign in and out, password, language, staff invitations."""

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal import clock, htmx
from portal.accounts import service, tenancy, throttle
from portal.accounts.forms import ROLE_LABELS, AcceptInviteForm, InviteForm, LoginForm, PasswordForm
from portal.accounts.models import Membership, Role, Store
from portal.extensions import db
from portal.forms import Form, options
from portal.i18n import LOCALES
from portal.i18n import gettext as _

bp = Blueprint("accounts", __name__)


def _land(user):
    tenant = tenancy.current()
    return url_for(service.landing_endpoint(user, tenant.role if tenant else None))


def _safe_next(target: str | None) -> str | None:
    return target if target and target.startswith("/") and not target.startswith("//") else None


@bp.route("/")
def root():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    return redirect(_land(current_user))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_land(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(
                form.email.data,
                form.password.data,
                ip=request.remote_addr or "",
                now=clock.now(),
                throttle=throttle.current(),
                window=timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"]),
            )
        except service.AccountError as error:
            db.session.commit()  # the attempt row: the sign-in audit trail
            form.password.errors.append(str(error))
            return htmx.invalid("accounts/login.html", "accounts/_login_form.html", form=form)
        sid = service.start_session(user, now=clock.now())
        db.session.commit()
        session.clear()
        login_user(user)
        session["sid"] = sid
        return htmx.redirect(_safe_next(request.args.get("next")) or _land(user))
    status = 422 if form.is_submitted() else 200
    return htmx.render("accounts/login.html", "accounts/_login_form.html", form=form, status=status)


@bp.post("/logout")
@login_required
def logout():
    service.end_session(session.get("sid"), now=clock.now())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("您已退出登录"), "info")
    return htmx.redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(current_user, current_password=form.current_password.data, new_password=form.new_password.data)
        except service.AccountError as error:
            getattr(form, error.field or "new_password").errors.append(str(error))
            return htmx.invalid("accounts/password.html", "accounts/_password_form.html", form=form)
        db.session.commit()
        login_user(current_user._get_current_object())  # re-issue the session with the new session version
        flash(_("密码已修改"), "success")
        return htmx.redirect(_land(current_user))
    status = 422 if form.is_submitted() else 200
    return htmx.render("accounts/password.html", "accounts/_password_form.html", form=form, status=status)


@bp.post("/account/locale")
@login_required
def locale():
    try:
        service.set_locale(current_user, request.form.get("locale", ""))
    except service.AccountError as error:
        flash(str(error), "danger")
        return redirect(request.referrer or url_for("accounts.root"), code=303)
    db.session.commit()
    return htmx.redirect(_safe_next(request.form.get("next")) or url_for("accounts.root"))


@bp.post("/account/organization")
@login_required
def switch_organization():
    org_id = request.form.get("organization_id", type=int)
    if not any(m.organization_id == org_id for m in tenancy.active_memberships(current_user)):
        return htmx.redirect(url_for("accounts.root"))
    session["org_id"] = org_id
    return htmx.redirect(url_for("accounts.root"))


@bp.route("/no-membership")
@login_required
def no_membership():
    return render_template("accounts/no_membership.html")


def _invite_form() -> InviteForm:
    tenant = tenancy.current()
    form = InviteForm()
    form.role.choices = options((r.value, str(ROLE_LABELS[r])) for r in service.INVITABLE_ROLES[tenant.role])
    form.store_id.choices = options([("", _("（不限门店）"))] + [(str(s.id), s.name) for s in tenancy.stores()])
    return form


def _staff_page(form, *, status=200, invite_link=None, invited_email=None):
    members = db.session.execute(tenancy.query(Membership).order_by(Membership.id)).scalars().all()
    return htmx.render(
        "accounts/staff.html",
        "accounts/_invite_form.html",
        form=form,
        members=members,
        role_labels=ROLE_LABELS,
        invite_link=invite_link,
        invited_email=invited_email,
        stores=tenancy.stores(),
        manageable=service.INVITABLE_ROLES.get(tenancy.current().role, ()),
        status=status,
    )


@bp.get("/staff/")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def staff():
    return _staff_page(_invite_form())


@bp.post("/staff/")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def invite():
    tenant = tenancy.current()
    form = _invite_form()
    if not form.validate_on_submit():
        return _staff_page(form, status=422)
    store = tenancy.get_or_404(Store, form.store_id.data) if form.store_id.data else None
    try:
        membership, token = service.invite_staff(
            tenant.organization,
            actor=current_user,
            actor_role=tenant.role,
            email=form.email.data,
            name=form.name.data,
            role=Role(form.role.data),
            store=store,
        )
    except service.AccountError as error:
        getattr(form, error.field or "email").errors.append(str(error))
        db.session.rollback()
        return _staff_page(form, status=422)
    from portal import mail, security

    link = security.external_url("accounts.accept_invite", token=token)

    mail.send(membership.user.email, _("邀请您加入 %(org)s", org=tenant.organization.name), _("请打开链接设置密码：%(link)s", link=link))
    db.session.commit()
    # Shown in the swapped form itself: a flash would only appear on the next full page load.
    return _staff_page(_invite_form(), invite_link=link, invited_email=membership.user.email)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token):
    invitation = service.find_invitation(token)
    if invitation is None:
        return render_template("accounts/invite_invalid.html"), 404
    needs_password = not invitation.membership.user.password_hash
    # Someone who already has an account only confirms; a new user sets a password.
    form = AcceptInviteForm() if needs_password else Form()
    if form.validate_on_submit():
        try:
            user = service.accept_invitation(
                token, password=form.password.data if needs_password else None, name=getattr(form, "name", None) and form.name.data or ""
            )
        except service.AccountError as error:
            form.password.errors.append(str(error))
        else:
            if needs_password and request.args.get("lang") in LOCALES:  # a new user keeps the language they read the page in
                service.set_locale(user, request.args["lang"])
            if current_user.is_authenticated:
                service.end_session(session.get("sid"), now=clock.now())
            sid = service.start_session(user, now=clock.now())
            db.session.commit()
            logout_user()
            session.clear()
            login_user(user)
            session["sid"] = sid
            return htmx.redirect(url_for("accounts.root"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/accept_invite.html", form=form, invitation=invitation, needs_password=needs_password, token=token), status


def _managed_member(membership_id) -> Membership:
    return tenancy.get_or_404(Membership, membership_id)


def _staff_action(membership_id, action, message):
    tenant = tenancy.current()
    membership = _managed_member(membership_id)
    try:
        action(membership, actor=current_user, actor_role=tenant.role)
    except service.AccountError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return htmx.redirect(url_for("accounts.staff"))
    db.session.commit()
    flash(message, "success")
    return htmx.redirect(url_for("accounts.staff"))


@bp.post("/staff/<int:membership_id>/suspend")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def suspend_staff(membership_id):
    return _staff_action(membership_id, service.suspend_staff, _("员工已停用"))


@bp.post("/staff/<int:membership_id>/reactivate")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def reactivate_staff(membership_id):
    return _staff_action(membership_id, service.reactivate_staff, _("员工已恢复"))


@bp.post("/staff/<int:membership_id>/remove")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def remove_staff(membership_id):
    return _staff_action(membership_id, service.remove_staff, _("员工已移除"))


@bp.post("/staff/<int:membership_id>/role")
@tenancy.require(Role.OWNER, Role.HQ_ADMIN)
def change_staff_role(membership_id):
    tenant = tenancy.current()
    membership = _managed_member(membership_id)
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        flash(_("请选择角色"), "danger")
        return htmx.redirect(url_for("accounts.staff"))
    store_id = request.form.get("store_id")
    store = tenancy.get_or_404(Store, store_id) if store_id else None
    try:
        service.change_staff_role(membership, role=role, store=store, actor=current_user, actor_role=tenant.role)
    except service.AccountError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return htmx.redirect(url_for("accounts.staff"))
    db.session.commit()
    flash(_("角色已更新"), "success")
    return htmx.redirect(url_for("accounts.staff"))
