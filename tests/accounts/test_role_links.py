"""No page offers a role a link or a button that would answer 403: what a role cannot use is
hidden (or disabled with the reason), so nobody lands on the full-page 403 from the portal's own UI."""

from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.accounts.models import Role


def _endpoint(app, url, method):
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(urlsplit(url).path, method=method)
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint


def _refused(app, role, url, method):
    endpoint = _endpoint(app, url, method)
    view = app.view_functions.get(endpoint) if endpoint else None
    roles = getattr(view, "roles", None)
    return roles is not None and role not in roles


def _crawl(client, app, role, start, limit=60):
    """Every page reachable from `start` by links; returns (page, method, target) for each link or
    form on those pages that the role may not use."""
    seen, queue, refused = set(), [(start, None)], []
    while queue and len(seen) < limit:
        url, came_from = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code == 403:  # offered by a page, refused when followed
            refused.append((came_from, "GET", url))
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        for link in page.select("a[href]"):
            href = link["href"]
            if not href.startswith("/") or href.startswith("//") or link.get("download") is not None:
                continue
            if _refused(app, role, href, "GET"):
                refused.append((url, "GET", href))
            elif href.split("?")[0] not in {u.split("?")[0] for u in seen} and "logout" not in href:
                queue.append((href, url))
        for form in page.select("form[action]"):
            if form.find_parent(attrs={"hidden": True}) is not None:
                continue
            method = (form.get("method") or "get").upper()
            buttons = form.select("button, input[type=submit]")
            if buttons and all(b.has_attr("disabled") for b in buttons):
                continue  # shown disabled, with its reason
            if _refused(app, role, form["action"], method):
                refused.append((url, method, form["action"]))
    return refused


@pytest.mark.parametrize("role", [Role.HQ_ADMIN, Role.STORE_MANAGER, Role.CLERK])
def test_no_page_offers_a_role_what_it_cannot_open(app, client, accounts, org, orders, shop, role):
    product = shop.product(org, stores=[org.stores[0]])
    shop.product(org, stores=[org.stores[0]]).review_status = "rejected"
    shop.product(org, stores=list(org.stores)).review_status = "rejected"  # also sold at the other store
    order = orders.order(org, store=org.stores[0], product=product)
    orders.redeem(order.vouchers[0])
    user = accounts.user(role, org, org.stores[0] if role.store_scoped else None)
    client.login_as(user)
    start = "/counter/" if role == Role.CLERK else "/dashboard"
    assert _crawl(client, app, role, start) == []
