"""Response headers, session cookies, the client's address behind a proxy, and external links.

- Every response gets a strict Content-Security-Policy (scripts only from our own static files,
  no inline script; `frame-ancestors 'none'`, so no page, the counter's 确认核销 included, can be
  framed and clickjacked), `X-Frame-Options: DENY`, `nosniff` and a same-origin referrer.
- Outside the embedded default (SQLite) session cookies are `Secure` (`HttpOnly` and
  `SameSite=Lax` everywhere) and responses carry HSTS.
- `request.remote_addr` is the client's address: `X-Forwarded-For` is believed only when the
  connection comes from an address in `TRUSTED_PROXIES`, never from anyone else.
- Links that leave the site (e-mails, callback URLs) are built from `PUBLIC_BASE_URL`, never from
  the request's Host header.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import current_app, url_for

log = logging.getLogger("portal.security")

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    # Bootstrap components and a few templates set style attributes; styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    # Product pictures are the merchant's own http(s) addresses; QR codes may be data: URIs.
    "img-src 'self' data: https: http:",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))


def is_embedded(config) -> bool:
    """The embedded default: SQLite in the instance folder on a laptop, plain http."""
    return str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite")


def public_base_url() -> str:
    """The portal's public address without a trailing slash: `PUBLIC_BASE_URL`; in tests the
    configured SERVER_NAME; on the embedded default the local address; otherwise "" (links are
    then relative, and start-up logged that the setting is missing)."""
    config = current_app.config
    if config.get("PUBLIC_BASE_URL"):
        return str(config["PUBLIC_BASE_URL"]).rstrip("/")
    if config.get("SERVER_NAME"):
        return f"{config.get('PREFERRED_URL_SCHEME', 'http')}://{config['SERVER_NAME']}"
    if is_embedded(config):
        return f"http://127.0.0.1:{config.get('PORTAL_PORT', 5000)}"
    return ""


def external_url(endpoint: str, **values) -> str:
    """An absolute link for use outside the site (an e-mail, Douyin's console)."""
    return public_base_url() + url_for(endpoint, _external=False, **values)


class TrustedProxies:
    """WSGI middleware: take the client address (and scheme) from X-Forwarded-For (and
    X-Forwarded-Proto) only when the peer is one of `networks`; the address used is the last one
    in the chain that is not itself a trusted proxy."""

    def __init__(self, wsgi_app, networks):
        self.wsgi_app = wsgi_app
        self.networks = [ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        if self.networks and self._trusted(peer):
            chain = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
            client = next((a for a in reversed(chain) if not self._trusted(a)), chain[0] if chain else peer)
            try:
                environ["REMOTE_ADDR"] = str(ipaddress.ip_address(client))
            except ValueError:
                pass
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.wsgi_app(environ, start_response)


def init_app(app) -> None:
    embedded = is_embedded(app.config)
    secure = app.config.get("COOKIE_SECURE")
    secure = (not embedded) if secure is None else bool(secure)
    app.config.update(SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_SECURE=secure, SESSION_COOKIE_HTTPONLY=True,
                      REMEMBER_COOKIE_HTTPONLY=True)
    if not embedded and not app.config.get("PUBLIC_BASE_URL") and not app.testing:
        log.error("PUBLIC_BASE_URL is not set: links in e-mails and callback URLs cannot be built; set it to the portal's public https address")
    proxies = app.config.get("TRUSTED_PROXIES") or ()
    if proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
