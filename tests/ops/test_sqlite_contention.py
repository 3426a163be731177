"""The embedded default (SQLite) never answers 500 with "database is locked": page loads wait for
a writer that holds the lock longer than the busy timeout (a sync page waiting on Douyin)."""

import sqlite3
import threading
import time

from cryptography.fernet import Fernet
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.extensions import db as _db
from tests.fixtures.app import PortalClient


def test_page_loads_during_long_writes_never_answer_500(tmp_path):
    path = tmp_path / "embedded.db"
    app = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "SECRET_KEY": "x",
        "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
        "SQLITE_BUSY_TIMEOUT_MS": 100,  # a writer below holds the lock five times as long
    })
    with app.app_context():
        from flask_migrate import upgrade

        from portal.accounts.models import User
        from portal.cli import seed_demo

        upgrade()
        seed_demo()
        _db.session.commit()
        owner = _db.session.scalar(_db.select(User).where(User.email == "owner@demo.test"))
        owner_id = owner.get_id()
    stop = threading.Event()
    statuses: list[int] = []
    held = []

    def writer():  # a sync: page after page, each transaction holding the write lock for a while
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE organizations SET name = name")
            time.sleep(0.5)
            connection.execute("COMMIT")
            held.append(1)
            time.sleep(0.1)  # between pages: reading Douyin's next one
        connection.close()

    def reader():
        app.test_client_class = PortalClient
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = owner_id
            session["_fresh"] = True
        pages = ["/", "/catalog/", "/orders/", "/ledger/"]
        deadline = time.monotonic() + 3  # six of the writer's long transactions
        with app.app_context():  # the client expires this context's session after each request
            while time.monotonic() < deadline:
                try:
                    statuses.append(client.get(pages[len(statuses) % 4]).status_code)
                except (OperationalError, sqlite3.OperationalError):  # what a 500 is under TESTING (the error propagates)
                    statuses.append(500)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join(timeout=120)
    stop.set()
    threads[0].join(timeout=10)
    assert 500 not in statuses, statuses
    assert len(held) >= 4
    assert len(statuses) >= 20
    assert set(statuses) <= {200, 302, 303}
