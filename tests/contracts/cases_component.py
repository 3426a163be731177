"""Contract cases of the third-party platform (服务商): its component token, the authorization of a
merchant's mini-program (link, code → authorizer tokens, refresh, a fresh code) and Douyin's
encrypted pushes to it (ticket, AUTHORIZED, UPDATE_AUTHORIZED, UNAUTHORIZED)."""

from __future__ import annotations

from dataclasses import dataclass
import time

from .harness import Case
from portal.douyin import replies
from portal.douyin.component import ComponentClient, ComponentCredentials, decrypt_event, encrypt_event

REFERENCE = ComponentCredentials("tt0000000000component", "xxxxx")


def component_client(client):
    """A platform client beside the reference client (same base URL; `responses` serves the
    fixture), holding a component token already, as after a first fetch."""
    client.token_cache.set("component:" + REFERENCE.component_appid, "cmpt.reference", time.time() + 7200)
    return ComponentClient(REFERENCE, ticket=lambda: "8c0da4968b0d1e28acbc1d738a56607d", base_url=client.base_url,
                           token_cache=client.token_cache, rate_limiter=client.rate_limiter, sleep=lambda _s: None, max_retries=0)


# --- the sandbox side --------------------------------------------------------------------------

def _component(world) -> dict:
    return world.client.get("/sandbox/control/component").get_json()


def _component_token(world) -> str:
    component = _component(world)
    ticket = world.client.post("/sandbox/control/component/push_ticket").get_json()["ticket"]
    reply = world.client.get("/openapi/v2/auth/token", query_string={
        "component_appid": component["component_appid"], "component_appsecret": component["component_appsecret"],
        "component_ticket": ticket}).get_json()
    assert reply["err_no"] == 0, reply
    return reply["component_access_token"]


def prep_component_token(world, fixture):
    component = _component(world)
    ticket = world.client.post("/sandbox/control/component/push_ticket").get_json()["ticket"]
    return {"tt0000000000component": component["component_appid"], "xxxxx": component["component_appsecret"],
            "8c0da4968b0d1e28acbc1d738a56607d": ticket}


def prep_with_component_token(world, fixture):
    world.token = _component_token(world)
    return None


def _authorized(world) -> str:
    world.token = _component_token(world)
    return world.client.post("/sandbox/control/component/authorize", json={"appid": world.appid}).get_json()["authorization_code"]


def prep_auth_token(world, fixture):
    return {"xxxxxxxxxxx": _authorized(world)}


def prep_auth_token_refresh(world, fixture):
    code = _authorized(world)
    reply = world.client.get("/api/tpapp/v2/auth/get_auth_token", headers={"access-token": world.token}, query_string={
        "grant_type": "app_to_tp_authorization_code", "authorization_code": code}).get_json()
    return {"isvrft.d016bb817070xxxxxtUS9BNtfJ174uhFNFUnW": reply["data"]["authorizer_refresh_token"]}


def prep_retrieve_auth_code(world, fixture):
    _authorized(world)
    return {"xxxxxxxx": world.appid}


# --- pushes ------------------------------------------------------------------------------------

def _last_push(world) -> dict:
    component = _component(world)
    credentials = ComponentCredentials(component["component_appid"], component["component_appsecret"],
                                       component["push_token"], component["encoding_aes_key"])
    envelope = world.client.get("/sandbox/control/component/pushes").get_json()[-1]["envelope"]
    return decrypt_event(credentials, envelope)


def emit_ticket(world):
    world.client.post("/sandbox/control/component/push_ticket")
    return _last_push(world)


def emit_authorized(world):
    world.client.post("/sandbox/control/component/authorize", json={"appid": world.appid})
    return _last_push(world)


def emit_update_authorized(world):
    world.client.post("/sandbox/control/component/authorize", json={"appid": world.appid})
    world.client.post("/sandbox/control/component/authorize", json={"appid": world.appid})
    return _last_push(world)


def emit_unauthorized(world):
    world.client.post("/sandbox/control/component/authorize", json={"appid": world.appid})
    world.client.post("/sandbox/control/component/unauthorize", json={"appid": world.appid})
    return _last_push(world)


@dataclass
class TextReply:
    """The portal's reply to a push is the text `success`, compared as the fixture's body."""

    status_code: int
    text: str

    def get_json(self):
        return self.text


def accept(request, fixture):
    from portal.onboarding import authorization

    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    with app.app_context():
        credentials = authorization.component_credentials()
    resp = client.post("/douyin/component/events", json=encrypt_event(credentials, fixture["request"]["body"], timestamp="1547441110"))
    return TextReply(resp.status_code, resp.get_data(as_text=True))


CASES = [
    Case("component_token", call=lambda c: component_client(c).fetch_component_token(), reply=replies.COMPONENT_TOKEN,
         sandbox=prep_component_token),
    Case("tpapp_auth_link", call=lambda c: component_client(c).auth_link(redirect_uri="https://portal.example/onboarding/prepare/authorized?state=x"),
         reply=replies.TPAPP_AUTH_LINK, sandbox=prep_with_component_token),
    Case("tpapp_auth_token", call=lambda c: component_client(c).auth_token(authorization_code="xxxxxxxxxxx"),
         reply=replies.TPAPP_AUTH_TOKEN, sandbox=prep_auth_token),
    Case("tpapp_auth_token_refresh", call=lambda c: component_client(c).auth_token(refresh_token="isvrft.d016bb817070xxxxxtUS9BNtfJ174uhFNFUnW"),
         reply=replies.TPAPP_AUTH_TOKEN, sandbox=prep_auth_token_refresh),
    Case("tpapp_retrieve_auth_code", call=lambda c: component_client(c).retrieve_auth_code("xxxxxxxx"),
         reply=replies.TPAPP_AUTH_CODE, sandbox=prep_retrieve_auth_code),
    Case("component_push_ticket", emit=emit_ticket, accept=accept),
    Case("component_authorized", emit=emit_authorized, accept=accept),
    Case("component_update_authorized", emit=emit_update_authorized, accept=accept),
    Case("component_unauthorized", emit=emit_unauthorized, accept=accept),
]
