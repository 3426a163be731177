"""Account rules: sign-in with throttling, passwords, organizations, stores, staff invitations."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal import audit, clock
from portal.accounts.models import (
    Edition,
    Invitation,
    LoginAttempt,
    Membership,
    MembershipStatus,
    Organization,
    Role,
    Store,
    User,
    UserSession,
)
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l

MIN_PASSWORD_LENGTH = 10
INVITATION_DAYS = 7
# A hash to compare against when the e-mail is unknown, so timing does not tell who has an account.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class AccountError(DomainError):
    """A rule was broken; the message is safe to show. `field` names the form field, if any."""


class InvalidCredentials(AccountError):
    pass


class LoginThrottled(AccountError):
    pass


class WeakPassword(AccountError):
    field = "new_password"


class InvitationInvalid(AccountError):
    pass


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password_rules(password: str, *, email: str = "") -> None:
    """Raises WeakPassword unless the password is long enough and not the e-mail itself."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise WeakPassword(_l("密码至少需要 %(n)s 个字符", n=MIN_PASSWORD_LENGTH))
    if email and password.lower() == email.lower():
        raise WeakPassword(_l("密码不能与邮箱相同"))


def authenticate(email: str, password: str, *, ip: str, now: datetime, throttle, window: timedelta) -> User:
    """Check a sign-in and record the attempt.

    `throttle` (portal.accounts.throttle.LoginThrottle) admits the attempt first, atomically: over
    a limit raises LoginThrottled and the password is not even checked. Raises InvalidCredentials
    on a wrong e-mail or password or a disabled user. The attempt row (the audit trail) is added
    either way; the caller commits.
    """
    email = normalize_email(email)
    if not throttle.admit(email, ip):
        raise LoginThrottled(_l("登录失败次数过多，请 %(minutes)s 分钟后再试", minutes=int(window.total_seconds() // 60)))
    user = db.session.scalar(select(User).where(User.email == email))
    ok = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH, password or "")
    ok = ok and user is not None and user.active
    db.session.add(LoginAttempt(email=email, ip=ip, succeeded=bool(ok), at=now))
    if not ok:
        throttle.failed(email, ip)
        raise InvalidCredentials(_l("邮箱或密码不正确"))
    throttle.succeeded(email, ip)
    return user


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    """Replace the password after checking the current one; logs out the user's other sessions."""
    if not check_password_hash(user.password_hash, current_password or ""):
        raise AccountError(_l("当前密码不正确"), field="current_password")
    check_password_rules(new_password, email=user.email)
    if check_password_hash(user.password_hash, new_password):
        raise WeakPassword(_l("新密码不能与当前密码相同"))
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    audit.record("accounts.password.changed", actor=user, obj=user)


def start_session(user: User, *, now: datetime) -> str:
    """A new signed-in browser: the token goes in the session cookie, its hash in the database."""
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=token_hash(token), created_at=now))
    db.session.flush()
    return token


def end_session(token: str | None, *, now: datetime) -> None:
    """Sign-out: the session ends server-side, so a copy of the cookie opens nothing. Idempotent."""
    if token:
        db.session.execute(
            update(UserSession).where(UserSession.token_hash == token_hash(token), UserSession.ended_at.is_(None)).values(ended_at=now)
        )


def set_locale(user: User, locale: str) -> None:
    if locale not in ("zh_Hans", "en"):
        raise AccountError(_l("不支持的语言"), field="locale")
    user.locale = locale


def create_organization(name: str, *, edition: Edition = Edition.BASIC, multi_store: bool = False) -> Organization:
    org = Organization(name=name, edition=edition, multi_store=multi_store, created_at=clock.now())
    db.session.add(org)
    db.session.flush()
    return org


def create_store(org: Organization, name: str, **fields) -> Store:
    store = Store(organization_id=org.id, name=name, created_at=clock.now(), **fields)
    db.session.add(store)
    db.session.flush()
    return store


def create_user(email: str, password: str | None, *, name: str = "", is_operator: bool = False) -> User:
    email = normalize_email(email)
    if db.session.scalar(select(User).where(User.email == email)):
        raise AccountError(_l("该邮箱已注册"), field="email")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else "",
        is_operator=is_operator,
        created_at=clock.now(),
    )
    db.session.add(user)
    db.session.flush()
    return user


def add_membership(user: User, org: Organization, role: Role, store: Store | None = None, *, status=MembershipStatus.ACTIVE, invited_by: User | None = None) -> Membership:
    if role.store_scoped and store is None:
        raise AccountError(_l("门店角色必须选择门店"), field="store_id")
    if store is not None and store.organization_id != org.id:
        raise AccountError(_l("门店不属于该商户"), field="store_id")
    membership = Membership(
        user_id=user.id,
        organization_id=org.id,
        role=role,
        store_id=store.id if role.store_scoped else None,
        status=status,
        invited_by_id=invited_by.id if invited_by else None,
        created_at=clock.now(),
    )
    db.session.add(membership)
    db.session.flush()
    return membership


INVITABLE_ROLES = {
    Role.OWNER: (Role.HQ_ADMIN, Role.STORE_MANAGER, Role.CLERK),
    Role.HQ_ADMIN: (Role.STORE_MANAGER, Role.CLERK),
}


def invite_staff(org: Organization, *, actor: User, actor_role: Role, email: str, name: str, role: Role, store: Store | None) -> tuple[Membership, str]:
    """Invite a staff member with a role (and store, for store roles); returns the membership and
    the one-time token for the invitation link. An existing user is added without a new password.
    """
    if role not in INVITABLE_ROLES.get(actor_role, ()):
        raise AccountError(_l("您不能邀请该角色"), field="role")
    email = normalize_email(email)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None and any(m.organization_id == org.id for m in user.memberships):
        raise AccountError(_l("该用户已是本商户成员"), field="email")
    if user is None:
        user = create_user(email, None, name=name)
    membership = add_membership(user, org, role, store, status=MembershipStatus.INVITED, invited_by=actor)
    token = secrets.token_urlsafe(32)
    db.session.add(
        Invitation(
            membership_id=membership.id,
            token_hash=token_hash(token),
            expires_at=clock.now() + timedelta(days=INVITATION_DAYS),
        )
    )
    audit.record("accounts.staff.invited", actor=actor, obj=membership, email=email, role=str(role), store_id=membership.store_id)
    return membership, token


def find_invitation(token: str) -> Invitation | None:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token or "")))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at < clock.now():
        return None
    return invitation


def accept_invitation(token: str, *, password: str | None, name: str = "") -> User:
    """Activate an invited membership; a new user sets a password here."""
    invitation = find_invitation(token)
    if invitation is None:
        raise InvitationInvalid(_l("邀请链接无效或已过期，请联系管理员重新邀请"))
    user = invitation.membership.user
    if not user.password_hash:
        check_password_rules(password or "", email=user.email)
        user.password_hash = hash_password(password)
    if name:
        user.name = name
    invitation.membership.status = MembershipStatus.ACTIVE
    invitation.accepted_at = clock.now()
    audit.record("accounts.invitation.accepted", actor=user, obj=invitation.membership)
    return user


def token_hash(token: str) -> str:
    """What `user_sessions.token_hash` and `invitations.token_hash` hold for a token (the user
    loader checks a browser's session token with it)."""
    return hashlib.sha256(token.encode()).hexdigest()


def landing_endpoint(user: User, role: Role | None) -> str:
    """Where a user lands after signing in: operators the operator area, clerks the counter."""
    if role is None:
        return "admin.index" if user.is_operator else "accounts.no_membership"
    if role == Role.CLERK:
        return "redemption.index"
    return "home.dashboard"


def _check_can_manage(membership: Membership, *, actor: User, actor_role: Role) -> None:
    """The actor may manage this member: not themselves, and only roles they could invite."""
    if membership.user_id == actor.id:
        raise AccountError(_l("不能对自己执行此操作"))
    if Role(membership.role) not in INVITABLE_ROLES.get(actor_role, ()):
        raise AccountError(_l("您没有权限管理该角色的员工"))


def suspend_staff(membership: Membership, *, actor: User, actor_role: Role) -> None:
    """Suspend a member: they can no longer act for this organization (idempotent); audited."""
    _check_can_manage(membership, actor=actor, actor_role=actor_role)
    if membership.status != MembershipStatus.SUSPENDED:
        membership.status = MembershipStatus.SUSPENDED
        audit.record("accounts.staff.suspended", actor=actor, obj=membership, email=membership.user.email)
    db.session.flush()


def reactivate_staff(membership: Membership, *, actor: User, actor_role: Role) -> None:
    """Give a suspended member their access back; audited."""
    _check_can_manage(membership, actor=actor, actor_role=actor_role)
    if membership.status != MembershipStatus.SUSPENDED:
        raise AccountError(_l("只有已停用的员工可以恢复"))
    accepted = db.session.scalar(select(Invitation).where(Invitation.membership_id == membership.id))
    membership.status = MembershipStatus.INVITED if accepted is not None and accepted.accepted_at is None else MembershipStatus.ACTIVE
    audit.record("accounts.staff.reactivated", actor=actor, obj=membership, email=membership.user.email)
    db.session.flush()


def remove_staff(membership: Membership, *, actor: User, actor_role: Role) -> None:
    """Remove a member from the organization (the user account stays, for the audit trail); audited."""
    _check_can_manage(membership, actor=actor, actor_role=actor_role)
    audit.record(
        "accounts.staff.removed", actor=actor, organization_id=membership.organization_id, obj=membership,
        email=membership.user.email, role=str(membership.role), store_id=membership.store_id,
    )
    invitation = db.session.scalar(select(Invitation).where(Invitation.membership_id == membership.id))
    if invitation is not None:
        db.session.delete(invitation)
    db.session.delete(membership)
    db.session.flush()


def change_staff_role(membership: Membership, *, role: Role, store: Store | None, actor: User, actor_role: Role) -> None:
    """Change a member's role and store scope (store roles need a store of this organization); audited."""
    _check_can_manage(membership, actor=actor, actor_role=actor_role)
    if role not in INVITABLE_ROLES.get(actor_role, ()):
        raise AccountError(_l("您不能设置该角色"), field="role")
    if role.store_scoped and store is None:
        raise AccountError(_l("门店角色必须选择门店"), field="store_id")
    if store is not None and store.organization_id != membership.organization_id:
        raise AccountError(_l("门店不属于该商户"), field="store_id")
    before = (str(membership.role), membership.store_id)
    membership.role = role
    membership.store_id = store.id if role.store_scoped else None
    if before != (str(role), membership.store_id):
        audit.record(
            "accounts.staff.role_changed", actor=actor, obj=membership, before_role=before[0], before_store_id=before[1],
            role=str(role), store_id=membership.store_id,
        )
    db.session.flush()
