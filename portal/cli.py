"""Flask commands: seed-demo, worker, dev (portal + sandbox), sandbox."""

from __future__ import annotations

import os
import subprocess
import sys

import click
from flask import Flask, current_app
from sqlalchemy import select

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
        """Run the Douyin sandbox alone."""
        os.execv(sys.executable, [sys.executable, "-m", "sandbox", *(["--port", str(port)] if port else [])])

    @app.cli.command("dev")
    def dev_command():
        """Run the portal and the Douyin sandbox side by side (the embedded default)."""
        from werkzeug.serving import run_simple

        config = current_app.config
        sandbox = None
        try:
            import sandbox as _sandbox_pkg  # noqa: F401

            env = dict(os.environ, SANDBOX_PORT=str(config["SANDBOX_PORT"]))
            # Set by the flask CLI for this process; inherited, it makes the sandbox refuse app.run().
            env.pop("FLASK_RUN_FROM_CLI", None)
            sandbox = subprocess.Popen([sys.executable, "-m", "sandbox"], env=env)
            click.echo(f"Douyin sandbox: http://127.0.0.1:{config['SANDBOX_PORT']}/console/")
        except ImportError:
            click.echo("Douyin sandbox not installed; Douyin calls will fail until DOUYIN_API_BASE answers.")
        click.echo(f"Portal: http://127.0.0.1:{config['PORTAL_PORT']}/  (owner@demo.test / {DEMO_PASSWORD})")
        try:
            run_simple("127.0.0.1", config["PORTAL_PORT"], current_app._get_current_object(), threaded=True, use_reloader=False)
        finally:
            if sandbox is not None:
                sandbox.terminate()
                sandbox.wait(timeout=10)
