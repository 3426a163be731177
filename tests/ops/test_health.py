"""/healthz and /readyz: unauthenticated, cookie-free, and /readyz names what is down."""

from cryptography.fernet import Fernet
from sqlalchemy import text

from portal import create_app
from portal.extensions import db as _db


def test_healthz_answers_without_touching_the_session(client, owner):
    client.login_as(owner)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_probes_and_metrics_are_never_throttled_even_for_an_address_locked_out_of_sign_in(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "probe-token")
    for attempt in range(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] + 2):
        client.post_form("/login", {"email": f"nobody{attempt}@example.test", "password": "wrong-password"})
    # A load balancer polls from one address, often the address everyone else comes through.
    for _ in range(100):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics", headers={"Authorization": "Bearer probe-token"}).status_code == 200


def test_readyz_is_ready_when_database_queue_and_schema_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "queue": "ok", "migrations": "ok"}}
    assert "Set-Cookie" not in response.headers


def _app(tmp_path, **config):
    settings = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ready.db'}",
        "SECRET_KEY": "x",
        "SECRETS_FERNET_KEY": Fernet.generate_key().decode(),
        "SERVER_NAME": "portal.test",
    }
    settings.update(config)
    app = create_app(settings)
    with app.app_context():
        from flask_migrate import upgrade

        if "SQLALCHEMY_DATABASE_URI" not in config:
            upgrade()
    return app


def test_readyz_reports_a_database_that_does_not_answer(tmp_path):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unready"
    assert response.json["checks"]["database"].startswith("OperationalError")


def test_readyz_reports_redis_that_does_not_answer(tmp_path):
    app = _app(tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"] == "ok" and checks["migrations"] == "ok"
    assert checks["queue"].startswith("ConnectionError")


def test_readyz_reports_a_schema_behind_the_code(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        _db.session.execute(text("UPDATE alembic_version SET version_num = '0012'"))
        _db.session.commit()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["migrations"].startswith("database at 0012, code at ")
    assert "flask db upgrade" in response.json["checks"]["migrations"]


def test_readyz_reports_a_stopped_in_process_worker(tmp_path):
    app = _app(tmp_path)

    class Stopped:
        def is_alive(self):
            return False

    app.extensions["portal_queue"].inline_thread = Stopped()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["queue"] == "in-process worker thread has stopped"

