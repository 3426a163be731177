"""How every domain reaches Douyin for one organization: its app row and a configured client."""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select

from portal import clock, vault
from portal.outbox import CannotAttempt
from portal.douyin import DouyinClient, DouyinCredentials, RedisTokenCache
from portal.extensions import db, queue
from portal.i18n import gettext
from portal.onboarding.models import DouyinApp


def N_(message: str) -> str:
    """Marks a message for the catalog (Babel extracts `N_`) without translating it."""
    return message


# What NotConnected says, in Chinese (the source language). A sync run stores it as its error in
# this form, so it can still be shown in the reader's language (`error_text`).
NO_APP = N_("尚未开通抖音推广")
NO_MINI_APP = N_("尚未授权抖音小程序")
NO_APP_SECRET = N_("尚未配置 AppSecret")
REASONS = (NO_APP, NO_MINI_APP, NO_APP_SECRET)


class NotConnected(CannotAttempt):
    """The organization has not configured what this call needs; the message says what.

    `reason` is one of REASONS, in Chinese (the form to store); `str(error)` is in the current language.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return gettext(self.reason)


def error_text(stored: str) -> str:
    """A stored error in the current language when it is a NotConnected reason; any other text
    (Douyin's own messages) as stored."""
    return gettext(stored) if stored in REASONS else stored


def find_app(organization_id: int) -> DouyinApp | None:
    return db.session.scalar(select(DouyinApp).where(DouyinApp.organization_id == organization_id))


def get_or_create_app(organization_id: int) -> DouyinApp:
    app = find_app(organization_id)
    if app is None:
        app = DouyinApp(organization_id=organization_id, callback_token=secrets.token_urlsafe(24), created_at=clock.now())
        db.session.add(app)
        db.session.flush()
    return app


def find_app_by_callback_token(token: str) -> DouyinApp | None:
    return db.session.scalar(select(DouyinApp).where(DouyinApp.callback_token == token))


def credentials(app: DouyinApp, *, app_secret: str | None = None) -> DouyinCredentials:
    if not app.app_id:
        raise NotConnected(NO_MINI_APP)
    secret = app_secret or vault.decrypt(app.app_secret_enc)
    if not secret:
        raise NotConnected(NO_APP_SECRET)
    return DouyinCredentials(
        app_id=app.app_id,
        app_secret=secret,
        account_id=app.laike_account_id,
        private_key_pem=vault.decrypt(app.private_key_enc),
        key_version=app.key_version or "1",
        platform_public_key_pem=app.platform_public_key_pem,
    )


def token_cache() -> RedisTokenCache:
    """The access-token cache every process shares (client tokens and the component token)."""
    return RedisTokenCache(queue.connection(), prefix=f"{current_app.config.get('RQ_QUEUE_PREFIX', '')}douyin:client_token:")


def make_client(creds: DouyinCredentials, **options) -> DouyinClient:
    """A client on the configured Douyin base URL, sharing the token cache across processes."""
    return DouyinClient(creds, base_url=current_app.config["DOUYIN_API_BASE"], token_cache=token_cache(), **options)


def credentials_for(organization_id: int) -> DouyinCredentials:
    """An organization's Douyin credentials; raises NotConnected when any is missing."""
    app = find_app(organization_id)
    if app is None:
        raise NotConnected(NO_APP)
    return credentials(app)


def client_for(organization_id: int, **options) -> DouyinClient:
    """The Douyin client of an organization; raises NotConnected when credentials are missing.
    Third-party platform calls (package_version) take the app's authorizer token, refreshed as needed."""
    app = find_app(organization_id)
    if app is None:
        raise NotConnected(NO_APP)
    return client_of(app, **options)


def client_of(app: DouyinApp, **options) -> DouyinClient:
    """`client_for`, given the organization's app already read."""
    from portal.onboarding import authorization

    return make_client(credentials(app), authorizer_token=lambda stale: authorization.authorizer_token(app, stale=stale), **options)


def delivery_client(organization_id: int) -> DouyinClient:
    """`client_for`, for an outbox delivery. Missing credentials raise NotConnected, an
    outbox.CannotAttempt: the message waits with the reason (in the source language, as stored;
    see `error_text`) until the merchant connects, and the job does not fail."""
    return client_for(organization_id)


def public_client(**options) -> DouyinClient:
    """A client for calls that need no merchant credentials (the mini-program's basic information
    with a token given, before the AppSecret is there)."""
    return make_client(DouyinCredentials(app_id="", app_secret=""), **options)


def callback_urls(app: DouyinApp) -> dict[str, str]:
    """The two URLs to paste into Douyin's console for this organization."""
    from portal.security import external_url

    return {"trade": external_url("douyin_webhooks.trade", token=app.callback_token),
            "webhook": external_url("douyin_webhooks.goodlife", token=app.callback_token)}


def callback_keys(token: str):
    """The key provider for inbound callbacks (see portal.douyin.webhooks.configure)."""
    from portal.douyin.webhooks import CallbackKeys

    app = find_app_by_callback_token(token)
    if app is None:
        return None
    return CallbackKeys(app.organization_id, app.platform_public_key_pem, vault.decrypt(app.app_secret_enc))
