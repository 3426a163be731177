from sqlalchemy import select

from portal import audit
from portal.audit import AuditEntry


def test_audit_entry_records_actor_object_and_scrubs_secrets(db, owner, org):
    audit.record("onboarding.secret.saved", actor=owner, obj=org, app_secret="abc", nested={"private_key": "x", "ok": 1}, note="fine")
    db.session.flush()
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "onboarding.secret.saved")).one()
    assert entry.actor_id == owner.id
    assert entry.object_type == "Organization" and entry.object_id == str(org.id)
    assert entry.payload == {"app_secret": "[redacted]", "nested": {"private_key": "[redacted]", "ok": 1}, "note": "fine"}


def test_password_change_is_audited_without_the_password(client, owner, db):
    from tests.fixtures.accounts import PASSWORD

    client.login_as(owner).post_form(
        "/account/password", {"current_password": PASSWORD, "new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"}
    )
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.code == "accounts.password.changed")).one()
    assert entry.actor_id == owner.id
    assert "brand-new-pass-1" not in str(entry.payload)
