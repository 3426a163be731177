"""Settings read from the environment, with embedded defaults for a bare laptop."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = Path(os.environ.get("PORTAL_INSTANCE_PATH", PROJECT_ROOT / "instance"))
# A pooled connection is checked before use: after a database restart no request fails on a
# dead connection (the price is one round trip per request).
ENGINE_OPTIONS = {"pool_pre_ping": True}


def _kept_secret(instance: Path, name: str, make) -> str:
    """A secret generated once and kept in the instance folder, so restarts keep sessions and data."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_config(overrides: dict | None = None) -> dict:
    """Build the app's settings: environment first, then embedded defaults, then `overrides`."""
    env = os.environ
    overrides = dict(overrides or {})
    instance = Path(overrides.get("INSTANCE_PATH", INSTANCE_PATH))
    sandbox_port = int(env.get("SANDBOX_PORT", 5055))
    config = {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or f"sqlite:///{instance / 'portal.db'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "DOUYIN_API_BASE": env.get("DOUYIN_API_BASE") or f"http://127.0.0.1:{sandbox_port}",
        "PORTAL_PORT": int(env.get("PORTAL_PORT", 5000)),
        "SANDBOX_PORT": sandbox_port,
        # Public address of the portal, used to tell Douyin where to send callbacks.
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or None,
        # tt.requestOrder's sku `type` and `tagGroupId`: the trade rule the merchant's goods fall
        # under (tag_query). The defaults are the sample values of the public references.
        "MINIAPP_SKU_TYPE": int(env.get("MINIAPP_SKU_TYPE", 301)),
        "MINIAPP_TAG_GROUP_ID": env.get("MINIAPP_TAG_GROUP_ID", "tag_group_7272625659888058380"),
        "MAIL_SMTP_HOST": env.get("MAIL_SMTP_HOST") or None,
        "MAIL_SMTP_PORT": int(env.get("MAIL_SMTP_PORT", 25)),
        "MAIL_FROM": env.get("MAIL_FROM", "noreply@portal.local"),
        "RQ_INPROCESS_WORKER": env.get("RQ_INPROCESS_WORKER", "1") != "0",
        "RQ_QUEUE_PREFIX": env.get("RQ_QUEUE_PREFIX", ""),
        "BABEL_DEFAULT_LOCALE": "zh_Hans",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "SQLALCHEMY_ENGINE_OPTIONS": dict(ENGINE_OPTIONS),
        "WTF_CSRF_TIME_LIMIT": None,
        # Its own cookie name: browser cookies ignore ports, so the sandbox console on the same
        # host would otherwise overwrite the portal session (and sign the merchant out).
        "SESSION_COOKIE_NAME": "portal_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        # How often the home page (概览) refreshes its figures and to-do list while visible.
        "HOME_REFRESH_SECONDS": int(env.get("HOME_REFRESH_SECONDS", 30)),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
        # Wrong passwords one client address may send in the window, over all e-mails (portal.accounts.throttle).
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(env.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 50)),
        # Where the sign-in counters live; unset: REDIS_URL, or in memory on the embedded default.
        "LOGIN_THROTTLE_STORAGE": env.get("LOGIN_THROTTLE_STORAGE") or None,
        # Addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed (portal.security).
        "TRUSTED_PROXIES": [n for n in env.get("TRUSTED_PROXIES", "").split(",") if n.strip()],
        # Secure session cookies; unset: on everywhere but the embedded default (SQLite, plain http).
        "COOKIE_SECURE": {"1": True, "0": False}.get(env.get("COOKIE_SECURE", "")),
        # json | text; unset: text on SQLite (the embedded default), JSON otherwise (portal.ops.logs).
        "LOG_FORMAT": env.get("LOG_FORMAT") or None,
        # A stored Douyin callback still unprocessed after this long lost its job: the sweep queues it again.
        "WEBHOOK_SWEEP_AFTER_SECONDS": int(env.get("WEBHOOK_SWEEP_AFTER_SECONDS", 120)),
        # Bearer token a Prometheus scraper shows at /metrics; signed-in operators need none.
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # The sandbox's clock file the demo follows (portal.democlock); "off": real time. Unset: see below.
        "DEMO_CLOCK_FILE": env.get("DEMO_CLOCK_FILE") or None,
        # The operator's third-party platform (服务商) on Douyin: its AppID and AppSecret, and the push
        # token and EncodingAESKey of its event URL (/douyin/component/events). Unset: an embedded
        # platform kept in the instance folder, which `flask dev` hands to the sandbox it starts.
        "COMPONENT_APPID": env.get("COMPONENT_APPID") or None,
        "COMPONENT_APPSECRET": env.get("COMPONENT_APPSECRET") or None,
        "COMPONENT_PUSH_TOKEN": env.get("COMPONENT_PUSH_TOKEN") or None,
        "COMPONENT_ENCODING_AES_KEY": env.get("COMPONENT_ENCODING_AES_KEY") or None,
    }
    config.update(overrides)
    if config["DEMO_CLOCK_FILE"] is None:
        # Followed only while DOUYIN_API_BASE is the sandbox on this machine (portal.democlock).
        config["DEMO_CLOCK_FILE"] = str(instance / "demo_clock.json")
    elif config["DEMO_CLOCK_FILE"] == "off":
        config["DEMO_CLOCK_FILE"] = ""
    if not config.get("COMPONENT_APPID"):
        config["COMPONENT_APPID"] = _kept_secret(instance, "component_appid", lambda: "tt" + secrets.token_hex(8))
    for name, make in (
        ("COMPONENT_APPSECRET", lambda: secrets.token_hex(20)),
        ("COMPONENT_PUSH_TOKEN", lambda: secrets.token_hex(16)),
        ("COMPONENT_ENCODING_AES_KEY", lambda: base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")),
    ):
        if not config.get(name):
            config[name] = _kept_secret(instance, name.lower(), make)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = env.get("SECRET_KEY") or _kept_secret(
            instance, "secret_key", lambda: secrets.token_hex(32)
        )
    if not config.get("SECRETS_FERNET_KEY"):
        config["SECRETS_FERNET_KEY"] = env.get("SECRETS_FERNET_KEY") or _kept_secret(
            instance, "fernet_key", lambda: Fernet.generate_key().decode()
        )
    return config
