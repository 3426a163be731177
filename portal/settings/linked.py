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
from portal.settings.models import LinkedAccount, LinkedAccountRole

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
