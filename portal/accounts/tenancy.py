"""The tenancy guard: every view reads data through it, never by hand.

It resolves, once per request, who is acting for which organization (and which stores a
store-scoped role may see). `query(Model)` scopes a select to that; `get_or_404` turns another
tenant's id into a 404; `require(...)` turns a missing permission into a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, g, session
from flask_login import current_user, login_required
from sqlalchemy import Select, bindparam, select

from portal import params
from portal.accounts.models import Membership, MembershipStatus, Organization, Role, Store
from portal.extensions import db

MERCHANT_ADMINS = (Role.OWNER, Role.HQ_ADMIN)
MANAGERS = (Role.OWNER, Role.HQ_ADMIN, Role.STORE_MANAGER)
STAFF = (Role.OWNER, Role.HQ_ADMIN, Role.STORE_MANAGER, Role.CLERK)


@dataclass(frozen=True)
class Tenant:
    membership: Membership
    organization: Organization
    role: Role
    store_ids: frozenset[int] | None  # None: every store of the organization

    @property
    def is_admin(self) -> bool:
        return self.role in MERCHANT_ADMINS

    def can_see_store(self, store_id: int | None) -> bool:
        return self.store_ids is None or store_id in self.store_ids


def active_memberships(user) -> list[Membership]:
    """The user's active memberships in joining order (the user loader loads them, with their
    organizations, in the same query as the user)."""
    return [m for m in user.memberships if m.status == MembershipStatus.ACTIVE]


def current() -> Tenant | None:
    """The acting tenant of this request, or None (anonymous, operator without membership)."""
    if "tenant" in g:
        return g.tenant
    tenant = None
    if current_user.is_authenticated:
        memberships = active_memberships(current_user)
        chosen = next((m for m in memberships if m.organization_id == session.get("org_id")), None)
        chosen = chosen or (memberships[0] if memberships else None)
        if chosen is not None:
            role = Role(chosen.role)
            stores = frozenset({chosen.store_id}) if role.store_scoped else None
            tenant = Tenant(chosen, chosen.organization, role, stores)
    g.tenant = tenant
    return tenant


def tenant_or_404() -> Tenant:
    tenant = current()
    if tenant is None:
        abort(404)
    return tenant


def query(model, *, store_column: str = "store_id") -> Select:
    """A select of `model` limited to the current organization and, for scoped roles, their stores."""
    tenant = tenant_or_404()
    stmt = select(model)
    if model is Organization:
        return stmt.where(Organization.id == tenant.organization.id)
    stmt = stmt.where(model.organization_id == tenant.organization.id)
    column = model.id if model is Store else getattr(model, store_column, None)
    if tenant.store_ids is not None and column is not None:
        stmt = stmt.where(column.in_(tenant.store_ids))
    return stmt


def get_or_404(model, object_id, **kwargs):
    """One object of the current tenant by id; anyone else's (or none, or a malformed id) is a 404."""
    if not params.is_id(object_id):
        abort(404)
    object_id = int(object_id)
    obj = db.session.execute(query(model, **kwargs).where(model.id == object_id)).scalar_one_or_none()
    if obj is None:
        abort(404)
    return obj


_STORES = select(Store).where(Store.organization_id == bindparam("org")).order_by(Store.id)
_SCOPED_STORES = _STORES.where(Store.id.in_(bindparam("stores", expanding=True)))


def stores() -> list[Store]:
    """The stores the current tenant may see, in id order (statements built once: most pages ask)."""
    tenant = tenant_or_404()
    if tenant.store_ids is None:
        return list(db.session.scalars(_STORES, {"org": tenant.organization.id}))
    return list(db.session.scalars(_SCOPED_STORES, {"org": tenant.organization.id, "stores": sorted(tenant.store_ids)}))


_STORE_NAMES = select(Store.id, Store.name).where(Store.organization_id == bindparam("org")).order_by(Store.id)
_SCOPED_STORE_NAMES = _STORE_NAMES.where(Store.id.in_(bindparam("stores", expanding=True)))


def store_names() -> dict[int, str]:
    """`stores()` as {id: name}, in id order, read as plain rows (for pages that only name them)."""
    tenant = tenant_or_404()
    if tenant.store_ids is None:
        rows = db.session.connection().execute(_STORE_NAMES, {"org": tenant.organization.id})
    else:
        rows = db.session.connection().execute(_SCOPED_STORE_NAMES, {"org": tenant.organization.id, "stores": sorted(tenant.store_ids)})
    return dict(rows.all())


def require(*roles: Role):
    """Login required, a membership required, and one of `roles` (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            tenant = current()
            if tenant is None or tenant.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.roles = frozenset(roles)  # read by pages that hide what a role cannot open
        return wrapped

    return decorator


def operator_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
