"""Douyin's pushes to the third-party platform, as the sandbox makes them: the operator revokes a
mini-program's authorization in the sandbox console and the portal puts wizard step 1 back."""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.notifications import Notification


@pytest.fixture
def sandbox(app):
    """A sandbox whose third-party platform holds the portal's keys (as `flask dev` arranges)."""
    from tests.sandbox.conftest import World, make_app

    keys = {name: app.config[name] for name in
            ("COMPONENT_APPID", "COMPONENT_APPSECRET", "COMPONENT_PUSH_TOKEN", "COMPONENT_ENCODING_AES_KEY")}
    application = make_app(**keys)
    try:
        yield World(application.test_client())
    finally:
        application.extensions["sandbox"].stop()


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def deliver_last_push(sandbox, client):
    """What the sandbox posts to the platform's push URL, delivered to the portal."""
    push = sandbox.client.get("/sandbox/control/component/pushes").get_json()[-1]
    return client.post("/douyin/component/events", json=push["envelope"])


def test_revoking_in_the_sandbox_console_puts_step_one_back_with_a_notice(client, db, owner, org, onboarding, sandbox):
    app = onboarding.app(org, upto=5)
    app.app_id = sandbox.appid
    db.session.commit()
    sandbox.client.post("/sandbox/control/component/authorize", json={"appid": sandbox.appid})
    page = html(client.login_as(owner).get("/onboarding/prepare"))
    assert page.select_one("#onboarding-miniapp-unauthorized") is None
    assert page.select_one("#onboarding-rail li")["data-status"] == "done"

    assert sandbox.client.post(f"/console/component/apps/{sandbox.appid}/unauthorize").status_code == 303
    response = deliver_last_push(sandbox, client)
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"

    page = html(client.get("/onboarding/prepare"))
    assert "取消对本平台的授权" in page.select_one("#onboarding-miniapp-unauthorized").text
    assert page.select_one("#onboarding-rail li")["data-status"] == "current"
    assert "去授权" in page.select_one("#onboarding-miniapp-authorize").text
    db.session.refresh(app)
    assert app.unauthorized_at is not None and app.authorizer_access_token_enc is None
    notices = db.session.scalars(select(Notification).where(Notification.organization_id == org.id)).all()
    assert [n.link for n in notices] == ["/onboarding/prepare"]
    # Douyin may push the same event again: one notice still.
    assert deliver_last_push(sandbox, client).status_code == 200
    assert len(db.session.scalars(select(Notification).where(Notification.organization_id == org.id)).all()) == 1
