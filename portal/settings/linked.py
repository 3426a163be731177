"""Linked Douyin / TikTok accounts of a shop, with the platform's binding rules.

- One official account at a time; up to four channel accounts.
- The same account cannot be both the official and a channel account of the shop.
- The official account can be unbound no sooner than 24 hours after binding, and at most 3 times.
- The official account's display name is the shop's name (and follows it when it changes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal import audit
from portal.accounts.models import Organization
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.settings.errors import SettingsError
from portal.settings.models import LinkAuthorization, LinkAuthorizationStatus, LinkedAccount, LinkedAccountRole

QR_VALID = timedelta(minutes=5)
# aweme bind types (tests/contracts/fixtures/aweme_bind_qrcode.json): official = brand, channel = cooperation.
BIND_TYPES = {LinkedAccountRole.OFFICIAL: "brand", LinkedAccountRole.CHANNEL: "cooperation"}
CAPACITIES = ("video_self_mount",)
# query_aweme_relation_list's bind_status (the fixture's notes): 1 under review, 2 bound, 3 refused.
BIND_REVIEWING, BIND_BOUND, BIND_REFUSED = 1, 2, 3
RELATION_PAGE_SIZE = 50
MAX_CHANNEL_ACCOUNTS = 4
MAX_OFFICIAL_UNBINDS = 3
UNBIND_AFTER = timedelta(hours=24)
PLATFORMS = {"douyin": _l("抖音"), "tiktok": "TikTok"}


def active(org_id: int) -> list[LinkedAccount]:
    return db.session.scalars(
        select(LinkedAccount).where(LinkedAccount.organization_id == org_id, LinkedAccount.unbound_at.is_(None)).order_by(LinkedAccount.role.desc(), LinkedAccount.id)
    ).all()


def official_unbinds(org_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(
            LinkedAccount.organization_id == org_id, LinkedAccount.role == LinkedAccountRole.OFFICIAL, LinkedAccount.unbound_at.is_not(None)
        )
    ) or 0


def bind(org: Organization, *, platform: str, role: str, account_id: str, display_name: str = "", actor, now: datetime) -> LinkedAccount:
    """Bind an account as official or channel; raises SettingsError explaining which rule stops it. Audited."""
    account_id = (account_id or "").strip()
    if platform not in PLATFORMS:
        raise SettingsError(_l("请选择平台"), field="platform")
    if role not in {r.value for r in LinkedAccountRole}:
        raise SettingsError(_l("请选择账号类型"), field="role")
    if not account_id:
        raise SettingsError(_l("请输入账号 ID"), field="account_id")
    current = active(org.id)
    same = [a for a in current if a.platform == platform and a.account_id == account_id]
    if role == LinkedAccountRole.OFFICIAL:
        if any(a.role == LinkedAccountRole.OFFICIAL for a in current):
            raise SettingsError(_l("每个店铺只能绑定一个官方账号，请先解绑当前官方账号"), field="account_id")
        if same:
            raise SettingsError(_l("该账号已是本店铺的渠道账号，同一账号不能同时作为官方账号和渠道账号"), field="account_id")
        display_name = org.name  # the official account carries the shop's name
    else:
        if same:
            kind = _l("官方账号") if same[0].role == LinkedAccountRole.OFFICIAL else _l("渠道账号")
            raise SettingsError(_l("该账号已是本店铺的%(kind)s，同一账号不能同时作为官方账号和渠道账号", kind=kind), field="account_id")
        if sum(1 for a in current if a.role == LinkedAccountRole.CHANNEL) >= MAX_CHANNEL_ACCOUNTS:
            raise SettingsError(_l("最多绑定 %(n)s 个渠道账号，请先解绑一个", n=MAX_CHANNEL_ACCOUNTS), field="account_id")
    account = LinkedAccount(
        organization_id=org.id,
        platform=platform,
        role=role,
        account_id=account_id,
        display_name=(display_name or "").strip()[:100],
        bound_at=now,
        bound_by_id=getattr(actor, "id", None),
    )
    db.session.add(account)
    db.session.flush()
    audit.record("settings.linked_account.bound", actor=actor, obj=account, platform=platform, role=role, account_id=account_id)
    return account


def unbind_problem(account: LinkedAccount, *, now: datetime) -> str | None:
    """Why this account cannot be unbound now, or None (shown next to the button)."""
    if account.unbound_at is not None:
        return str(_l("该账号已解绑"))
    if account.role != LinkedAccountRole.OFFICIAL:
        return None
    if official_unbinds(account.organization_id) >= MAX_OFFICIAL_UNBINDS:
        return str(_l("官方账号最多只能解绑 %(n)s 次，本店铺已用完", n=MAX_OFFICIAL_UNBINDS))
    ready = account.bound_at + UNBIND_AFTER
    if now < ready:
        left = ready - now
        hours, minutes = int(left.total_seconds() // 3600), int(left.total_seconds() % 3600 // 60)
        return str(_l("官方账号绑定满 24 小时后才能解绑，还需 %(h)s 小时 %(m)s 分钟", h=hours, m=max(minutes, 1) if hours == 0 else minutes))
    return None


def unbind(account: LinkedAccount, *, actor, now: datetime) -> None:
    """Unbind an account under the rules above; audited."""
    problem = unbind_problem(account, now=now)
    if problem:
        raise SettingsError(problem)
    account.unbound_at = now
    db.session.flush()
    audit.record("settings.linked_account.unbound", actor=actor, obj=account, role=account.role, account_id=account.account_id)


# --- binding by authorization -------------------------------------------------------------------

def check_place(org_id: int, role: str) -> None:
    """Raises SettingsError (field "role") when the rules leave no place for another account of `role`."""
    if role not in {r.value for r in LinkedAccountRole}:
        raise SettingsError(_l("请选择账号类型"), field="role")
    current = active(org_id)
    if role == LinkedAccountRole.OFFICIAL and any(a.role == LinkedAccountRole.OFFICIAL for a in current):
        raise SettingsError(_l("每个店铺只能绑定一个官方账号，请先解绑当前官方账号"), field="role")
    if role == LinkedAccountRole.CHANNEL and sum(1 for a in current if a.role == LinkedAccountRole.CHANNEL) >= MAX_CHANNEL_ACCOUNTS:
        raise SettingsError(_l("最多绑定 %(n)s 个渠道账号，请先解绑一个", n=MAX_CHANNEL_ACCOUNTS), field="role")


def open_authorization(org_id: int) -> LinkAuthorization | None:
    """The shop's latest authorization still waiting for a scan or for Douyin's review."""
    return db.session.scalar(
        select(LinkAuthorization).where(
            LinkAuthorization.organization_id == org_id,
            LinkAuthorization.status.in_([LinkAuthorizationStatus.WAITING, LinkAuthorizationStatus.REVIEWING]),
        ).order_by(LinkAuthorization.id.desc()).limit(1)
    )


def start_authorization(org: Organization, role: str, *, client, actor, now: datetime) -> LinkAuthorization:
    """Ask Douyin for a binding QR (valid 5 minutes) for an official or channel account; the
    account's owner scans it and agrees. Refused up front when the rules leave no place for the
    role (SettingsError, field "role"). A QR still waiting for a scan is dropped. Audited;
    raises DouyinError when Douyin cannot issue the QR."""
    check_place(org.id, role)
    reply = client.aweme_bind_qrcode(type=BIND_TYPES[role], capacity_list=list(CAPACITIES))
    for earlier in db.session.scalars(select(LinkAuthorization).where(
            LinkAuthorization.organization_id == org.id, LinkAuthorization.status == LinkAuthorizationStatus.WAITING)):
        earlier.status = LinkAuthorizationStatus.EXPIRED
    auth = LinkAuthorization(
        organization_id=org.id, role=role, qrcode_url=(reply.get("qrcode_url") or "")[:500],
        qrcode_content=reply["qrcode_parse_content"][:500], issued_at=now, expires_at=now + QR_VALID,
        status=LinkAuthorizationStatus.WAITING, created_by_id=getattr(actor, "id", None),
    )
    db.session.add(auth)
    db.session.flush()
    audit.record("settings.link_authorization.started", actor=actor, obj=auth, role=role)
    return auth


def _relation(client, auth: LinkAuthorization):
    page = 1
    while True:
        data = client.aweme_relation_list(type=BIND_TYPES[auth.role], page_num=page, page_size=RELATION_PAGE_SIZE)
        for entry in data["list"]:
            if str(entry["aweme_id"]) == auth.aweme_id:
                return entry
        if not data["list"] or page * RELATION_PAGE_SIZE >= data["total_count"]:
            return None
        page += 1


def _refuse(auth: LinkAuthorization, reason: str, now: datetime) -> None:
    auth.status, auth.reason, auth.decided_at = LinkAuthorizationStatus.REJECTED, reason[:200], now


def poll_authorization(auth: LinkAuthorization, org: Organization, *, client, actor, now: datetime) -> LinkAuthorization:
    """Move an authorization on with what Douyin says: the QR expired, its owner agreed (avatar,
    nickname, masked phone; then the binding review), the review bound or refused the account.
    On approval the account is bound under the shop's rules (a rule broken meanwhile refuses it,
    with the rule as the reason). Idempotent: a decided authorization is returned unchanged.
    Raises DouyinError when Douyin cannot be asked."""
    if auth.status == LinkAuthorizationStatus.WAITING:
        state = client.aweme_bind_qrcode_status(auth.qrcode_content)
        if state["status"] == "agreed":
            auth.aweme_id = str(state.get("aweme_id") or "")[:64]
            auth.nickname = (state.get("user_name") or "")[:100]
            auth.avatar_url = (state.get("avatar") or "")[:500]
            auth.phone_mask = (state.get("mobile_mask") or "")[:32]
            auth.status = LinkAuthorizationStatus.REVIEWING
            same = [a for a in active(org.id) if a.platform == "douyin" and a.account_id == auth.aweme_id]
            if same:
                _refuse(auth, str(_l("该账号已绑定本店铺，同一账号不能同时作为官方账号和渠道账号")), now)
            audit.record("settings.link_authorization.agreed", actor=None, obj=auth, aweme_id=auth.aweme_id)
        elif state["status"] == "expired" or now >= auth.expires_at:
            auth.status = LinkAuthorizationStatus.EXPIRED
    elif auth.status == LinkAuthorizationStatus.REVIEWING:
        entry = _relation(client, auth)
        if entry is not None and entry["bind_status"] == BIND_BOUND:
            try:
                account = bind(org, platform="douyin", role=auth.role, account_id=auth.aweme_id, display_name=auth.nickname,
                               actor=actor, now=now)
            except SettingsError as error:
                _refuse(auth, str(error), now)
            else:
                account.avatar_url, account.phone_mask = auth.avatar_url, auth.phone_mask
                auth.status, auth.linked_account_id, auth.decided_at = LinkAuthorizationStatus.BOUND, account.id, now
        elif entry is not None and entry["bind_status"] == BIND_REFUSED:
            _refuse(auth, entry.get("reason") or str(_l("抖音未通过绑定审核")), now)
    db.session.flush()
    return auth
