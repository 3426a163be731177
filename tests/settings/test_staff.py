"""Staff management (accounts): suspend, reactivate, remove, change role and store scope; audited."""

import pytest
from bs4 import BeautifulSoup

from portal.accounts import service
from portal.accounts.models import Membership, Role
from portal.audit import AuditEntry
from tests.fixtures.accounts import PASSWORD

pytestmark = pytest.mark.usefixtures("request_context")


def member(user, org):
    return next(m for m in user.memberships if m.organization_id == org.id)


def test_suspended_member_loses_access(client, owner, manager, org, db):
    client.login_as(owner)
    assert client.post_form(f"/staff/{member(manager, org).id}/suspend").status_code == 303
    db.session.refresh(member(manager, org))
    assert member(manager, org).status == "suspended"
    client.login_as(manager)
    assert client.get("/settings/callbacks").status_code in (403, 404)
    client.login_as(owner)
    assert client.post_form(f"/staff/{member(manager, org).id}/reactivate").status_code == 303
    client.login_as(manager)
    assert client.get("/settings/callbacks").status_code == 200


def test_hq_admin_cannot_touch_owner_or_self(accounts, org, owner):
    hq = accounts.user(Role.HQ_ADMIN, org)
    with pytest.raises(service.AccountError, match="没有权限"):
        service.suspend_staff(member(owner, org), actor=hq, actor_role=Role.HQ_ADMIN)
    with pytest.raises(service.AccountError, match="自己"):
        service.suspend_staff(member(hq, org), actor=hq, actor_role=Role.HQ_ADMIN)


def test_role_change_needs_a_store_and_is_audited(org, owner, clerk, db):
    m = member(clerk, org)
    with pytest.raises(service.AccountError, match="必须选择门店"):
        service.change_staff_role(m, role=Role.STORE_MANAGER, store=None, actor=owner, actor_role=Role.OWNER)
    service.change_staff_role(m, role=Role.STORE_MANAGER, store=org.stores[1], actor=owner, actor_role=Role.OWNER)
    assert (m.role, m.store_id) == (Role.STORE_MANAGER, org.stores[1].id)
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.code == "accounts.staff.role_changed"))
    assert entry.payload["before_role"] == "clerk" and entry.payload["store_id"] == org.stores[1].id


def test_remove_member_and_other_tenant_404(client, owner, clerk, accounts, org, db):
    other = accounts.org()
    stranger = accounts.user(Role.CLERK, other, other.stores[0])
    client.login_as(owner)
    assert client.post_form(f"/staff/{member(stranger, other).id}/remove").status_code == 404
    clerk_membership_id = member(clerk, org).id
    assert client.post_form(f"/staff/{clerk_membership_id}/remove").status_code == 303
    assert db.session.get(Membership, clerk_membership_id) is None
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.code == "accounts.staff.removed")).payload["email"] == clerk.email


def test_staff_page_shows_actions_but_not_for_self(client, owner, clerk, org):
    page = BeautifulSoup(client.login_as(owner).get("/staff/").get_data(as_text=True), "html.parser")
    assert page.select_one(f"#staff-actions-{member(clerk, org).id}") is not None
    assert page.select_one(f"#staff-actions-{member(owner, org).id}") is None


def test_clerk_cannot_manage_staff(client, clerk, manager, org):
    client.login_as(clerk)
    assert client.post_form(f"/staff/{member(manager, org).id}/suspend").status_code == 403
    assert PASSWORD
