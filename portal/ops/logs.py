"""Log lines that carry the request id, the user and the organization: JSON in production
(one object a line, for a log shipper), plain text on the embedded default (for a terminal).

`LOG_FORMAT` (json | text) chooses; unset, it is text on SQLite and JSON otherwise. Every
request ends with one line (`portal.request`, written by `instrument.py`) giving endpoint,
status and duration."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from flask import g, has_request_context

from portal.ops.context import current_request_id
from portal.security import is_embedded

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class ContextFilter(logging.Filter):
    """Stamp each record with the request id, and in a request the user and organization."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        if has_request_context():
            if not hasattr(record, "user_id"):
                user = g.get("_login_user")  # only if this request already loaded it
                record.user_id = getattr(user, "id", None)
            if not hasattr(record, "organization_id"):
                tenant = g.get("tenant")
                organization = getattr(tenant, "organization", None)
                record.organization_id = getattr(organization, "id", None)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_format(config) -> str:
    chosen = (config.get("LOG_FORMAT") or "").lower()
    if chosen in ("json", "text"):
        return chosen
    return "text" if is_embedded(config) else "json"


def configure(config) -> logging.Handler:
    """Install (once per process; later calls only change the format) the root handler."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_portal", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._portal = True
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format(config) == "json" else logging.Formatter(TEXT_FORMAT))
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return handler
