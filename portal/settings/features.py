"""Organization feature toggles: the edition gives a default, the operator may override it.

Other domains call `enabled(org_id, name)`; names are the keys of FEATURES.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal import audit, clock
from portal.accounts.models import Edition, Organization
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.settings.models import OrganizationFeature


@dataclass(frozen=True)
class Feature:
    name: str
    label: object
    help: object
    editions: frozenset[str]  # editions where it is on unless the operator says otherwise


_ALL = frozenset(Edition)
_PAID = frozenset({Edition.ADVANCED, Edition.FLAGSHIP})

FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("content_attribution", _l("内容与归因"), _l("登记短视频/直播、挂载商品、生成追踪码"), _PAID),
        Feature("followup_messages", _l("支付后自动消息"), _l("订单支付后通过抖音私信发送核销码、导航和营业时间"), _ALL),
        Feature("bookings", _l("门店预约"), _l("按门店设置预约时段与容量，同步抖音预约"), _PAID),
        Feature("linked_accounts", _l("关联账号"), _l("绑定官方账号与渠道账号"), _ALL),
        Feature("email_notifications", _l("邮件通知"), _l("按开关把通知同时发送到邮箱"), _ALL),
    )
}


class FeatureError(DomainError):
    """A feature switch that cannot be set; the message is safe to show."""


def _override(org_id: int, name: str) -> OrganizationFeature | None:
    return db.session.scalar(
        select(OrganizationFeature).where(OrganizationFeature.organization_id == org_id, OrganizationFeature.name == name)
    )


def enabled(org_id: int, name: str) -> bool:
    """Is feature `name` on for the organization: the operator's override, else the edition's default.
    An unknown name raises KeyError (a typo must not silently switch something off)."""
    feature = FEATURES[name]
    row = _override(org_id, name)
    if row is not None:
        return row.enabled
    edition = db.session.scalar(select(Organization.edition).where(Organization.id == org_id))
    return edition in feature.editions


def states(org: Organization) -> list[tuple[Feature, bool, bool]]:
    """(feature, on, overridden) for every feature, in display order."""
    rows = {r.name: r for r in db.session.scalars(select(OrganizationFeature).where(OrganizationFeature.organization_id == org.id))}
    return [
        (f, rows[f.name].enabled if f.name in rows else org.edition in f.editions, f.name in rows)
        for f in FEATURES.values()
    ]


def set_feature(org: Organization, name: str, on: bool, *, actor) -> OrganizationFeature:
    """Switch a feature on or off for one organization at once (operator); audited. Idempotent."""
    if name not in FEATURES:
        raise FeatureError(_l("未知功能"), field="name")
    row = _override(org.id, name)
    before = enabled(org.id, name)
    if row is None:
        row = OrganizationFeature(organization_id=org.id, name=name, enabled=on, updated_at=clock.now())
        db.session.add(row)
    row.enabled = on
    row.updated_by_id = getattr(actor, "id", None)
    row.updated_at = clock.now()
    db.session.flush()
    if before != on:
        audit.record("admin.feature.switched", actor=actor, organization_id=org.id, obj=row, feature=name, enabled=on)
    return row


def set_edition(org: Organization, edition: str, *, actor) -> None:
    """Change an organization's edition (operator); audited."""
    if edition not in {e.value for e in Edition}:
        raise FeatureError(_l("未知版本"), field="edition")
    if org.edition != edition:
        audit.record("admin.edition.changed", actor=actor, obj=org, organization_id=org.id, before=str(org.edition), after=edition)
        org.edition = edition
        db.session.flush()
