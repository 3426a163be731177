"""Flask commands: seed-demo, worker, dev (portal + sandbox), sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask import Flask, current_app
from sqlalchemy import select

from portal.config import PROJECT_ROOT
from portal.extensions import db, queue

DEMO_PASSWORD = "demo-pass-1234"


def seed_demo() -> dict:
    """Create the demo organizations and users; running it again changes nothing."""
    from portal.accounts import service
    from portal.accounts.models import Edition, Organization, Role, User

    def user(email, name, **kwargs):
        found = db.session.scalar(select(User).where(User.email == email))
        return found or service.create_user(email, DEMO_PASSWORD, name=name, **kwargs)

    def org(name, **kwargs):
        return db.session.scalar(select(Organization).where(Organization.name == name)) or service.create_organization(name, **kwargs)

    def member(u, o, role, store=None):
        if not any(m.organization_id == o.id for m in u.memberships):
            service.add_membership(u, o, role, store)

    demo = org("示例餐饮", edition=Edition.ADVANCED, multi_store=True)
    if not demo.stores:
        service.create_store(demo, "示例餐饮·国贸店", address="北京市朝阳区建国门外大街1号", phone="010-65050001", opening_hours="10:00-22:00")
        service.create_store(demo, "示例餐饮·望京店", address="北京市朝阳区望京街9号", phone="010-64700002", opening_hours="10:00-22:00")
        db.session.refresh(demo)
    first = demo.stores[0]
    member(user("owner@demo.test", "王店主"), demo, Role.OWNER)
    member(user("manager@demo.test", "李店长"), demo, Role.STORE_MANAGER, first)
    member(user("clerk@demo.test", "张三"), demo, Role.CLERK, first)
    user("admin@demo.test", "平台运营", is_operator=True)
    other = org("另一家美发", edition=Edition.ADVANCED)
    if not other.stores:
        service.create_store(other, "另一家美发·总店", address="上海市徐汇区漕溪北路88号", opening_hours="09:00-21:00")
    member(user("other@demo.test", "赵老板"), other, Role.OWNER)
    return {"organization_id": demo.id, "other_organization_id": other.id}


def gunicorn_command(port: int) -> list[str]:
    """The production server with the production settings, in one process: the in-process job
    queue (no REDIS_URL) lives in that process, so it must be the only one. Threads serve the
    pages while a job or a Douyin call runs."""
    return [
        sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
        "--workers", "1", "--threads", "8", "--bind", f"127.0.0.1:{port}",
    ]


def dev_server_env() -> dict:
    env = dict(os.environ)
    env.pop("FLASK_RUN_FROM_CLI", None)
    return env


COMPONENT_SETTINGS = ("COMPONENT_APPID", "COMPONENT_APPSECRET", "COMPONENT_PUSH_TOKEN", "COMPONENT_ENCODING_AES_KEY")


def sandbox_component_env(config) -> dict:
    """The portal's third-party platform, for the sandbox it starts: the sandbox registers it and
    pushes its component_ticket and authorization events to this portal."""
    env = {name: str(config[name]) for name in COMPONENT_SETTINGS if config.get(name)}
    env["COMPONENT_PUSH_URL"] = f"http://127.0.0.1:{config['PORTAL_PORT']}/douyin/component/events"
    return env


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo merchants and users (idempotent)."""
        ids = seed_demo()
        db.session.commit()
        click.echo(f"demo data ready (organization {ids['organization_id']}); sign in as owner@demo.test / {DEMO_PASSWORD}")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
    def worker_command(burst):
        """Run an RQ worker (with the scheduler) on every queue of REDIS_URL."""
        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: without it the web process runs jobs itself.")
        from rq import Worker

        from portal import jobs, schedule

        jobs.bind_app(current_app._get_current_object())
        schedule.ensure_scheduled(current_app._get_current_object())
        Worker(queue.all(), connection=queue.connection()).work(burst=burst, with_scheduler=True)

    @app.cli.command("sandbox")
    @click.option("--port", type=int, default=None)
    def sandbox_command(port):
        """Run the Douyin sandbox alone (publishing its clock where this portal follows it)."""
        if current_app.config.get("DEMO_CLOCK_FILE"):
            os.environ["DEMO_CLOCK_FILE"] = current_app.config["DEMO_CLOCK_FILE"]
        os.environ.update(sandbox_component_env(current_app.config))
        os.execv(sys.executable, [sys.executable, "-m", "sandbox", *(["--port", str(port)] if port else [])])

    @app.cli.command("dev")
    def dev_command():
        """Run the portal (on gunicorn, as in production) and the Douyin sandbox side by side."""
        config = current_app.config
        sandbox = None
        try:
            import sandbox as _sandbox_pkg  # noqa: F401

            env = dict(os.environ, SANDBOX_PORT=str(config["SANDBOX_PORT"]), **sandbox_component_env(config))
            if config.get("DEMO_CLOCK_FILE"):
                env["DEMO_CLOCK_FILE"] = config["DEMO_CLOCK_FILE"]  # the portal follows the sandbox's clock
            # Set by the flask CLI for this process; inherited, it makes the sandbox refuse app.run().
            env.pop("FLASK_RUN_FROM_CLI", None)
            # On gunicorn too (one process: its state is in memory), so nothing runs on a development server.
            sandbox = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8", "--no-control-socket",
                 "--bind", f"127.0.0.1:{config['SANDBOX_PORT']}", "sandbox:create_app()"],
                env=env, cwd=PROJECT_ROOT,
            )
            click.echo(f"Douyin sandbox: http://127.0.0.1:{config['SANDBOX_PORT']}/console/")
        except ImportError:
            click.echo("Douyin sandbox not installed; Douyin calls will fail until DOUYIN_API_BASE answers.")
        click.echo(f"Portal: http://127.0.0.1:{config['PORTAL_PORT']}/  (owner@demo.test / {DEMO_PASSWORD})")
        # SIGTERM (a supervisor, `kill`) ends both servers as Ctrl-C does, never leaving one behind.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        portal = subprocess.Popen(gunicorn_command(config["PORTAL_PORT"]), env=dev_server_env(), cwd=PROJECT_ROOT)
        try:
            portal.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for server in (portal, sandbox):
                if server is not None and server.poll() is None:
                    server.terminate()
            for server in (portal, sandbox):
                if server is not None:
                    server.wait(timeout=40)
