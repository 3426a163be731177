"""Operator area: merchants, toggles (audited, immediate), onboarding state without secrets,
failed jobs with retry, webhook events with replay."""

from bs4 import BeautifulSoup

from portal import vault
from portal.audit import AuditEntry
from portal.douyin.events import WebhookEvent
from portal.extensions import queue as rq
from portal.settings import features


def html(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_only_operators_enter(client, owner, accounts, org):
    hq = accounts.user(__import__("portal.accounts.models", fromlist=["Role"]).Role.HQ_ADMIN, org)
    for user in (owner, hq):
        client.login_as(user)
        assert client.get("/admin/").status_code == 403
        assert client.get(f"/admin/merchants/{org.id}").status_code == 403
        assert client.post_form(f"/admin/merchants/{org.id}/features/bookings", {"enabled": "on"}).status_code == 403


def test_merchant_search(client, operator, accounts, owner, org):
    accounts.org("另一家理发")
    client.login_as(operator)
    rows = html(client.get("/admin/?q=示例")).select("#admin-merchant-rows tr")
    assert [r.get("id") for r in rows] == [f"admin-merchant-{org.id}"]
    rows = html(client.get(f"/admin/?q={owner.email}")).select("#admin-merchant-rows tr")
    assert [r.get("id") for r in rows] == [f"admin-merchant-{org.id}"]
    assert client.get("/admin/merchants/999999").status_code == 404


def test_feature_toggle_over_htmx_takes_effect_and_is_audited(hx, client, operator, owner, org, db):
    hx.login_as(operator)
    response = hx.post_form(f"/admin/merchants/{org.id}/features/content_attribution", {})
    assert response.status_code == 200
    assert not html(response).select_one("#feature-content_attribution").has_attr("checked")
    assert features.enabled(org.id, "content_attribution") is False
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.code == "admin.feature.switched"))
    assert entry.actor_id == operator.id and entry.organization_id == org.id
    client.login_as(owner)
    assert html(client.get("/settings/content/")).select_one("#settings-feature-off") is not None


def test_edition_change(client, operator, org, db):
    client.login_as(operator)
    assert client.post_form(f"/admin/merchants/{org.id}/edition", {"edition": "basic"}).status_code == 303
    db.session.refresh(org)
    assert org.edition == "basic"
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.code == "admin.edition.changed")).payload["after"] == "basic"


def test_operator_never_sees_secrets(client, operator, connected, db):
    connected.app.payment_salt_enc = vault.encrypt("salt-very-secret")
    db.session.commit()
    client.login_as(operator)
    body = client.get(f"/admin/merchants/{connected.org.id}").get_data(as_text=True)
    for secret in (connected.app_secret, connected.app.app_secret_enc, "salt-very-secret", connected.app.callback_token, "PRIVATE KEY", connected.app.private_key_enc):
        assert secret not in body
    facts = html(client.get(f"/admin/merchants/{connected.org.id}")).select_one("#admin-onboarding").text
    assert "已配置（已加密，不可查看）" in facts and connected.app.app_id in facts


def test_webhook_event_raw_body_and_replay(client, operator, connected, db, queue):
    response = connected.goodlife_webhook("life_product_audit", {"product_id": "1", "out_id": "x", "status": "PASS"}, msg_id="m-42")
    assert response.status_code == 200
    event = db.session.scalar(db.select(WebhookEvent).where(WebhookEvent.event_type == "life_product_audit"))
    queue.run()
    db.session.refresh(event)
    client.login_as(operator)
    page = html(client.get(f"/admin/merchants/{connected.org.id}"))
    assert page.select_one(f"#admin-event-{event.id}") is not None
    raw = html(client.get(f"/admin/events/{event.id}")).select_one("#admin-event-raw").text
    assert "life_product_audit" in raw
    queue.clear()
    assert client.post_form(f"/admin/events/{event.id}/replay").status_code == 303
    assert "portal.jobs.default.run_webhook_event" in queue.job_funcs()
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.code == "admin.webhook_event.replayed")) is not None


def test_failed_job_listed_and_retried(client, operator, app, db, queue):
    q = rq.get("default", app)
    job = q.enqueue("portal.no_such_module.boom", job_id=f"{q.name}-boom")  # under the run's prefix, cleared after
    queue.run()
    assert job.id in q.failed_job_registry.get_job_ids()
    client.login_as(operator)
    assert html(client.get("/admin/jobs")).select_one(f"#admin-job-{job.id}") is not None
    assert client.post_form(f"/admin/jobs/{job.id}/retry", {"next": "/admin/jobs"}).status_code == 303
    assert job.id not in q.failed_job_registry.get_job_ids()
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.code == "admin.job.retried")).payload["job_id"] == job.id


def test_sync_runs_section_present(client, operator, org):
    client.login_as(operator)
    assert "暂无" in html(client.get(f"/admin/merchants/{org.id}")).select_one("#admin-sync-runs").text


def test_sync_runs_show_translated_status_and_error(client, operator, owner, org, db):
    from portal.catalog import sync

    run = sync.run_sync(sync.start_sync_run(org.id, actor=owner)[0].id)  # Douyin is not connected
    db.session.commit()
    cells = html(client.login_as(operator).get(f"/admin/merchants/{org.id}")).select("#admin-sync-runs tbody td")
    assert cells[0].get_text() == str(run.id) and cells[1].get_text(strip=True) == "失败" and "尚未开通抖音推广" in cells[4].get_text()
    operator.locale = "en"
    db.session.commit()
    cells = html(client.get(f"/admin/merchants/{org.id}")).select("#admin-sync-runs tbody td")
    assert cells[1].get_text(strip=True) == "Failed" and "Douyin promotion not switched on yet" in cells[4].get_text()


def test_the_operator_page_shows_the_headline_figures(client, operator, db, org, orders, clock, queue):
    from portal import outbox

    outbox.add(org.id, "admin.figures.test", {}, dedupe_key="admin-figures-1")
    orders.redeem_all(orders.order(org, paid_fen=9900))
    db.session.commit()
    clock.advance(days=4)  # the message has waited, and the order is past its settlement day
    page = html(client.login_as(operator).get("/admin/"))
    figure = {card["id"]: int(card["data-value"]) for card in page.select("#admin-figures .stat-card")}
    assert figure["admin-figure-outbox-pending"] >= 1
    assert figure["admin-figure-settlement-overdue"] == 1
    assert figure["admin-figure-jobs-queued"] >= 1  # the outbox delivery, not run
    assert figure["admin-figure-jobs-failed"] == sum(q.failed_job_registry.count for q in rq.all())
    assert "4 天" in page.select_one("#admin-figure-outbox-pending").text
    assert page.select_one("#admin-figure-jobs-failed")["href"] == "/admin/jobs"


def test_the_figures_stay_off_the_search_swap_and_a_dead_redis_does_not_break_the_page(app, client, hx, operator, monkeypatch):
    import redis

    assert html(hx.login_as(operator).get("/admin/?q=x")).select_one("#admin-figures") is None
    dead = redis.Redis(port=1, socket_connect_timeout=1)  # nothing listens on port 1
    monkeypatch.setattr(app.extensions["portal_queue"], "connection", dead)
    response = client.login_as(operator).get("/admin/")
    assert response.status_code == 200
    assert html(response).select_one("#admin-figures.alert") is not None
    assert html(response).select_one("#admin-merchant-rows") is not None
