"""Linked Douyin / TikTok accounts of a shop, with the platform's binding rules.

- One official account at a time; up to four channel accounts.
- The same account cannot be both the official and a channel account of the shop.
- The official account can be unbound no sooner than 24 hours after binding, and at most 3 times.
- The official account's display name is the shop's name (and follows it when it changes).

Unbinding a Douyin account also tells Douyin (unbind_aweme_relation, through the outbox, so Douyin
being down loses nothing); once Douyin has dropped the relation, the same account agreeing on a new
QR is recognised as its owner.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from portal import audit, outbox
from portal.accounts.models import Organization
from portal.douyin import DouyinError
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
RECENT_UNBINDS = timedelta(days=30)  # how long an unbound account stays listed on the page
PLATFORMS = {"douyin": _l("抖音"), "tiktok": "TikTok"}
UNBIND_KIND = "settings.linked_account.unbind"


def active(org_id: int) -> list[LinkedAccount]:
    return db.session.scalars(
        select(LinkedAccount).where(LinkedAccount.organization_id == org_id, LinkedAccount.unbound_at.is_(None)).order_by(LinkedAccount.role.desc(), LinkedAccount.id)
    ).all()


def recently_unbound(org_id: int, *, now: datetime) -> list[LinkedAccount]:
    """Unbound accounts still worth showing: every Douyin unbind Douyin has not confirmed yet, and
    those unbound within the last RECENT_UNBINDS; newest first."""
    return db.session.scalars(
        select(LinkedAccount)
        .where(
            LinkedAccount.organization_id == org_id,
            LinkedAccount.unbound_at.is_not(None),
            or_(LinkedAccount.unbound_at >= now - RECENT_UNBINDS,
                and_(LinkedAccount.platform == "douyin", LinkedAccount.douyin_unbound_at.is_(None))),
        )
        .order_by(LinkedAccount.unbound_at.desc(), LinkedAccount.id.desc())
    ).all()


def unbind_waits_for_douyin(account: LinkedAccount) -> bool:
    """True while a Douyin account's unbind is on its way (Douyin has not dropped the relation)."""
    return account.unbound_at is not None and account.platform == "douyin" and account.douyin_unbound_at is None


def unbind_done_at(account: LinkedAccount) -> datetime | None:
    """When the unbind took effect: Douyin's confirmation for a Douyin account, else the unbind itself."""
    if account.unbound_at is None or unbind_waits_for_douyin(account):
        return None
    return account.douyin_unbound_at if account.platform == "douyin" else account.unbound_at


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
    if account.platform == "douyin":
        outbox.add(account.organization_id, UNBIND_KIND, {"linked_account_id": account.id}, dedupe_key=f"linked:{account.id}")
    audit.record("settings.linked_account.unbound", actor=actor, obj=account, role=account.role, account_id=account.account_id)


def deliver_unbind(message) -> dict:
    """Outbox handler: ask Douyin to drop an unbound account's relation, then record that it has.
    A refusal counts as done when Douyin no longer lists the account (a repeat after a lost reply,
    or a relation removed on Douyin). Raises DouyinError to retry or fail."""
    from portal import clock
    from portal.onboarding.connection import delivery_client

    account = db.session.get(LinkedAccount, message.payload["linked_account_id"])
    if account is None or account.douyin_unbound_at is not None:
        return {"skipped": "already removed on Douyin"}
    client = delivery_client(message.organization_id)
    try:
        client.unbind_aweme_relation(aweme_id=account.account_id, type=BIND_TYPES[account.role])
    except DouyinError:
        if any(str(e["aweme_id"]) == account.account_id for e in _relations(client, account.role)):
            raise
    account.douyin_unbound_at = clock.now()
    db.session.flush()
    return {"aweme_id": account.account_id}


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


def _relations(client, role: str) -> list[dict]:
    """Every account Douyin lists under the role's bind type (all pages)."""
    entries, page = [], 1
    while True:
        data = client.aweme_relation_list(type=BIND_TYPES[role], page_num=page, page_size=RELATION_PAGE_SIZE)
        entries += data["list"]
        if not data["list"] or page * RELATION_PAGE_SIZE >= data["total_count"]:
            return entries
        page += 1


def _unknown(org_id: int, role: str, entries: list[dict]) -> list[dict]:
    """The listed accounts the shop has no record of in `role`: not bound as such (an unbound
    row counts until Douyin has dropped its relation) and not met in an authorization since.
    An account whose relation Douyin dropped is unknown again, so its owner agreeing on a new QR
    is recognised."""
    accounts = db.session.scalars(select(LinkedAccount).where(
        LinkedAccount.organization_id == org_id, LinkedAccount.platform == "douyin", LinkedAccount.role == role)).all()
    known = {a.account_id for a in accounts if a.douyin_unbound_at is None}
    dropped: dict[str, datetime] = {}
    for a in accounts:
        if a.douyin_unbound_at is not None:
            dropped[a.account_id] = max(dropped.get(a.account_id, a.douyin_unbound_at), a.douyin_unbound_at)
    met = db.session.scalars(select(LinkAuthorization).where(
        LinkAuthorization.organization_id == org_id, LinkAuthorization.role == role, LinkAuthorization.aweme_id != "",
        LinkAuthorization.linked_account_id.is_(None)))
    known |= {m.aweme_id for m in met if m.aweme_id not in dropped or m.issued_at > dropped[m.aweme_id]}
    return [e for e in entries if str(e["aweme_id"]) not in known]


def _unbinds_on_the_way(org_id: int, role: str, entries: list[dict], now: datetime) -> list[LinkedAccount]:
    """Accounts of `role` unbound here whose relation Douyin still lists (the unbind is on its
    way). One Douyin no longer lists is recorded as dropped."""
    listed = {str(e["aweme_id"]) for e in entries}
    waiting = []
    for account in db.session.scalars(select(LinkedAccount).where(
            LinkedAccount.organization_id == org_id, LinkedAccount.platform == "douyin", LinkedAccount.role == role,
            LinkedAccount.unbound_at.is_not(None), LinkedAccount.douyin_unbound_at.is_(None))):
        if account.account_id in listed:
            waiting.append(account)
        else:
            account.douyin_unbound_at = now
    return waiting


def _refuse(auth: LinkAuthorization, reason: str, now: datetime) -> None:
    auth.status, auth.reason, auth.decided_at = LinkAuthorizationStatus.REJECTED, reason[:200], now


def _decide(auth: LinkAuthorization, org: Organization, entry: dict, *, actor, now: datetime) -> None:
    """Apply Douyin's review of the authorization's account: bound (under the shop's rules) or refused."""
    if entry["bind_status"] == BIND_BOUND:
        try:
            account = bind(org, platform="douyin", role=auth.role, account_id=auth.aweme_id, display_name=auth.nickname,
                           actor=actor, now=now)
        except SettingsError as error:
            _refuse(auth, str(error), now)
        else:
            auth.status, auth.linked_account_id, auth.decided_at = LinkAuthorizationStatus.BOUND, account.id, now
    elif entry["bind_status"] == BIND_REFUSED:
        _refuse(auth, entry.get("reason") or str(_l("抖音未通过绑定审核")), now)


def _claim(auth: LinkAuthorization, org: Organization, entry: dict, *, actor, now: datetime) -> None:
    """The owner of `entry` agreed on the authorization's QR: record who (抖音号, nickname), then
    the review as far as Douyin has got with it."""
    auth.aweme_id = str(entry["aweme_id"])[:64]
    auth.nickname = (entry.get("user_name") or "")[:100]
    auth.status = LinkAuthorizationStatus.REVIEWING
    audit.record("settings.link_authorization.agreed", actor=None, obj=auth, aweme_id=auth.aweme_id)
    if any(a.platform == "douyin" and a.account_id == auth.aweme_id for a in active(org.id)):
        _refuse(auth, str(_l("该账号已绑定本店铺，同一账号不能同时作为官方账号和渠道账号")), now)
    else:
        _decide(auth, org, entry, actor=actor, now=now)


def start_authorization(org: Organization, role: str, *, client, actor, now: datetime) -> LinkAuthorization:
    """Ask Douyin for a binding QR (valid 5 minutes) for an official or channel account; the
    account's owner scans it and agrees. A QR still waiting is first asked after once more (its
    owner may have agreed just before it expired), then dropped. Refused (SettingsError, field
    "role") when the rules leave no place for the role, or when Douyin already lists an account of
    the role's type the shop has no record of: who agrees on the new QR is known only as an account
    newly listed there, so an unexplained one would be taken for it; likewise while Douyin still
    lists an account of the role unbound here (its unbind is on its way). Audited; raises DouyinError
    when Douyin cannot be asked."""
    check_place(org.id, role)
    for earlier in db.session.scalars(select(LinkAuthorization).where(
            LinkAuthorization.organization_id == org.id, LinkAuthorization.status == LinkAuthorizationStatus.WAITING)).all():
        poll_authorization(earlier, org, client=client, actor=actor, now=now)
        if earlier.status == LinkAuthorizationStatus.WAITING:
            earlier.status = LinkAuthorizationStatus.EXPIRED
    check_place(org.id, role)
    entries = _relations(client, role)
    waiting = _unbinds_on_the_way(org.id, role, entries, now)
    if waiting:
        names = "、".join(f"{a.display_name or '—'}（{a.account_id}）" for a in waiting[:3])
        raise SettingsError(_l("正在通知抖音解除 %(names)s 的绑定，抖音解除后才能获取新的二维码（否则无法分辨是谁扫码授权）",
                               names=names), field="role")
    strangers = _unknown(org.id, role, entries)
    if strangers:
        names = "、".join(f"{e.get('user_name') or '—'}（{e['aweme_id']}）" for e in strangers[:3])
        kind = _l("官方账号") if role == LinkedAccountRole.OFFICIAL else _l("渠道账号")
        raise SettingsError(_l("抖音上已有未经本系统绑定的%(kind)s：%(names)s。请先在抖音解除这些绑定再获取二维码，否则无法分辨是谁扫码授权",
                               kind=kind, names=names), field="role")
    reply = client.aweme_bind_qrcode(type=BIND_TYPES[role], capacity_list=list(CAPACITIES))
    auth = LinkAuthorization(
        organization_id=org.id, role=role, qrcode_url=(reply.get("qrcode_url") or "")[:500],
        qrcode_content=reply["qrcode_parse_content"][:500], issued_at=now, expires_at=now + QR_VALID,
        status=LinkAuthorizationStatus.WAITING, created_by_id=getattr(actor, "id", None),
    )
    db.session.add(auth)
    db.session.flush()
    audit.record("settings.link_authorization.started", actor=actor, obj=auth, role=role)
    return auth


def poll_authorization(auth: LinkAuthorization, org: Organization, *, client, actor, now: datetime) -> LinkAuthorization:
    """Move an authorization on with Douyin's relation list, the one confirmed source: while the
    QR waits, an account of its type the shop has no record of is the owner who agreed (抖音号 and
    nickname; Douyin tells no avatar or phone); after that, its bind_status says under review,
    bound or refused (with Douyin's reason). On approval the account is bound under the shop's
    rules (a rule broken meanwhile refuses it, with the rule as the reason). A QR nobody agreed to
    within 5 minutes expires. Idempotent: a decided authorization is returned unchanged. Raises
    DouyinError when Douyin cannot be asked."""
    if auth.status not in (LinkAuthorizationStatus.WAITING, LinkAuthorizationStatus.REVIEWING):
        return auth
    entries = _relations(client, auth.role)
    if auth.status == LinkAuthorizationStatus.WAITING:
        newcomers = _unknown(org.id, auth.role, entries)
        if newcomers:
            _claim(auth, org, newcomers[0], actor=actor, now=now)
        elif now >= auth.expires_at:
            auth.status = LinkAuthorizationStatus.EXPIRED
    else:
        entry = next((e for e in entries if str(e["aweme_id"]) == auth.aweme_id), None)
        if entry is not None:
            auth.nickname = (entry.get("user_name") or auth.nickname)[:100]
            _decide(auth, org, entry, actor=actor, now=now)
    db.session.flush()
    return auth
