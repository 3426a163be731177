"""Contract cases of the third-party platform's APIs for the authorized mini-program: its basic
information (wizard step 1) and the package_version APIs (audit hosts, versions, audit, release)
that carry the wizard's review (step 5)."""

from __future__ import annotations

from .harness import Case
from portal.douyin import replies


def authorized(world) -> None:
    """The app authorizes the sandbox's third-party platform; its calls then carry the authorizer
    token (the package_version APIs refuse the app's own client token)."""
    from .cases_component import prep_auth_token_refresh

    world.token = None
    refresh = prep_auth_token_refresh(world, None)
    reply = world.client.get("/api/tpapp/v2/auth/get_auth_token", headers={"access-token": world.token}, query_string={
        "grant_type": "app_to_tp_refresh_token", "authorizer_refresh_token": next(iter(refresh.values()))}).get_json()
    world.token = reply["data"]["authorizer_access_token"]


def _audited(world, *, approve: bool | None = None, reason: str = ""):
    """The sandbox's test version submitted for review, and decided when `approve` is given."""
    authorized(world)
    reply = world.post("/api/apps/v1/package_version/audit/", {"host_names": ["douyin"], "audit_note": "首版"}).get_json()
    assert reply["err_no"] == 0, reply
    if approve is not None:
        decided = world.client.post(f"/sandbox/control/apps/{world.appid}/package_audit/review",
                                    json={"approve": approve, "reason": reason})
        assert decided.status_code == 200, decided.get_json()


def prep_basic_info(world, fixture):
    authorized(world)
    return None


def prep_versions(world, fixture):
    _audited(world, approve=False, reason="无法进入小程序")
    return None


def prep_audit(world, fixture):
    # The reference asks for a resubmission (audit_way 1) of a version that failed its audit.
    _audited(world, approve=False, reason="无法进入小程序")
    return {"YkaYm7173K": "douyin"}


def prep_release(world, fixture):
    _audited(world, approve=True)
    return None


CASES = [
    Case("package_audit_hosts", call=lambda c: c.package_audit_hosts(), reply=replies.PACKAGE_AUDIT_HOSTS,
         sandbox=lambda world, fixture: authorized(world)),
    Case("basic_info", call=lambda c: c.basic_info(), reply=replies.BASIC_INFO, sandbox=prep_basic_info),
    Case("package_versions", call=lambda c: c.package_versions(), reply=replies.PACKAGE_VERSIONS, sandbox=prep_versions),
    Case("package_audit", call=lambda c: c.package_audit(host_names=["YkaYm7173K"], audit_note="AvTotSPfit", resubmit_failed=True),
         reply=replies.PACKAGE_AUDIT, sandbox=prep_audit),
    Case("package_release", call=lambda c: c.package_release(), reply=replies.PACKAGE_RELEASE, sandbox=prep_release),
]
