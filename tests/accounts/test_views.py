"""Sign-in, landing per role, tenancy (404 across tenants, 403 without permission), CSRF."""

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.accounts.models import LoginAttempt, Role, User
from tests.fixtures.accounts import PASSWORD


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_anonymous_is_sent_to_login(client):
    for path in ("/dashboard", "/catalog/", "/counter/", "/ledger/", "/staff/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"]


def test_owner_logs_in_and_lands_on_the_chinese_dashboard(client, owner):
    response = client.post_form("/login", {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard")
    page = html(client.get("/dashboard"))
    nav = page.select_one("#main-nav").get_text()
    for label in ("抖音推广", "商品库", "订单与核销", "担保账户", "数据概览", "设置"):
        assert label in nav
    assert page.html["lang"] == "zh-CN"


def test_clerk_lands_on_the_counter_without_navigation(client, clerk):
    response = client.post_form("/login", {"email": clerk.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/counter/")
    page = html(client.get("/counter/"))
    assert page.select_one("body.counter-layout") is not None
    assert page.select_one("#main-nav") is None


def test_operator_lands_on_the_operator_area(client, operator):
    response = client.post_form("/login", {"email": operator.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/admin/")
    assert client.get("/admin/").status_code == 200


def test_every_section_page_exists_for_the_owner(client, owner):
    client.login_as(owner)
    for path in ("/onboarding/", "/catalog/", "/orders/", "/counter/", "/ledger/", "/insights/", "/settings/", "/staff/"):
        assert client.get(path).status_code == 200, path


def test_clerk_is_forbidden_on_owner_pages(client, clerk):
    client.login_as(clerk)
    for path in ("/dashboard", "/onboarding/", "/catalog/", "/ledger/", "/settings/", "/staff/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "没有权限" in response.get_data(as_text=True)


def test_merchant_is_forbidden_in_the_operator_area(client, owner):
    assert client.login_as(owner).get("/admin/").status_code == 403


def test_bad_login_shows_the_error_and_changes_nothing(client, owner, db):
    response = client.post_form("/login", {"email": owner.email, "password": "wrong-password"})
    assert response.status_code == 422
    error = html(response).select_one("#field-password .form-error")
    assert error is not None and "邮箱或密码不正确" in error.text
    assert client.get("/dashboard").status_code == 302  # still signed out


def test_bad_login_over_htmx_returns_only_the_form(hx, owner):
    response = hx.post_form("/login", {"email": owner.email, "password": "nope-nope-nope"})
    assert response.status_code == 422
    page = html(response)
    assert page.select_one("form#accounts-login-form") is not None
    assert page.select_one("html") is None
    assert "HX-Request" in response.headers["Vary"]


def test_repeated_bad_logins_are_throttled_even_with_the_right_password(client, owner, db):
    for _ in range(5):
        assert client.post_form("/login", {"email": owner.email, "password": "bad-password-x"}).status_code == 422
    response = client.post_form("/login", {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 422
    assert "登录失败次数过多" in html(response).select_one("#field-password .form-error").text
    attempts = db.session.scalars(select(LoginAttempt).where(LoginAttempt.email == owner.email)).all()
    assert len(attempts) == 5 and not any(a.succeeded for a in attempts)


def test_throttle_lifts_after_the_window(app, client, owner, monkeypatch):
    import time

    # The counters keep real time (they live in Redis): a few seconds stand for fifteen minutes.
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_WINDOW_SECONDS", 4)
    for _ in range(5):
        client.post_form("/login", {"email": owner.email, "password": "bad-password-x"})
    assert client.post_form("/login", {"email": owner.email, "password": PASSWORD}).status_code == 422
    time.sleep(4.2)
    assert client.post_form("/login", {"email": owner.email, "password": PASSWORD}).status_code == 303


def test_one_address_never_locks_other_people_out(app, client, owner, clerk, db):
    attacker, colleague = app.test_client(), app.test_client()
    for n in range(110):  # wrong passwords for unknown e-mails, and for the owner, all from one address
        attacker.post_form("/login", {"email": f"nobody{n}@x.cn" if n % 2 else owner.email, "password": "bad-password-x"},
                           environ_base={"REMOTE_ADDR": "203.0.113.66"})
    blocked = attacker.post_form("/login", {"email": clerk.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "203.0.113.66"})
    assert blocked.status_code == 422  # the address that guessed is throttled...
    for user in (owner, clerk):  # ...but nobody else, the owner whose password it guessed included
        response = colleague.post_form("/login", {"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "198.51.100.5"})
        assert response.status_code == 303
        colleague.post_form("/logout")


def test_post_without_csrf_token_is_rejected(client, owner):
    response = client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_another_tenants_store_is_not_found(client, accounts, owner, org):
    other_org = accounts.org("别家")
    accounts.user(Role.OWNER, other_org)
    client.login_as(owner)
    foreign = other_org.stores[0]
    response = client.post_form("/staff/", {"email": "x@example.test", "name": "X", "role": "clerk", "store_id": str(foreign.id)})
    assert response.status_code == 404


def test_logout_ends_the_session(client, owner):
    client.login_as(owner)
    assert client.post_form("/logout").status_code == 303
    assert client.get("/dashboard").status_code == 302


def test_change_password_needs_the_current_one(client, owner, db):
    client.login_as(owner)
    response = client.post_form("/account/password", {"current_password": "wrong", "new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"})
    assert response.status_code == 422
    assert "当前密码不正确" in html(response).select_one("#field-current_password").text
    response = client.post_form("/account/password", {"current_password": PASSWORD, "new_password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert "至少需要 10 个字符" in html(response).select_one("#field-new_password").text
    response = client.post_form("/account/password", {"current_password": PASSWORD, "new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"})
    assert response.status_code == 303
    client.post_form("/logout")
    assert client.post_form("/login", {"email": owner.email, "password": PASSWORD}).status_code == 422
    assert client.post_form("/login", {"email": owner.email, "password": "brand-new-pass-1"}).status_code == 303


def test_password_change_signs_out_other_sessions(app, client, owner, db):
    other = app.test_client()
    other.login_as(owner)
    client.login_as(owner)
    client.post_form("/account/password", {"current_password": PASSWORD, "new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"})
    assert client.get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 302


def test_owner_invites_a_clerk_who_sets_a_password_and_lands_on_the_counter(client, owner, org, db, queue):
    client.login_as(owner)
    store = org.stores[1]
    response = client.post_form("/staff/", {"email": "new.clerk@example.test", "name": "小王", "role": "clerk", "store_id": str(store.id)})
    assert response.status_code == 200
    link = html(response).select_one("#invite-link code").text
    assert "queued" not in link and "/invite/" in link
    assert "portal.jobs.default.run_deliver_mail" in queue.job_funcs()
    queue.run()
    from portal.mail import OutgoingMail

    mail = db.session.scalars(select(OutgoingMail).where(OutgoingMail.to == "new.clerk@example.test")).one()
    assert mail.status == "sent" and link in mail.body
    client.post_form("/logout")
    path = link.split("portal.test", 1)[1]
    bad = client.post_form(path, {"password": "short", "confirm": "short"})
    assert bad.status_code == 422
    english = html(client.get(path + "?lang=en"))
    assert english.select_one("#accept-invite-form button").get_text() == "Accept invitation"
    assert [a["href"] for a in english.select("#invite-languages a")] == [path + "?lang=zh_Hans", path + "?lang=en"]
    ok = client.post_form(path + "?lang=en", {"name": "小王", "password": "clerk-pass-1234", "confirm": "clerk-pass-1234"})
    assert ok.status_code == 303
    assert db.session.scalars(select(User).where(User.email == "new.clerk@example.test")).one().locale == "en"
    assert client.get("/counter/").status_code == 200
    assert client.get("/catalog/").status_code == 403
    assert client.get(path).status_code == 404  # used once


def test_invite_without_store_for_a_store_role_is_refused(client, owner, db):
    client.login_as(owner)
    response = client.post_form("/staff/", {"email": "m@example.test", "name": "M", "role": "store_manager", "store_id": ""})
    assert response.status_code == 422
    assert "门店角色必须选择门店" in html(response).select_one("#field-store_id").text


def test_store_manager_sees_only_their_store(client, manager, org):
    client.login_as(manager)
    scope = html(client.get("/dashboard")).select_one("#home-scope").get_text()
    assert org.stores[0].name in scope and org.stores[1].name not in scope


def test_english_is_selectable_per_user(client, owner, db):
    client.login_as(owner)
    client.post_form("/account/locale", {"locale": "en"})
    page = html(client.get("/dashboard"))
    assert page.html["lang"] == "en"
    assert "Product library" in page.select_one("#main-nav").get_text()


def test_invite_confirmation_is_on_the_swapped_form_and_never_on_a_later_page(hx, owner, org, db):
    hx.login_as(owner)
    data = {"email": "later@example.test", "name": "小李", "role": "clerk", "store_id": str(org.stores[0].id)}
    response = hx.post_form("/staff/", data)
    assert response.status_code == 200
    confirmation = html(response).select_one("#invite-link #invite-confirmation")
    assert confirmation is not None and "已邀请 later@example.test" in confirmation.text
    failed = hx.post_form("/staff/", {**data, "email": "bad@example.test", "store_id": ""})
    assert failed.status_code == 422 and "已邀请" not in failed.get_data(as_text=True)
    hx.hx_headers = {}  # a full page load
    page = hx.get("/staff/")
    assert "later@example.test" in page.get_data(as_text=True)  # listed as staff
    assert "已邀请 later@example.test" not in page.get_data(as_text=True)


def test_a_copied_session_cookie_opens_nothing_after_sign_out(app, client, owner, db):
    db.session.commit()
    assert client.post_form("/login", {"email": owner.email, "password": PASSWORD}).status_code == 303
    stolen = app.test_client()
    name = app.config["SESSION_COOKIE_NAME"]
    stolen.set_cookie(name, client.get_cookie(name, domain="portal.test").value, domain="portal.test")
    assert stolen.get("/dashboard").status_code == 200
    client.post_form("/logout")
    assert stolen.get("/dashboard").status_code == 302
    # Another browser of the same user stays signed in.
    other = app.test_client()
    assert other.post_form("/login", {"email": owner.email, "password": PASSWORD}).status_code == 303
    assert other.get("/dashboard").status_code == 200
    client.post_form("/login", {"email": owner.email, "password": PASSWORD})
    client.post_form("/logout")
    assert other.get("/dashboard").status_code == 200
