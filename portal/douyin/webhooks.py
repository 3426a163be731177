"""Inbound Douyin callbacks: one pair of URLs per organization.

Each callback is verified (trade system: SHA256withRSA with the organization's platform public
key over "timestamp\\nnonce\\nbody\\n"; goodlife webhooks: sha1(client_secret + body)), stored raw
once (unique message id: a replay is acknowledged and changes nothing), acknowledged with the
documented body, and handed to the handlers registered for its type by a job queued after commit.
A bad signature or a stale timestamp is a 401 that stores nothing but a log line.

This module knows no domain: the keys come from a provider set at start-up (`configure`), the
work from handlers the domains register (`handler`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.douyin.events import EventStatus, WebhookEvent
from portal.douyin.signing import verify_callback, webhook_signature
from portal.extensions import csrf, db, queue
from portal.ops import metrics

log = logging.getLogger("portal.douyin.webhooks")
bp = Blueprint("douyin_webhooks", __name__, url_prefix="/douyin/callbacks")
csrf.exempt(bp)

MAX_SKEW_SECONDS = 600
ACK = {"err_no": 0, "err_tips": "success"}


@dataclass(frozen=True)
class CallbackKeys:
    organization_id: int
    platform_public_key_pem: str | None
    client_secret: str | None


_key_provider: Callable[[str], CallbackKeys | None] | None = None
_handlers: dict[str, list[Callable[[WebhookEvent], None]]] = defaultdict(list)
_responders: dict[str, Callable[[WebhookEvent], dict]] = {}


def configure(key_provider: Callable[[str], CallbackKeys | None]) -> None:
    global _key_provider
    _key_provider = key_provider


def handler(event_type: str):
    """Register a function run (in a job, after commit) for each stored event of `event_type`.
    Handlers must be idempotent: an event can be replayed by an operator."""

    def register(func):
        if func not in _handlers[event_type]:
            _handlers[event_type].append(func)
        return func

    return register


def responder(event_type: str):
    """Register a function whose dict becomes the synchronous reply's `data` (pre_create_refund)."""

    def register(func):
        _responders[event_type] = func
        return func

    return register


def _keys(token: str) -> CallbackKeys:
    keys = _key_provider(token) if _key_provider else None
    if keys is None:
        _count("refused", "unknown token")
        abort(404)
    return keys


def _reject(reason: str, keys: CallbackKeys):
    log.warning("rejected Douyin callback for organization %s: %s", keys.organization_id, reason)
    _count("refused", reason)
    return jsonify({"err_no": 401, "err_tips": reason}), 401


def _count(outcome: str, reason: str = "") -> None:
    """portal_douyin_callbacks{source, outcome, reason}: the source is the URL called."""
    metrics.callback(request.endpoint.rpartition(".")[2] if request.endpoint else "", outcome, reason)


def _malformed():
    _count("refused", "malformed body")
    return jsonify({"err_no": 400, "err_tips": "malformed body"}), 400


def _fresh(timestamp: str) -> bool:
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if sent > 10**11:  # milliseconds
        sent //= 1000
    # Never widened: in the demo "now" is the sandbox's own clock (portal.democlock), so callbacks
    # signed after "+3 天" are fresh there; against the real platform, real time and 10 minutes.
    return abs(clock.now().timestamp() - sent) <= MAX_SKEW_SECONDS


def _trade_message_id(event_type: str, msg: dict) -> str:
    explicit = msg.get("message_id") or msg.get("msg_id")
    if explicit:
        return str(explicit)
    subject = msg.get("refund_id") or msg.get("settle_id") or msg.get("order_id") or msg.get("out_order_no") or ""
    return f"{event_type}:{subject}:{msg.get('status', '')}"


def _store(keys: CallbackKeys, source: str, event_type: str, message_id: str, raw: bytes, payload: dict) -> tuple[WebhookEvent, bool]:
    """Insert once; a duplicate returns the stored event and False."""
    event = WebhookEvent(
        organization_id=keys.organization_id,
        source=source,
        event_type=event_type,
        message_id=message_id[:128],
        raw_body=raw.decode("utf-8", errors="replace"),
        payload=payload,
        status=EventStatus.RECEIVED,
        received_at=clock.now(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(event)
    except IntegrityError:
        existing = db.session.scalar(
            db.select(WebhookEvent).where(
                WebhookEvent.organization_id == keys.organization_id,
                WebhookEvent.source == source,
                WebhookEvent.message_id == message_id[:128],
            )
        )
        return existing, False
    queue.enqueue("default", "portal.jobs.default.run_webhook_event", event.id, job_id=f"webhook:{event.id}")
    return event, True


@bp.post("/<token>/trade")
def trade(token: str):
    keys = _keys(token)
    raw = request.get_data(cache=True)
    timestamp = request.headers.get("Byte-Timestamp", "")
    nonce = request.headers.get("Byte-Nonce-Str", "")
    signature = request.headers.get("Byte-Signature", "")
    if not keys.platform_public_key_pem:
        return _reject("platform public key not configured", keys)
    if not verify_callback(public_key_pem=keys.platform_public_key_pem, timestamp=timestamp, nonce=nonce, body=raw, signature=signature):
        return _reject("bad signature", keys)
    if not _fresh(timestamp):
        return _reject("stale timestamp", keys)
    try:
        body = json.loads(raw)
        event_type = str(body["type"])
        msg = body.get("msg") or "{}"
        payload = json.loads(msg) if isinstance(msg, str) else dict(msg)
    except (ValueError, KeyError, TypeError):
        return _malformed()
    event, created = _store(keys, "trade", event_type, _trade_message_id(event_type, payload), raw, payload)
    reply = dict(ACK)
    if event_type in _responders:
        reply["data"] = _responders[event_type](event)
    db.session.commit()
    _count("accepted" if created else "duplicate")
    if not created:
        log.info("duplicate Douyin callback %s for organization %s acknowledged", event.message_id, keys.organization_id)
    return jsonify(reply)


@bp.post("/<token>/webhook")
def goodlife(token: str):
    keys = _keys(token)
    raw = request.get_data(cache=True)
    given = request.headers.get("X-Douyin-Signature", "")
    # Hex digests compare case-insensitively (SK VerifyEventSignature: OrdinalIgnoreCase).
    if not keys.client_secret or not hmac.compare_digest(given.lower().encode(), webhook_signature(keys.client_secret, raw).lower().encode()):
        return _reject("bad signature", keys)
    try:
        body = json.loads(raw)
        event_type = str(body["event"])
        content = body.get("content") or "{}"
        payload = json.loads(content) if isinstance(content, str) else dict(content)
    except (ValueError, KeyError, TypeError):
        return _malformed()
    if event_type == "verify_webhook":
        _count("accepted", "verify")
        return jsonify({"challenge": payload.get("challenge")})
    # Deduplicated on what is signed: the Msg-Id header is not, so a replay under a new Msg-Id
    # would otherwise be stored (and handled) again.
    message_id = hashlib.sha256(raw).hexdigest()
    _, created = _store(keys, "goodlife", event_type, message_id, raw, payload)
    db.session.commit()
    _count("accepted" if created else "duplicate")
    return jsonify(ACK)


def process(event_id: int) -> str:
    """Run the handlers of one stored event; an event already processed is left alone. The row
    is locked, so a re-queued copy (the sweep's) waits for a run still going and then skips."""
    event = db.session.get(WebhookEvent, event_id, with_for_update=True)
    if event is None or event.status == EventStatus.PROCESSED:
        return "skipped"
    event.attempts += 1
    for func in _handlers.get(event.event_type, []):
        func(event)
    event.status = EventStatus.PROCESSED
    event.processed_at = clock.now()
    event.error = ""
    return EventStatus.PROCESSED


def stalled(older_than: timedelta, limit: int = 500) -> list[int]:
    """Ids of events received before `older_than` ago and still not processed: their job was lost
    (a worker killed mid-run, Redis emptied). The sweep queues them again; `process` is idempotent."""
    return list(db.session.scalars(
        db.select(WebhookEvent.id)
        .where(WebhookEvent.status == EventStatus.RECEIVED, WebhookEvent.received_at <= clock.now() - older_than)
        .order_by(WebhookEvent.received_at)
        .limit(limit)
    ))


def mark_failed(event_id: int, error: str) -> None:
    event = db.session.get(WebhookEvent, event_id)
    if event is not None:
        event.status = EventStatus.FAILED
        event.attempts += 1
        event.error = error[:4000]


def replay(event: WebhookEvent) -> None:
    """Run an event's handlers again (operator's replay button); handlers are idempotent."""
    event.status = EventStatus.RECEIVED
    queue.enqueue("default", "portal.jobs.default.run_webhook_event", event.id, job_id=f"webhook:{event.id}:replay{event.attempts}")
