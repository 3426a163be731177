"""One URL, one view: full page for normal, boosted and history-restore requests; partial for a swap."""

from bs4 import BeautifulSoup


def test_full_page_for_a_normal_request(client):
    response = client.get("/login")
    assert BeautifulSoup(response.data, "html.parser").select_one("html") is not None
    assert "HX-Request" in response.headers["Vary"]


def test_partial_for_an_htmx_swap(hx):
    response = hx.get("/login")
    page = BeautifulSoup(response.data, "html.parser")
    assert page.select_one("html") is None
    assert page.select_one("#accounts-login-form") is not None
    assert "HX-Request" in response.headers["Vary"]


def test_full_page_for_boosted_and_history_restore(hx):
    for header in ("HX-Boosted", "HX-History-Restore-Request"):
        response = hx.get("/login", headers={header: "true"})
        assert BeautifulSoup(response.data, "html.parser").select_one("html") is not None, header


def test_successful_htmx_post_redirects_with_hx_redirect(hx, owner):
    from tests.fixtures.accounts import PASSWORD

    response = hx.post_form("/login", {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].endswith("/dashboard")


def test_add_trigger_merges_events(app):
    from flask import Response

    from portal.htmx import add_trigger

    response = Response()
    add_trigger(response, "ledger-changed")
    add_trigger(response, "notifications-changed", {"unread": 2})
    import json

    assert json.loads(response.headers["HX-Trigger"]) == {"ledger-changed": None, "notifications-changed": {"unread": 2}}
