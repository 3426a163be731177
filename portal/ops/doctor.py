"""`flask doctor`: is this configuration fit for production? Each check says what is wrong and
what to do; the command exits 1 when any fails."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

import click
from flask import Flask, current_app


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _env_set(name: str) -> Check:
    if os.environ.get(name):
        return Check(name, True, "set in the environment")
    return Check(name, False, "not set: a key generated into the instance folder is used",
                 f"set {name} in the environment (the same value on every machine)")


def check_public_base_url(config) -> Check:
    url = config.get("PUBLIC_BASE_URL") or ""
    if urlparse(url).scheme == "https" and urlparse(url).netloc:
        return Check("PUBLIC_BASE_URL", True, url)
    return Check("PUBLIC_BASE_URL", False, f"{url or 'not set'}: Douyin sends callbacks only to https addresses",
                 "set PUBLIC_BASE_URL to the portal's public https address")


def check_database(config) -> Check:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from portal.extensions import db

    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return Check("database", False, f"{url.get_backend_name()}: the embedded default is for one machine",
                     "set DATABASE_URL=postgresql+psycopg://user@host/portal and run flask db upgrade")
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        return Check("database", False, f"PostgreSQL does not answer: {type(exc).__name__}", "check DATABASE_URL and the server")
    finally:
        db.session.rollback()
    return Check("database", True, f"PostgreSQL at {url.host or 'local socket'}")


def check_redis(config) -> Check:
    url = config.get("REDIS_URL")
    if not url:
        return Check("REDIS_URL", False, "not set: jobs run in a thread of the web process",
                     "set REDIS_URL and run `flask worker` processes")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return Check("REDIS_URL", False, f"Redis does not answer: {exc}", "check REDIS_URL and the server")
    return Check("REDIS_URL", True, "Redis answers")


def check_douyin(config) -> list[Check]:
    """DOUYIN_API_BASE answers, and each merchant's stored AppSecret still gets a client token."""
    import requests
    from sqlalchemy import select

    from portal.douyin.errors import DouyinError
    from portal.extensions import db
    from portal.onboarding import connection
    from portal.onboarding.models import DouyinApp

    base = config["DOUYIN_API_BASE"]
    try:
        requests.get(base, timeout=5)
    except requests.RequestException as exc:
        return [Check("Douyin", False, f"{base} does not answer: {type(exc).__name__}", "check DOUYIN_API_BASE and the network")]
    checks = [Check("Douyin", True, f"{base} answers")]
    if urlparse(base).scheme != "https":
        checks.append(Check("DOUYIN_API_BASE", False, f"{base} is not https (the sandbox?)", "set DOUYIN_API_BASE to Douyin's open platform"))
    apps = db.session.scalars(select(DouyinApp).where(DouyinApp.app_secret_enc.is_not(None), DouyinApp.app_id.is_not(None))).all()
    for app in apps:
        name = f"Douyin credentials of organization {app.organization_id} ({app.app_id})"
        try:
            # The cached token when there is one: a new fetch would start the old one's grace period.
            connection.make_client(connection.credentials(app), max_retries=0)._access_token()
        except (DouyinError, connection.NotConnected) as exc:
            checks.append(Check(name, False, str(exc), "ask the merchant to enter the AppSecret again (wizard step 2)"))
        else:
            checks.append(Check(name, True, "a client token was obtained"))
    return checks


def run_checks(app: Flask) -> list[Check]:
    config = app.config
    checks = [_env_set("SECRET_KEY"), _env_set("SECRETS_FERNET_KEY"), check_public_base_url(config), check_database(config), check_redis(config)]
    checks.extend(check_douyin(config))
    return checks


def init_app(app: Flask) -> None:
    @app.cli.command("doctor")
    def doctor_command():
        """Check the configuration for production and say what to fix."""
        checks = run_checks(current_app._get_current_object())
        for check in checks:
            mark = click.style("ok  ", fg="green") if check.ok else click.style("FIX ", fg="red")
            click.echo(f"{mark} {check.name}: {check.detail}")
            if not check.ok and check.fix:
                click.echo(f"     -> {check.fix}")
        failed = sum(not check.ok for check in checks)
        click.echo(f"{len(checks) - failed} ok, {failed} to fix")
        if failed:
            raise SystemExit(1)
