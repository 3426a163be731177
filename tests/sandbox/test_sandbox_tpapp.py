"""The third-party platform's page in the operator console: push a ticket, see the authorized
apps and their token expiry, revoke an authorization (pushed as UNAUTHORIZED) and authorize again."""

from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup

from portal.douyin.component import ComponentCredentials, decrypt_event
from tests.sandbox.test_sandbox_control import _authorize as authorized

CONSOLE = "/console/component"
VERSIONS = "/api/apps/v1/package_version/versions/"


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def pushed(world) -> list[dict]:
    """Every push the sandbox made, decrypted with the platform's keys (oldest first)."""
    keys = world.client.get("/sandbox/control/component").get_json()
    credentials = ComponentCredentials(keys["component_appid"], keys["component_appsecret"], keys["push_token"], keys["encoding_aes_key"])
    return [decrypt_event(credentials, p["envelope"]) for p in world.client.get("/sandbox/control/component/pushes").get_json()
            if p["component_appid"] == keys["component_appid"]]


def test_the_console_pushes_a_ticket_on_demand(world):
    before = len(pushed(world))
    response = world.client.post(f"{CONSOLE}/push_ticket")
    assert response.status_code == 303 and response.headers["Location"] == CONSOLE
    events = pushed(world)
    assert len(events) == before + 1 and events[-1]["Event"] == "PUSH" and events[-1]["MsgType"] == "Ticket"
    page = html(world.client.get(CONSOLE))
    assert page.select_one("#console-component-latest-ticket").text == events[-1]["Ticket"]
    assert "已推送" in page.select_one(".flash.ok").text
    # The pushed ticket is the one the token API accepts.
    keys = world.client.get("/sandbox/control/component").get_json()
    reply = world.client.get("/openapi/v2/auth/token", query_string={
        "component_appid": keys["component_appid"], "component_appsecret": keys["component_appsecret"],
        "component_ticket": events[-1]["Ticket"]}).get_json()
    assert reply["err_no"] == 0


def test_the_console_lists_authorized_apps_with_their_token_expiry(world):
    assert "还没有小程序授权" in html(world.client.get(CONSOLE)).select_one("#console-component-apps").text
    from sandbox.views_util import ms_time

    before = world.client.get("/sandbox/control").get_json()["now_ms"]
    authorized(world)
    after = world.client.get("/sandbox/control").get_json()["now_ms"]
    row = html(world.client.get(CONSOLE)).select_one(f"#component-app-{world.appid}")
    assert row["data-status"] == "authorized" and "老王小程序" in row.text
    # Two hours and thirty days after the code exchange on the sandbox clock, in Beijing time.
    access, refresh = row.select_one(".access-expiry").text.strip(), row.select_one(".refresh-expiry").text.strip()
    assert ms_time(before + 7200 * 1000) <= access <= ms_time(after + 7200 * 1000)
    assert ms_time(before + 30 * 86400 * 1000) <= refresh <= ms_time(after + 30 * 86400 * 1000)
    assert row.select_one(f"form[action='{CONSOLE}/apps/{world.appid}/unauthorize']") is not None


def test_revoking_in_the_console_ends_the_tokens_and_pushes_unauthorized(world):
    authorized(world)
    assert world.get(VERSIONS).get_json()["err_no"] == 0
    before = len(pushed(world))
    response = world.client.post(f"{CONSOLE}/apps/{world.appid}/unauthorize")
    assert response.status_code == 303
    events = pushed(world)
    assert len(events) == before + 1
    assert {k: events[-1][k] for k in ("Event", "AppId")} == {"Event": "UNAUTHORIZED", "AppId": world.appid}
    assert world.get(VERSIONS).get_json()["err_no"] == 28001003
    page = html(world.client.get(CONSOLE))
    row = page.select_one(f"#component-app-{world.appid}")
    assert row["data-status"] == "unauthorized" and row.select_one(".access-expiry").text.strip() == "—"
    assert row.select_one("input[name=appid]")["value"] == world.appid and "重新授权" in row.text
    # Revoking twice is refused with a reason and pushes nothing.
    world.client.post(f"{CONSOLE}/apps/{world.appid}/unauthorize")
    assert "未授权" in html(world.client.get(CONSOLE)).select_one(".flash.error").text
    assert len(pushed(world)) == before + 1


def test_reauthorizing_from_the_console_opens_the_authorization_page_for_that_app(world):
    authorized(world)
    world.client.post(f"{CONSOLE}/apps/{world.appid}/unauthorize")
    response = world.client.post(f"{CONSOLE}/authorize_link", data={"appid": world.appid})
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path.startswith("/tpapp/authorize/") and parse_qs(location.query)["appid"] == [world.appid]
    page = html(world.client.get(response.headers["Location"]))
    assert page.select_one("#tpapp-appid option[selected]")["value"] == world.appid
    done = world.client.post(location.path, data={"appid": world.appid, "agree": "1"})
    assert done.status_code == 200
    code = html(done).select_one("#tpapp-code").text
    event = pushed(world)[-1]
    assert (event["Event"], event["AppId"], event["AuthorizationCode"]) == ("AUTHORIZED", world.appid, code)
    assert html(world.client.get(CONSOLE)).select_one(f"#component-app-{world.appid}")["data-status"] == "authorized"


def test_the_console_page_is_linked_from_every_console_page(client):
    assert html(client.get("/console/")).select_one(f"nav a[href='{CONSOLE}']").text == "第三方平台"
