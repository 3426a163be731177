"""What the counter (核销台) downloads on a phone: the bytes of a first visit and of the next one.

    .venv/bin/python -m bench.page_weight

Signs the demo clerk in (the demo data in a throw-away SQLite database) and opens /counter/ the
way a browser does, through the app: the page, its stylesheets and scripts, the web-app manifest
and the icons (the apple-touch-icon and the manifest's), static files asked for with
`Accept-Encoding: gzip` and counted as sent. The page and the manifest are counted gzipped at
level 6, as the reverse proxy in front of the portal sends them (the app itself compresses only
static files). Not counted: the jsQR decoder, which counter.js loads only when a camera scan starts
on a browser without BarcodeDetector. The next visit downloads what is not cached: the page itself
(static files are immutable under fingerprinted names; the manifest is kept for an hour).
tests/test_assets.py asserts the first visit is under 25 KB with the same function.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from dataclasses import dataclass

from bs4 import BeautifulSoup

GZIP = {"Accept-Encoding": "gzip"}
BUDGET = 25_000
# What a reverse proxy compresses of the app's own answers (nginx's gzip_types and the like).
PROXY_COMPRESSES = ("text/html", "application/manifest+json", "application/json")


@dataclass(frozen=True)
class Resource:
    url: str
    kind: str
    raw: int  # bytes of the content itself
    sent: int  # bytes on the wire (gzipped where the answer is)
    cache_control: str

    @property
    def cached(self) -> bool:
        """Kept by the browser for the next visit (no request at all)."""
        match = re.search(r"max-age=(\d+)", self.cache_control)
        return bool(match and int(match[1]) > 0)


def _resource(client, url: str, kind: str) -> tuple[Resource, bytes]:
    response = client.get(url, headers=GZIP)
    if response.status_code != 200:
        raise AssertionError(f"{url} answered {response.status_code}")
    body = response.get_data()
    content = gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body
    sent = len(body)
    if not response.headers.get("Content-Encoding") and response.mimetype in PROXY_COMPRESSES:
        sent = min(sent, len(gzip.compress(body, compresslevel=6, mtime=0)))
    return Resource(url, kind, len(content), sent, response.headers.get("Cache-Control", "")), content


def counter_visit(client, path: str = "/counter/") -> list[Resource]:
    """Every resource a browser downloads on a first visit to `path` (`client` signed in)."""
    page, html = _resource(client, path, "page")
    found = [page]
    soup = BeautifulSoup(html, "html.parser")
    wanted = {"stylesheet", "manifest", "apple-touch-icon", "icon"}
    links = [(link["href"], rel) for link in soup.select("link[href]") for rel in link.get("rel", []) if rel in wanted]
    links += [(script["src"], "script") for script in soup.select("script[src]")]
    for url, kind in links:
        resource, content = _resource(client, url, kind)
        found.append(resource)
        if kind == "manifest":
            found += [_resource(client, icon["src"], "icon")[0] for icon in json.loads(content)["icons"]]
    return found


def totals(resources: list[Resource]) -> tuple[int, int]:
    """(first visit, next visit) in bytes sent."""
    return sum(r.sent for r in resources), sum(r.sent for r in resources if not r.cached)


def _signed_in_clerk(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'name="csrf-token" content="([^"]+)"', page)
    answer = client.post("/login", data={"email": "clerk@demo.test", "password": "demo-pass-1234", "csrf_token": token[1]})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"the demo clerk could not sign in ({answer.status_code})")
    return client


def main() -> None:
    from portal import create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/weight.db",
                          "LOGIN_THROTTLE_STORAGE": "memory://", "RQ_INPROCESS_WORKER": False, "REDIS_URL": None})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        if result.exit_code:
            raise SystemExit(result.output)
        resources = counter_visit(_signed_in_clerk(app))
    print(f"{'resource':58} {'kind':16} {'bytes':>8} {'sent':>8}  next visit")
    for r in resources:
        print(f"{r.url[:58]:58} {r.kind:16} {r.raw:8} {r.sent:8}  {'cached' if r.cached else 'downloaded'}")
    first, again = totals(resources)
    print(f"\nfirst visit: {first} bytes sent ({sum(r.raw for r in resources)} uncompressed), budget {BUDGET}")
    print(f"next visit:  {again} bytes sent, {sum(1 for r in resources if not r.cached)} request(s)")


if __name__ == "__main__":
    main()
