"""The deployment files parse, run commands that exist, and gunicorn with several processes
serves one set of metrics (prometheus_client's multiprocess mode)."""

import configparser
from concurrent.futures import ThreadPoolExecutor
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def gunicorn_settings(monkeypatch, tmp_path) -> Config:
    # The file sets the metrics directory in the environment of whoever reads it: not this one's.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = Config()
    namespace = {"__file__": str(ROOT / "deploy" / "gunicorn.conf.py")}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_gunicorn_config_sets_threads_and_the_metrics_hooks(monkeypatch, tmp_path):
    config = gunicorn_settings(monkeypatch, tmp_path)
    assert config.worker_class_str == "gthread"
    assert config.threads >= 2 and config.workers >= 1
    assert config.wsgi_app == "wsgi:app"
    assert callable(config.child_exit) and callable(config.on_starting)


def test_systemd_units_parse_and_restart(app):
    assert {unit.name for unit in UNITS} == {"portal-web.service", "portal-worker@.service"}
    for unit in UNITS:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read(unit)
        assert {"Unit", "Service", "Install"} <= set(parser.sections()), unit.name
        service = parser["Service"]
        assert service["Restart"] == "always"
        command = shlex.split(service["ExecStart"])
        # /srv/portal/.venv/bin/X in production is this checkout's .venv/bin/X here.
        local = Path(sys.executable).parent / Path(command[0]).name
        assert local.exists(), f"{unit.name}: {command[0]} is not installed"
        if local.name == "flask":
            assert command[1] in app.cli.commands, command
        if "-c" in command:
            assert (ROOT / command[command.index("-c") + 1]).exists()


def test_flask_commands_of_the_units_and_the_readme_exist(app):
    assert {"worker", "doctor", "dev", "seed-demo"} <= set(app.cli.commands)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gunicorn_processes_serve_one_set_of_metrics(tmp_path):
    instance = tmp_path / "instance"
    env = dict(os.environ, PORTAL_INSTANCE_PATH=str(instance), DATABASE_URL=f"sqlite:///{tmp_path / 'mp.db'}",
               FLASK_APP="wsgi.py", METRICS_TOKEN="mp-token", RQ_INPROCESS_WORKER="0")
    env.pop("REDIS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([str(Path(sys.executable).parent / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    env.update(PORTAL_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=30)
                break
            except requests.ConnectionError:  # not listening yet
                time.sleep(0.1)
        answered_by = set()
        with ThreadPoolExecutor(16) as pool:  # at once, on new connections: both processes answer
            statuses = list(pool.map(lambda _: requests.get(f"{base}/healthz", timeout=30).status_code, range(160)))
        assert statuses == [200] * 160
        for _ in range(6):
            text = requests.get(f"{base}/metrics", headers={"Authorization": "Bearer mp-token"}, timeout=5).text
            line = next(l for l in text.splitlines() if l.startswith('portal_http_requests_total{endpoint="ops.healthz"'))
            answered_by.add(float(line.rsplit(" ", 1)[1]))
        # Whichever process answers the scrape, it counts every process's requests (the 160 and the wait's).
        assert len(answered_by) == 1 and min(answered_by) >= 161
        assert list((tmp_path / "metrics").glob("counter_*.db"))  # the samples are in the shared directory
    finally:
        server.terminate()
        server.wait(timeout=30)
