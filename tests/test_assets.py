"""Static files: fingerprinted URLs answered with immutable caching and gzip, the counter's weight
on a first and a next visit, and the purged Bootstrap CSS still holding every class the templates
write."""

import gzip
import hashlib
import re

import pytest
from bs4 import BeautifulSoup

from bench.page_weight import BUDGET, counter_visit, totals
from portal.config import PROJECT_ROOT

STATIC = PROJECT_ROOT / "static"
TEMPLATES = PROJECT_ROOT / "templates"
BOOTSTRAP = STATIC / "vendor/bootstrap"
FINGERPRINTED = re.compile(r"^/static/(?P<stem>.+)\.(?P<hash>[0-9a-f]{10})(?P<ext>\.\w+)$")
LITE_BASES = ("counter_base.html", "auth_base.html")
COLORS = ("primary", "secondary", "success", "danger", "warning", "info", "light", "dark")
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def _static_urls(html: str) -> set[str]:
    soup = BeautifulSoup(html, "html.parser")
    return {value for tag in soup.find_all(True) for value in tag.attrs.values()
            if isinstance(value, str) and value.startswith("/static/")}


@pytest.mark.parametrize("who, paths", [
    (None, ["/login"]),
    ("clerk", ["/counter/", "/counter/history", "/account/password"]),
    ("owner", ["/dashboard", "/onboarding/", "/catalog/", "/ledger/", "/insights/", "/settings/"]),
])
def test_every_static_url_in_a_page_is_fingerprinted_and_cached_for_good(request, client, who, paths):
    if who:
        client.login_as(request.getfixturevalue(who))
    urls = set()
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200, path
        urls |= _static_urls(page.get_data(as_text=True))
    if who == "clerk":
        urls |= {icon["src"] for icon in client.get("/counter/manifest.webmanifest").get_json()["icons"]}
    assert any(url.endswith(".css") for url in urls) and any(url.endswith(".js") for url in urls)
    for url in sorted(urls):
        match = FINGERPRINTED.match(url)
        assert match, f"{url} has no fingerprint"
        content = (STATIC / (match["stem"] + match["ext"])).read_bytes()
        assert match["hash"] == hashlib.sha256(content).hexdigest()[:10], url
        packed = client.get(url, headers=GZIP)
        assert packed.status_code == 200, url
        assert packed.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert packed.vary.as_set() == {"accept-encoding", "hx-request"} and "Set-Cookie" not in packed.headers, url
        if match["ext"] in (".css", ".js", ".svg"):
            assert packed.headers["Content-Encoding"] == "gzip", url
            assert gzip.decompress(packed.get_data()) == content, url
            assert len(packed.get_data()) < len(content), url
        else:
            assert "Content-Encoding" not in packed.headers and packed.get_data() == content, url
        plain = client.get(url)
        assert "Content-Encoding" not in plain.headers and plain.get_data() == content, url


def test_a_plain_or_outdated_name_still_answers_with_short_caching(client):
    content = (STATIC / "css/app.css").read_bytes()
    plain = client.get("/static/css/app.css")
    assert plain.status_code == 200 and plain.get_data() == content
    assert plain.headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/static/css/app.css", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    # A page rendered before a deploy names the old fingerprint: it gets today's file, not for good.
    stale = client.get("/static/css/app.0123456789.css", headers=GZIP)
    assert stale.status_code == 200 and gzip.decompress(stale.get_data()) == content
    assert stale.headers["Cache-Control"] == "public, max-age=300"
    refused = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.get_data() == content
    for missing in ("/static/css/none.css", "/static/css/none.0123456789.css", "/static/../portal/config.py", "/static/%2e%2e/setup.cfg"):
        assert client.get(missing).status_code == 404, missing


def test_the_counter_first_visit_is_under_25_kb_and_the_next_asks_only_for_the_page(client, clerk):
    client.login_as(clerk)
    resources = counter_visit(client)
    kinds = {r.kind for r in resources}
    assert {"page", "stylesheet", "script", "manifest", "icon", "apple-touch-icon"} <= kinds
    first, again = totals(resources)
    assert first < BUDGET, "\n".join(f"{r.sent:7} {r.url}" for r in resources)
    assert [r.url for r in resources if not r.cached] == ["/counter/"]
    page = resources[0]
    assert again == page.sent
    for resource in resources:
        if resource.url.startswith("/static/"):
            assert "immutable" in resource.cache_control, resource.url


def _uses(text: str) -> list[str]:
    return re.findall(r"\{%-?\s*(?:extends|include|import|from)\s+[\"']([^\"']+)[\"']", text)


def _templates() -> dict[str, str]:
    return {path.relative_to(TEMPLATES).as_posix(): path.read_text() for path in TEMPLATES.rglob("*.html")}


def _lite_templates(templates: dict[str, str]) -> set[str]:
    """The templates built on a lite base, and everything they include, import or extend."""
    todo = [name for name, text in templates.items() if set(_uses(text)) & set(LITE_BASES)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in templates:
            continue
        seen.add(name)
        todo += _uses(templates[name])
    return seen


def _template_classes(text: str) -> tuple[set[str], set[str]]:
    """Class names written in class="..." (also as quoted words inside Jinja expressions there),
    and the prefixes composed with an expression (`alert-{{ category }}` gives `alert-`)."""
    names, prefixes = set(), set()
    for value in re.findall(r'\bclass="([^"]*)"', text):
        expressions = re.findall(r"\{\{.*?\}\}|\{%.*?%\}", value)
        for expression in expressions:
            for literal in re.findall(r"'([^']*)'", expression):
                names.update(literal.split())
        literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "\0", value)
        for word in literal.split():
            if "\0" not in word:
                names.add(word)
            elif word.index("\0") > 0:
                prefixes.add(word[: word.index("\0")])
    return names, prefixes


def _css_classes(path) -> set[str]:
    css = re.sub(r"url\([^)]*\)|/\*.*?\*/", "", path.read_text(), flags=re.S)
    return set(re.findall(r"\.(-?[A-Za-z_][\w-]*)", css))


def test_every_bootstrap_class_a_template_writes_is_in_its_purged_css():
    bootstrap = _css_classes(BOOTSTRAP / "bootstrap.min.css")
    templates = _templates()
    lite = _lite_templates(templates)
    assert {"counter_base.html", "auth_base.html", "redemption/counter.html", "redemption/_panel.html", "accounts/login.html"} <= lite
    for bundle, names in (("bootstrap.portal.min.css", set(templates)), ("bootstrap.lite.min.css", lite)):
        kept = _css_classes(BOOTSTRAP / bundle)
        missing = {}
        for name in sorted(names):
            written, prefixes = _template_classes(templates[name])
            wanted = {c for c in written if c in bootstrap}
            wanted |= {p + color for p in prefixes for color in COLORS if p + color in bootstrap}
            if wanted - kept:
                missing[name] = sorted(wanted - kept)
        assert not missing, f"{bundle} lacks classes the templates use; run `make css`: {missing}"
    # The purge did cut: the counter's CSS is a fraction of Bootstrap's.
    assert (BOOTSTRAP / "bootstrap.lite.min.css").stat().st_size * 5 < (BOOTSTRAP / "bootstrap.min.css").stat().st_size
    assert "modal" not in _css_classes(BOOTSTRAP / "bootstrap.lite.min.css")


def test_the_lite_pages_use_only_what_forms_lite_js_does_of_htmx():
    templates = _templates()
    handled = {"hx-post", "hx-target", "hx-swap", "hx-disabled-elt", "hx-confirm"}
    for name in _lite_templates(templates):
        text = templates[name]
        assert set(re.findall(r"\b(hx-[a-z-]+)=", text)) <= handled, name
        assert set(re.findall(r'\bhx-swap="([^"]*)"', text)) <= {"outerHTML"}, name
