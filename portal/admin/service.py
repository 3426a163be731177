"""The platform operator's view of merchants: search, onboarding state (never secrets), sync runs,
failed jobs with retry, webhook events with replay. Toggles live in portal.settings.features."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from portal import audit, params
from portal.accounts.models import Membership, Organization, Role, Store, User
from portal.douyin import webhooks
from portal.douyin.events import WebhookEvent
from portal.errors import DomainError
from portal.extensions import db, queue
from portal.i18n import lazy_gettext as _l


class AdminError(DomainError):
    """An operator action that cannot be done; the message is safe to show."""


def search_merchants(q: str = "", *, limit: int = 100) -> list[Organization]:
    """Organizations whose name, id or a member's e-mail matches `q` (all when empty)."""
    stmt = select(Organization).order_by(Organization.id)
    q = (q or "").strip()
    if q:
        members = select(Membership.organization_id).join(User, User.id == Membership.user_id).where(User.email.ilike(f"%{q}%"))
        conditions = [Organization.name.ilike(f"%{q}%"), Organization.id.in_(members)]
        if params.is_id(q):
            conditions.append(Organization.id == int(q))
        stmt = stmt.where(or_(*conditions))
    return db.session.scalars(stmt.limit(limit)).all()


def owner_email(org: Organization) -> str:
    return db.session.scalar(
        select(User.email).join(Membership, Membership.user_id == User.id).where(Membership.organization_id == org.id, Membership.role == Role.OWNER).limit(1)
    ) or ""


def store_count(org: Organization) -> int:
    return db.session.scalar(select(func.count()).where(Store.organization_id == org.id)) or 0


@dataclass(frozen=True)
class Fact:
    label: object
    value: str


_SECRET_COLUMNS = ("app_secret_enc", "payment_salt_enc", "payment_token_enc", "private_key_enc", "callback_token")


def onboarding_facts(org_id: int) -> list[Fact]:
    """The merchant's onboarding state, read-only. Every encrypted column and the callback token
    show only whether they are set; their values never leave this function."""
    from portal.onboarding.models import DouyinApp

    app = db.session.scalar(select(DouyinApp).where(DouyinApp.organization_id == org_id))
    if app is None:
        return [Fact(_l("抖音推广"), str(_l("未开通")))]
    configured, missing = str(_l("已配置（已加密，不可查看）")), str(_l("未配置"))
    facts = []
    for column in DouyinApp.__table__.columns:
        name = column.key
        if name in ("id", "organization_id"):
            continue
        value = getattr(app, name)
        if name in _SECRET_COLUMNS or name.endswith("_enc"):
            shown = configured if value else missing
        elif name.endswith("_pem"):
            shown = str(_l("已上传")) if value else missing
        elif value is None or value == "":
            shown = "—"
        elif isinstance(value, bool):
            shown = str(_l("是")) if value else str(_l("否"))
        else:
            shown = str(value)
        facts.append(Fact(name, shown))
    return facts


def sync_runs(org_id: int, *, limit: int = 20) -> list | None:
    """The catalog's sync runs of a merchant, or None when the catalog has no such table."""
    try:
        from portal.catalog.models import SyncRun
    except ImportError:
        return None
    return db.session.scalars(select(SyncRun).where(SyncRun.organization_id == org_id).order_by(SyncRun.id.desc()).limit(limit)).all()


def webhook_events(org_id: int, *, limit: int = 50) -> list[WebhookEvent]:
    return db.session.scalars(
        select(WebhookEvent).where(WebhookEvent.organization_id == org_id).order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(limit)
    ).all()


def replay_event(event: WebhookEvent, *, actor) -> None:
    """Hand a stored callback to its handlers again (they are idempotent); audited."""
    webhooks.replay(event)
    audit.record("admin.webhook_event.replayed", actor=actor, obj=event, event_type=event.event_type, message_id=event.message_id)


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    args: tuple
    error: str
    ended_at: object
    organization_id: int | None


def _job_org(func: str, args: tuple) -> int | None:
    """Which merchant a failed job belongs to, for the jobs whose argument names a row of theirs."""
    from portal.outbox import OutboxMessage

    if not args:
        return None
    model = {"run_webhook_event": WebhookEvent, "run_outbox_delivery": OutboxMessage}.get(func.rpartition(".")[2])
    if model is None:
        try:
            from portal.catalog.models import SyncRun
        except ImportError:
            return None
        if "sync" not in func:
            return None
        model = SyncRun
    try:
        row = db.session.get(model, int(args[0]))
    except (TypeError, ValueError):
        return None
    return getattr(row, "organization_id", None)


def failed_jobs(org_id: int | None = None, *, limit: int = 100) -> list[FailedJob]:
    """Jobs in RQ's failed registries (every queue); only those of `org_id` when given."""
    found = []
    for q in queue.all():
        registry = q.failed_job_registry
        for job in registry.get_job_ids()[:limit]:
            job_obj = q.fetch_job(job)
            if job_obj is None:
                continue
            try:
                func = job_obj.func_name
                args = tuple(job_obj.args)
            except Exception:  # a job whose payload cannot be read is still listed
                func, args = "?", ()
            owner = _job_org(func, args)
            if org_id is not None and owner != org_id:
                continue
            error = (job_obj.latest_result().exc_string if job_obj.latest_result() else job_obj.exc_info) or ""
            found.append(FailedJob(job_obj.id, q.name, func, args, error.strip().splitlines()[-1] if error.strip() else "", job_obj.ended_at, owner))
    return found


def retry_job(job_id: str, *, actor) -> str:
    """Put a failed job back on its queue; audited. Raises AdminError when it is no longer failed."""
    for q in queue.all():
        registry = q.failed_job_registry
        if job_id in registry.get_job_ids():
            registry.requeue(job_id)
            audit.record("admin.job.retried", actor=actor, job_id=job_id, queue=q.name)
            return q.name
    raise AdminError(_l("该任务已不在失败列表中"))
