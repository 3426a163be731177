"""Twenty wrong passwords for one account sent at once, through the app with real connections
(each request its own session and pooled connection, on committed rows; the rolled back `db`
fixture shares one connection and cannot race): exactly five are checked, as the limit says.
On PostgreSQL with TEST_DATABASE_URL, on the SQLite file otherwise."""

from __future__ import annotations

import os
import threading

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import delete, func, select

from portal.accounts import service
from portal.accounts.models import LoginAttempt, User, UserSession
from portal.extensions import db as _db
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.app import PortalClient

AT_ONCE = 20


@pytest.fixture
def committed_user(app):
    email = f"race-login-{os.getpid()}@example.test"
    app.extensions.pop("login_throttle", None)
    with app.app_context():
        service.create_user(email, PASSWORD, name="并发登录")
        _db.session.commit()
        _db.session.remove()
    yield email
    app.extensions.pop("login_throttle", None)
    with app.app_context():
        user_id = _db.session.scalar(select(User.id).where(User.email == email))
        _db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        _db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
        _db.session.execute(delete(User).where(User.id == user_id))
        _db.session.commit()
        _db.session.remove()


def error_of(response) -> str:
    return BeautifulSoup(response.data, "html.parser").select_one("#field-password .form-error").get_text(strip=True)


def test_twenty_wrong_passwords_at_once_get_five_checks(app, committed_user):
    app.test_client_class = PortalClient
    clients = [app.test_client() for _ in range(AT_ONCE)]
    with app.app_context():
        tokens = [c.csrf_token() for c in clients]
    barrier = threading.Barrier(AT_ONCE)
    results, failures = [], []

    def attempt(n):
        try:
            with app.app_context():  # the test client's own, as the test's is for the other tests
                barrier.wait(timeout=30)
                response = clients[n].post("/login", data={"email": committed_user, "password": "wrong-password-x", "csrf_token": tokens[n]})
                results.append((response.status_code, error_of(response)))
                _db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(AT_ONCE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert {status for status, _ in results} == {422}
    checked = [text for _, text in results if text == "邮箱或密码不正确"]
    throttled = [text for _, text in results if text.startswith("登录失败次数过多")]
    assert (len(checked), len(throttled)) == (5, AT_ONCE - 5)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == committed_user)) == 5
        _db.session.remove()
    # The right password from the same address is refused too until the window passes.
    with app.app_context():
        response = clients[0].post_form("/login", {"email": committed_user, "password": PASSWORD})
        _db.session.remove()
    assert response.status_code == 422 and error_of(response).startswith("登录失败次数过多")
