"""The mini-program's authorization of the portal's third-party platform (服务商).

The portal's operator runs one third-party platform on Douyin (COMPONENT_APPID / _APPSECRET).
Douyin pushes it a component_ticket every few minutes (kept in `component_tickets`); with the
ticket the platform fetches its component_access_token (cached like client tokens: Redis in
production). A merchant authorizes the platform for its mini-program on Douyin's page (wizard
step 1, 去授权); the authorization code is exchanged for the authorizer access token and refresh
token, stored encrypted on the DouyinApp. The package_version APIs (step 5) carry the authorizer
token; it is refreshed 5 minutes before it expires, when Douyin refuses it, and by a daily job
before the refresh token itself runs out. Douyin's UNAUTHORIZED event ends the authorization.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal import audit, clock, notifications, vault
from portal.douyin import DouyinError
from portal.douyin import replies
from portal.douyin.component import ComponentClient, ComponentCredentials
from portal.douyin.shapes import DouyinContractError, read
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.onboarding.connection import N_, NotConnected, token_cache
from portal.onboarding.models import ComponentTicket, DouyinApp

log = logging.getLogger(__name__)

NOT_AUTHORIZED = N_("小程序尚未授权本平台")
# The authorizer token is replaced this long before it expires.
REFRESH_MARGIN = timedelta(minutes=5)
# The daily job renews authorizations whose refresh token would run out within this window.
RENEW_WITHIN = timedelta(days=7)
# Douyin's documented lifetime of a refresh token, when a reply leaves it out (sample: 2592000 s).
REFRESH_LIFETIME = timedelta(days=30)


def component_credentials() -> ComponentCredentials:
    config = current_app.config
    return ComponentCredentials(
        component_appid=config["COMPONENT_APPID"], component_appsecret=config["COMPONENT_APPSECRET"],
        push_token=config["COMPONENT_PUSH_TOKEN"], encoding_aes_key=config["COMPONENT_ENCODING_AES_KEY"],
    )


def store_ticket(ticket: str, *, now: datetime) -> None:
    """Keep the newest pushed component_ticket (one row per platform). Idempotent."""
    appid = current_app.config["COMPONENT_APPID"]
    row = db.session.get(ComponentTicket, appid)
    if row is None:
        row = ComponentTicket(component_appid=appid, ticket_enc=vault.encrypt(ticket), received_at=now)
        db.session.add(row)
    else:
        row.ticket_enc, row.received_at = vault.encrypt(ticket), now
    db.session.flush()


def latest_ticket() -> str | None:
    row = db.session.get(ComponentTicket, current_app.config["COMPONENT_APPID"])
    return vault.decrypt(row.ticket_enc) if row is not None else None


def component_client(**options) -> ComponentClient:
    """The platform's client on DOUYIN_API_BASE; its token shares the client-token cache."""
    return ComponentClient(component_credentials(), ticket=latest_ticket, base_url=current_app.config["DOUYIN_API_BASE"],
                           token_cache=token_cache(), **options)


def is_authorized(app: DouyinApp) -> bool:
    return bool(app.authorizer_access_token_enc and app.authorized_at and app.unauthorized_at is None)


def save_tokens(app: DouyinApp, data, *, now: datetime) -> None:
    """Store an authorizer token reply (get_auth_token) on the app, encrypted."""
    app.authorizer_access_token_enc = vault.encrypt(str(data["authorizer_access_token"]))
    app.authorizer_expires_at = now + timedelta(seconds=int(data["expires_in"]))
    if data.get("authorizer_refresh_token"):
        app.authorizer_refresh_token_enc = vault.encrypt(str(data["authorizer_refresh_token"]))
        lifetime = data.get("refresh_expires_in")
        app.authorizer_refresh_expires_at = now + (timedelta(seconds=int(lifetime)) if lifetime else REFRESH_LIFETIME)


def clear_tokens(app: DouyinApp) -> None:
    app.authorizer_access_token_enc = app.authorizer_refresh_token_enc = None
    app.authorizer_expires_at = app.authorizer_refresh_expires_at = None


def refresh(app: DouyinApp, *, now: datetime, seen: str | None = None, **options) -> None:
    """Renew the app's authorizer token with its refresh token (the caller commits). Raises
    NotConnected when the app holds no authorization, DouyinError when Douyin refuses.

    `seen` is the token the caller found expiring or refused. The app's row is read again under
    its lock first: when another process replaced that token meanwhile, its fresh one is kept and
    Douyin is not asked (a second refresh would spend the refresh token the first one rotated)."""
    db.session.flush()
    db.session.refresh(app, with_for_update=True)  # PostgreSQL locks the row: one refresh per app at a time
    if seen is not None:
        current = vault.decrypt(app.authorizer_access_token_enc) if is_authorized(app) else None
        if current and current != seen and app.authorizer_expires_at and app.authorizer_expires_at - now > REFRESH_MARGIN:
            return
    refresh_token = vault.decrypt(app.authorizer_refresh_token_enc)
    if not refresh_token or not is_authorized(app):
        raise NotConnected(NOT_AUTHORIZED)
    data = component_client(**options).auth_token(refresh_token=refresh_token)
    save_tokens(app, data, now=now)
    audit.record("onboarding.authorization.refreshed", obj=app, app_id=app.app_id)


def authorizer_token(app: DouyinApp, *, stale: str | None = None) -> str:
    """A valid authorizer access token of the app, refreshed when it is within 5 minutes of
    expiry or is `stale` (refused by Douyin). Raises NotConnected without an authorization."""
    token = vault.decrypt(app.authorizer_access_token_enc) if is_authorized(app) else None
    if token is None:
        raise NotConnected(NOT_AUTHORIZED)
    now = clock.now()
    if token != stale and app.authorizer_expires_at and app.authorizer_expires_at - now > REFRESH_MARGIN:
        return token
    refresh(app, now=now, seen=token)
    return vault.decrypt(app.authorizer_access_token_enc)


def renew_expiring(*, now: datetime) -> list[int]:
    """Ids of authorized apps whose refresh token runs out within RENEW_WITHIN (the daily job
    refreshes each, which also renews its refresh token)."""
    return list(db.session.scalars(select(DouyinApp.id).where(
        DouyinApp.authorizer_refresh_token_enc.is_not(None), DouyinApp.unauthorized_at.is_(None),
        DouyinApp.authorizer_refresh_expires_at < now + RENEW_WITHIN,
    ).order_by(DouyinApp.id)))


# --- Douyin's pushes ---------------------------------------------------------------------------


def _apps_of(appid: str) -> list[DouyinApp]:
    return list(db.session.scalars(select(DouyinApp).where(DouyinApp.app_id == appid).order_by(DouyinApp.id)))


def handle_event(event: dict, *, now: datetime) -> str:
    """Act on one decrypted push and say what was done: a ticket is stored; AUTHORIZED (when no
    app holds that authorization yet, e.g. authorized again on Douyin's side) and
    UPDATE_AUTHORIZED exchange the code for new tokens; UNAUTHORIZED ends the authorization and
    tells the merchant. Replays change nothing. The caller commits."""
    kind = str(event.get("Event") or "")
    if kind == "PUSH" and event.get("Ticket"):
        read(replies.COMPONENT_TICKET_EVENT, event)
        store_ticket(str(event["Ticket"]), now=now)
        return "ticket"
    try:
        message = read(replies.COMPONENT_AUTH_EVENT, event)
    except DouyinContractError:
        log.warning("component event %s not understood", kind)
        return "ignored"
    if message.get("TpAppId") not in (None, current_app.config["COMPONENT_APPID"]):
        return "ignored"
    apps = _apps_of(message["AppId"])
    if kind == "UNAUTHORIZED":
        for app in apps:
            if app.unauthorized_at is None and app.authorized_at is not None:
                clear_tokens(app)
                app.unauthorized_at = now
                audit.record("onboarding.authorization.revoked", obj=app, app_id=app.app_id)
                notifications.notify(
                    app.organization_id, "system", _l("小程序已取消授权"),
                    _l("小程序 %(name)s 已在抖音取消对本平台的授权，提审等功能已停用；请在「接入准备」重新授权",
                       name=app.app_name or app.app_id),
                    link="/onboarding/prepare")
        return "unauthorized"
    if kind in ("AUTHORIZED", "UPDATE_AUTHORIZED") and message.get("AuthorizationCode"):
        pending = [a for a in apps if kind == "UPDATE_AUTHORIZED" or not is_authorized(a)]
        if not pending:
            return "ignored"
        app = pending[0]  # a code works once: the first app of that AppID takes it
        try:
            data = component_client(max_retries=1).auth_token(authorization_code=message["AuthorizationCode"])
        except DouyinError as error:
            log.warning("component event %s: code exchange failed: %s", kind, error)
            return "failed"
        if data.get("authorizer_appid") not in (None, app.app_id):
            return "ignored"
        save_tokens(app, data, now=now)
        app.authorized_at, app.unauthorized_at = now, None
        audit.record("onboarding.authorization.granted", obj=app, app_id=app.app_id, event=kind)
        return "authorized"
    return "ignored"
