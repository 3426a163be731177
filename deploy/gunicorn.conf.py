"""gunicorn settings for the portal: `gunicorn -c deploy/gunicorn.conf.py` (wsgi:app).

Threads keep a process serving while a request waits on Douyin. Every setting reads the
environment, so one file serves production (PORTAL_BIND=0.0.0.0:8000, WEB_CONCURRENCY=4) and
`make run` (one process, so the in-process job queue and its thread live beside the requests)."""

import os
import shutil
import tempfile

wsgi_app = "wsgi:app"
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("PORTAL_THREADS", "4"))
timeout = int(os.environ.get("PORTAL_TIMEOUT", "60"))  # a live Douyin check may take seconds, not a minute
graceful_timeout = 30
keepalive = 5
accesslog = None  # the portal logs every request itself, with its request id, user and organization
errorlog = "-"
control_socket_disable = True  # unused, and two masters of one user would share its path
# Each process writes its metrics here and a scrape of any one adds them up (prometheus_client's
# multiprocess mode). It has to be in the environment before the app imports prometheus_client,
# so it is set here, in the master, and is the master's own: emptied on start, removed on exit.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"portal-metrics-{os.getpid()}"))


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ["PROMETHEUS_MULTIPROC_DIR"].startswith(os.path.join(tempfile.gettempdir(), "portal-metrics-")):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
