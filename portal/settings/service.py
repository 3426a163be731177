"""Settings rules: notification switches and the centre, the after-payment follow-up and its
call-back tasks, stores and the shop name, the audit trail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select

from portal import audit, clock, mail, outbox
from portal.accounts.models import Membership, MembershipStatus, Organization, Role, Store
from portal.audit import AuditEntry
from portal.douyin import DouyinError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.notifications import KINDS, Notification
from portal.settings import features
from portal.settings.errors import SettingsError
from portal.settings.models import CallbackTask, FollowUpTemplate, LinkedAccount, LinkedAccountRole, NotificationSetting

__all__ = ["SettingsError"]

CALLBACK_WINDOW = timedelta(minutes=60)
FOLLOWUP_KIND = "settings.followup_message"
# Kinds with a switch in the UI (system notices are always in-app only).
SWITCHABLE_KINDS = ("product_review", "miniapp_review", "refund_request", "anomaly", "withdrawal")
PLACEHOLDERS = {
    "voucher_code": _l("核销码"),
    "navigation_link": _l("导航链接"),
    "opening_hours": _l("营业时间"),
    "store_name": _l("门店名称"),
    "store_address": _l("门店地址"),
    "store_phone": _l("门店电话"),
    "order_no": _l("订单号"),
}
# One `字段名=值` line per field of the subscription template (Douyin's template field names).
DEFAULT_FOLLOWUP = "核销码={voucher_code}\n门店名称={store_name}\n营业时间={opening_hours}"
_PLACEHOLDER = re.compile(r"{([a-z_]*)}")
# A subscription template's id (notify_user's msg_id) as the developer console shows it: MSG….
_TEMPLATE_ID = re.compile(r"^MSG[0-9A-Za-z_-]{1,125}$")
MAX_FIELDS = 10


# --- notifications ---------------------------------------------------------------------------

def notification_switches(org_id: int) -> dict[str, bool]:
    """kind -> is it e-mailed; kinds without a row default to on."""
    rows = {r.kind: r.email for r in db.session.scalars(select(NotificationSetting).where(NotificationSetting.organization_id == org_id))}
    return {kind: rows.get(kind, True) for kind in SWITCHABLE_KINDS}


def set_notification_switch(org: Organization, kind: str, email: bool, *, actor) -> None:
    """Turn e-mail for one notification kind on or off; audited when it changes."""
    if kind not in SWITCHABLE_KINDS:
        raise SettingsError(_l("未知的通知类型"), field="kind")
    row = db.session.scalar(select(NotificationSetting).where(NotificationSetting.organization_id == org.id, NotificationSetting.kind == kind))
    if row is None:
        row = NotificationSetting(organization_id=org.id, kind=kind, email=True, updated_at=clock.now())
        db.session.add(row)
    if row.email != email:
        audit.record("settings.notification.switched", actor=actor, organization_id=org.id, kind=kind, email=email)
    row.email = email
    row.updated_at = clock.now()
    db.session.flush()


def notification_recipients(note: Notification) -> list[str]:
    """Who gets a notification by e-mail: the owner and HQ admins, and the store's manager for a store's notice."""
    rows = db.session.scalars(
        select(Membership).where(Membership.organization_id == note.organization_id, Membership.status == MembershipStatus.ACTIVE)
    )
    emails = []
    for m in rows:
        if m.role in (Role.OWNER, Role.HQ_ADMIN) or (m.role == Role.STORE_MANAGER and note.store_id and m.store_id == note.store_id):
            emails.append(m.user.email)
    return sorted(set(emails))


def email_notification(note: Notification) -> int:
    """The delivery hook: e-mail a new notification when its kind's switch (and the feature) is on.
    Returns how many mails were queued."""
    if note.kind not in SWITCHABLE_KINDS or not features.enabled(note.organization_id, "email_notifications"):
        return 0
    if not notification_switches(note.organization_id)[note.kind]:
        return 0
    recipients = notification_recipients(note)
    for to in recipients:
        mail.send(to, f"[{KINDS[note.kind]}] {note.title}", note.body or note.title)
    return len(recipients)


def visible_notifications(org_id: int, store_ids):
    """A select of the notifications a tenant may see: everything for HQ, their stores' for store roles."""
    stmt = select(Notification).where(Notification.organization_id == org_id)
    if store_ids is not None:
        stmt = stmt.where(Notification.store_id.in_(store_ids))
    return stmt


_UNREAD = select(func.count()).where(Notification.organization_id == bindparam("org"), Notification.read_at.is_(None))
_UNREAD_IN_STORES = _UNREAD.where(Notification.store_id.in_(bindparam("stores", expanding=True)))


def unread_count(org_id: int, store_ids) -> int:
    """The unread notifications a tenant may see (`visible_notifications`); every page's badge asks."""
    if store_ids is None:
        return db.session.connection().execute(_UNREAD, {"org": org_id}).scalar() or 0
    return db.session.connection().execute(_UNREAD_IN_STORES, {"org": org_id, "stores": sorted(store_ids)}).scalar() or 0


def mark_read(note: Notification, *, now: datetime) -> None:
    """Mark one notification read (idempotent: the first read time is kept)."""
    if note.read_at is None:
        note.read_at = now
        db.session.flush()


def mark_all_read(org_id: int, store_ids, *, now: datetime) -> int:
    notes = db.session.scalars(visible_notifications(org_id, store_ids).where(Notification.read_at.is_(None))).all()
    for note in notes:
        note.read_at = now
    db.session.flush()
    return len(notes)


# --- after-payment follow-up -----------------------------------------------------------------

def get_template(org_id: int) -> FollowUpTemplate:
    template = db.session.scalar(select(FollowUpTemplate).where(FollowUpTemplate.organization_id == org_id))
    if template is None:
        template = FollowUpTemplate(organization_id=org_id, enabled=False, body=DEFAULT_FOLLOWUP, updated_at=clock.now())
        db.session.add(template)
        db.session.flush()
    return template


def _check_placeholders(text: str, field: str, placeholders=PLACEHOLDERS, error=SettingsError) -> None:
    for name in _PLACEHOLDER.findall(text):
        if name not in placeholders:
            raise error(_l("未知的占位符 {%(name)s}，可用：%(names)s", name=name, names="、".join("{%s}" % p for p in placeholders)), field=field)


def template_fields(body: str, *, placeholders=PLACEHOLDERS, error=SettingsError) -> list[tuple[str, str]]:
    """The field map of a subscription template (the follow-up's, or with their own `placeholders`
    an incentive's): (template field name, value with placeholders), in order. Raises `error`
    (field "body") for an empty map, a line without `=`, an empty or repeated field name, more than
    MAX_FIELDS fields, or an unknown placeholder."""
    fields: list[tuple[str, str]] = []
    for number, line in enumerate((body or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.replace("＝", "=").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise error(_l("第 %(n)s 行应写成 字段名=内容", n=number), field="body")
        if any(name == other for other, _ in fields):
            raise error(_l("字段“%(name)s”重复", name=name), field="body")
        _check_placeholders(value, "body", placeholders, error)
        fields.append((name, value))
    if not fields:
        raise error(_l("请至少填写一个模板字段"), field="body")
    if len(fields) > MAX_FIELDS:
        raise error(_l("模板字段最多 %(n)s 个", n=MAX_FIELDS), field="body")
    return fields


def check_template(body: str) -> None:
    """Raises SettingsError for a field map `template_fields` refuses."""
    template_fields(body)


def save_template(org: Organization, *, template_id: str, body: str, page: str = "", enabled: bool, actor) -> FollowUpTemplate:
    """Save the follow-up subscription message: its template id (MSG…, required to switch it on),
    its field map and the page it opens. Raises SettingsError naming the field. Audited."""
    template_id, page = (template_id or "").strip(), (page or "").strip()
    if template_id and not _TEMPLATE_ID.match(template_id):
        raise SettingsError(_l("模板 ID 以 MSG 开头，见抖音开发者后台“订阅消息”"), field="template_id")
    if enabled and not template_id:
        raise SettingsError(_l("开启自动发送前请填写订阅消息模板 ID"), field="template_id")
    check_template(body)
    _check_placeholders(page, "page")
    template = get_template(org.id)
    template.template_id = template_id
    template.body = "\n".join(f"{name}={value}" for name, value in template_fields(body))
    template.page = page
    template.enabled = enabled
    template.updated_at = clock.now()
    audit.record("settings.followup.saved", actor=actor, obj=template, organization_id=org.id, enabled=enabled, template_id=template_id)
    db.session.flush()
    return template


def navigation_link(store: Store | None) -> str:
    if store is None:
        return ""
    if store.douyin_poi_id:
        return f"https://www.douyin.com/poi/{store.douyin_poi_id}"
    from urllib.parse import quote

    return f"https://uri.amap.com/search?keyword={quote(store.address or store.name)}"


def render_template_text(body: str, values: dict[str, str]) -> str:
    """Fill the placeholders; an unknown one is left as typed (the form refuses it anyway)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), body)


def render_fields(body: str, values: dict[str, str], **checks) -> dict[str, str]:
    """The template's fields filled with `values` (notify_user's `data`); a field whose value
    comes out empty (a store without opening hours) is sent as "—" rather than blank. `checks`
    go to `template_fields` (an incentive's placeholders and error)."""
    return {name: render_template_text(value, values).strip() or "—" for name, value in template_fields(body, **checks)}


def sample_values(store: Store | None) -> dict[str, str]:
    """Values for the live preview: the first store's real facts and a sample voucher code."""
    return {
        "voucher_code": "1234 5678 9012",
        "navigation_link": navigation_link(store) or "https://uri.amap.com/…",
        "opening_hours": (store.opening_hours if store else "") or "10:00-22:00",
        "store_name": store.name if store else "示例门店",
        "store_address": store.address if store else "",
        "store_phone": store.phone if store else "",
        "order_no": "ORD202611200001",
    }


def order_values(order) -> dict[str, str]:
    store = db.session.get(Store, order.store_id) if order.store_id else None
    codes = [v.code for v in order.vouchers]
    return {
        "voucher_code": "、".join(codes) if codes else "—",
        "navigation_link": navigation_link(store),
        "opening_hours": store.opening_hours if store else "",
        "store_name": store.name if store else "",
        "store_address": store.address if store else "",
        "store_phone": store.phone if store else "",
        "order_no": order.out_order_no,
    }


def on_order_paid(order) -> None:
    """React to a paid order: queue the follow-up message (when enabled) and open a call-back task.
    Idempotent: the outbox dedupes on the order, the task is unique per order."""
    now = clock.now()
    if db.session.scalar(select(CallbackTask.id).where(CallbackTask.order_id == order.id)) is None:
        paid_at = order.paid_at or now
        db.session.add(
            CallbackTask(organization_id=order.organization_id, store_id=order.store_id, order_id=order.id, due_at=paid_at + CALLBACK_WINDOW, created_at=now)
        )
    if not features.enabled(order.organization_id, "followup_messages"):
        return
    template = db.session.scalar(select(FollowUpTemplate).where(FollowUpTemplate.organization_id == order.organization_id))
    if template is None or not template.enabled or not template.template_id or not order.buyer_open_id:
        return
    values = order_values(order)
    outbox.add(
        order.organization_id,
        FOLLOWUP_KIND,
        {"msg_id": template.template_id, "open_id": order.buyer_open_id, "data": render_fields(template.body, values),
         "page": render_template_text(template.page, values)},
        dedupe_key=f"followup:{order.id}",
    )
    db.session.flush()


def deliver_followup(message) -> dict:
    """Outbox handler: send the subscription message (notify_user; raises DouyinError to retry).
    A message queued before subscription templates (no msg_id) fails for good: it has no template."""
    from portal.onboarding.connection import delivery_client

    payload = message.payload
    if not payload.get("msg_id"):
        raise DouyinError(None, "no subscription template id: set one in 设置 → 支付后消息")
    client = delivery_client(message.organization_id)
    client.notify_user(msg_id=payload["msg_id"], open_id=payload["open_id"], data=payload["data"], page=payload.get("page") or None)
    return {"msg_id": payload["msg_id"]}


def list_callback_tasks(org_id: int, store_ids, *, include_done: bool = False):
    stmt = select(CallbackTask).where(CallbackTask.organization_id == org_id)
    if store_ids is not None:
        stmt = stmt.where(CallbackTask.store_id.in_(store_ids))
    if not include_done:
        stmt = stmt.where(CallbackTask.contacted_at.is_(None))
    return db.session.scalars(stmt.order_by(CallbackTask.due_at)).all()


def mark_contacted(task: CallbackTask, *, actor, now: datetime, note: str = "") -> None:
    """Record that staff called the buyer; the first contact wins (idempotent); audited."""
    if task.contacted_at is not None:
        return
    task.contacted_at = now
    task.contacted_by_id = actor.id
    task.note = (note or "")[:200]
    audit.record("settings.callback.contacted", actor=actor, obj=task, order_id=task.order_id, late=now > task.due_at)
    db.session.flush()


# --- stores and shop name --------------------------------------------------------------------

_HOURS = re.compile(r"^\d{2}:\d{2}-\d{2}:\d{2}(,\s*\d{2}:\d{2}-\d{2}:\d{2})*$")


def update_store(store: Store, *, actor, name: str, address: str, phone: str, opening_hours: str) -> None:
    """Edit a store's facts (the POI binding is done in the onboarding wizard); audited."""
    name = (name or "").strip()
    if not name:
        raise SettingsError(_l("请输入门店名称"), field="name")
    opening_hours = (opening_hours or "").strip()
    if opening_hours and not _HOURS.match(opening_hours):
        raise SettingsError(_l("营业时间格式应为 10:00-22:00"), field="opening_hours")
    changes = {}
    for field, value in (("name", name), ("address", address.strip()), ("phone", phone.strip()), ("opening_hours", opening_hours)):
        if getattr(store, field) != value:
            changes[field] = value
            setattr(store, field, value)
    if changes:
        audit.record("settings.store.updated", actor=actor, obj=store, **changes)
    db.session.flush()


def rename_shop(org: Organization, name: str, *, actor) -> LinkedAccount | None:
    """Change the shop's name; the bound official account's display name follows. Audited.
    Returns the official account that was renamed, if any."""
    name = (name or "").strip()
    if not name:
        raise SettingsError(_l("请输入店铺名称"), field="name")
    if len(name) > 100:
        raise SettingsError(_l("店铺名称不能超过 100 个字"), field="name")
    official = db.session.scalar(
        select(LinkedAccount).where(
            LinkedAccount.organization_id == org.id, LinkedAccount.role == LinkedAccountRole.OFFICIAL, LinkedAccount.unbound_at.is_(None)
        )
    )
    if org.name != name:
        audit.record("settings.shop.renamed", actor=actor, obj=org, organization_id=org.id, before=org.name, after=name)
        org.name = name
    if official is not None and official.display_name != name:
        official.display_name = name
        audit.record("settings.linked_account.renamed", actor=actor, obj=official, display_name=name)
    db.session.flush()
    return official


def audit_trail(org_id: int, *, limit: int = 200):
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.organization_id == org_id).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ).all()

