"""The 商品库 page with 10 000 products against plain Flask + SQLAlchemy 50-row tables, side by side.

    .venv/bin/python -m bench.catalog_page [--products 10000] [--requests 40]

Both apps run in this process on SQLite files, through Flask's test client, the pages taking
turns request by request; the median CPU time (time.process_time) and wall time per request are
printed for: the portal list (owner, first page), the portal list filtered (review status +
store + search), a deep page (keyset `before`), the htmx rows partial, the store manager's view,
a search that matches nothing, and two baselines of 50 product rows: a bare Flask app with no
layout, and a plain page inside the portal (signed in, the portal's layout). Figures are printed,
not asserted; the target is the portal list within 1.5x the plain page's CPU per request.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import pages_side_by_side

PLAIN_ROWS = """<table class="table">{% for p in rows %}<tr><td>{{ p.id }}</td><td>{{ p.name }}</td><td>{{ p.price_fen }}</td>
<td>{{ p.review_status }}</td><td>{{ p.online if p.online is defined else p.douyin_online }}</td></tr>{% endfor %}</table>"""
PLAIN_TEMPLATE = "<!doctype html><html><head><title>plain</title></head><body>" + PLAIN_ROWS + "</body></html>"


def _plain_app(workdir: Path, n: int):
    from flask import Flask, render_template
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import Boolean, Integer, String, insert, select
    from sqlalchemy.orm import DeclarativeBase, mapped_column

    class Base(DeclarativeBase):
        pass

    plain_db = SQLAlchemy(model_class=Base)

    class Item(plain_db.Model):
        __tablename__ = "items"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(100), nullable=False)
        price_fen = mapped_column(Integer, nullable=False)
        review_status = mapped_column(String(16), nullable=False)
        online = mapped_column(Boolean, nullable=False)

    app = Flask("plain")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{workdir / 'plain.db'}"
    plain_db.init_app(app)

    template = app.jinja_env.from_string(PLAIN_TEMPLATE)  # compiled once, as a template file would be

    @app.get("/")
    def index():
        rows = plain_db.session.scalars(select(Item).order_by(Item.id.desc()).limit(50)).all()
        return render_template(template, rows=rows)

    with app.app_context():
        plain_db.create_all()
        plain_db.session.execute(insert(Item), [{"name": f"套餐{i}", "price_fen": 9900, "review_status": "approved", "online": True} for i in range(n)])
        plain_db.session.commit()
    return app


def _portal_app(workdir: Path, n: int):
    from cryptography.fernet import Fernet
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from portal import clock, create_app
    from portal.accounts import service as accounts
    from portal.accounts.models import Role
    from portal.catalog.models import Product, product_stores
    from portal.extensions import db

    from flask import render_template
    from flask_login import login_required

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'portal.db'}",
        "INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": "bench",
        "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": None,
        "RQ_INPROCESS_WORKER": False,
        "WTF_CSRF_ENABLED": False,
    })

    plain_template = app.jinja_env.from_string('{% extends "base.html" %}{% block content %}' + PLAIN_ROWS + "{% endblock %}")

    @app.get("/bench/plain")
    @login_required
    def plain_in_portal():
        rows = db.session.scalars(select(Product).order_by(Product.id.desc()).limit(50)).all()
        return render_template(plain_template, rows=rows)

    with app.app_context():
        upgrade()
        org = accounts.create_organization("压测商户", multi_store=True)
        stores = [accounts.create_store(org, f"门店{i}") for i in range(4)]
        owner = accounts.create_user("owner@bench.test", "bench-password-1", name="店主")
        accounts.add_membership(owner, org, Role.OWNER)
        manager = accounts.create_user("manager@bench.test", "bench-password-1", name="店长")
        accounts.add_membership(manager, org, Role.STORE_MANAGER, stores[1])
        now = clock.now()
        statuses = ["approved", "approved", "approved", "reviewing", "rejected", "draft"]
        db.session.execute(insert(Product), [
            {"organization_id": org.id, "kind": "groupon" if i % 3 else "voucher", "name": f"压测套餐{i:05d}", "description": "",
             "original_price_fen": 12800, "price_fen": 9900, "stock": 100, "uses": 1, "valid_days": 90, "usage_rules": "",
             "out_id": f"bench{i:06d}", "review_status": statuses[i % 6], "review_reason": "", "local_online": True,
             "douyin_online": i % 4 != 0, "paused_reason": "", "images": [], "created_at": now, "updated_at": now}
            for i in range(n)
        ])
        ids = db.session.scalars(select(Product.id)).all()
        db.session.execute(insert(product_stores), [{"product_id": pid, "store_id": stores[pid % 4].id} for pid in ids]
                           + [{"product_id": pid, "store_id": stores[(pid + 1) % 4].id} for pid in ids if pid % 5 == 0])
        db.session.commit()
        return app, owner.get_id(), manager.get_id(), stores[2].id, ids[len(ids) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-catalog-page-") as tmp:
        workdir = Path(tmp)
        plain = _plain_app(workdir, args.products)
        portal, owner_id, manager_id, store_id, middle_id = _portal_app(workdir, args.products)

        def logged_in(user_id):
            client = portal.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = user_id
                session["_fresh"] = True
            return client

        owner, manager = logged_in(owner_id), logged_in(manager_id)
        rows = [
            ("plain page in the portal, 50 rows", owner, "/bench/plain"),
            ("商品库, first page (owner)", owner, "/catalog/"),
            ("商品库, filtered (review+store+search)", owner, f"/catalog/?review=approved&store={store_id}&q=%E5%A5%97%E9%A4%90"),
            ("商品库, deep page (keyset before=mid)", owner, f"/catalog/?before={middle_id}"),
            ("商品库, htmx rows partial (buyable filter)", owner, "/catalog/?online=buyable"),
            ("商品库, store manager", manager, "/catalog/"),
            ("商品库, no matching rows (layout+queries)", owner, "/catalog/?q=nothing-matches"),
            ("bare Flask + SQLAlchemy, 50 rows", plain.test_client(), "/"),
        ]
        hx = {"商品库, htmx rows partial (buyable filter)": {"HX-Request": "true"}}
        print(f"{args.products} products, median of {args.requests} requests each (pages taking turns)")
        figures = pages_side_by_side([(client, url, hx.get(label)) for label, client, url in rows], args.requests)
        plain_cpu, bare_cpu = figures[0][0], figures[-1][0]
        print(f"  {'page':<42} {'CPU ms/req':>10} {'wall ms':>8}  {'× plain':>7}  {'× bare':>6}")
        for (label, _, _), (cpu, wall, _size) in zip(rows, figures):
            print(f"  {label:<42} {cpu:>10.1f} {wall:>8.1f}  {cpu / plain_cpu:>6.2f}×  {cpu / bare_cpu:>5.2f}×")
        print("target: the library page within 1.5× of the plain page's CPU per request")


if __name__ == "__main__":
    main()
