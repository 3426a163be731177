"""Outbox of callbacks (trade system) and webhooks (goodlife), and their delivery with retries."""
from __future__ import annotations

import json
import secrets
import time

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import crypto
from .models import App, DeliveryAttempt, Outbox, Refund
from .store import Store, log_id

# Seconds between attempts; attempt n+1 waits SCHEDULES[name][n-1] (douyin-platform.md §7, §1.7).
SCHEDULES: dict[str, list[int]] = {
    "payment": [15, 30, 60, 120, 240, 480, 960, 1920, 3840, 7680],
    "refund": [10, 10, 30, 60, 120, 180, 240, 300, 360, 480],
    "pre_create_refund": [10, 10, 30, 60, 120, 180, 240, 300, 360, 480] + [480] * 20,
    "settle": [10, 10, 30, 60, 120, 180, 240, 300, 360, 480],
    "webhook": [10, 60, 300],
}


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def enqueue_trade(s: Session, store: Store, appid: str, event_type: str, msg: dict, *,
                  schedule: str, url_override: str | None = None, ref: str = "") -> Outbox:
    """Queue a trade-system callback: {"version":"3.0","type":…,"msg":"<JSON string>"}.

    The message id names the delivery in the sandbox only: the platform's msg carries none."""
    message_id = "sbxmsg" + secrets.token_hex(12)
    body = dumps({"version": "3.0", "type": event_type, "msg": dumps(msg)})
    return _add(s, store, appid, "trade", event_type, message_id, body, schedule, url_override, ref)


def enqueue_webhook(s: Session, store: Store, appid: str, event: str, content: dict,
                    ref: str = "") -> Outbox:
    """Queue a goodlife webhook: {event, client_key, content:"<JSON string>", log_id}."""
    now = store.now_ms(s)
    message_id = secrets.token_hex(16)
    body = dumps({"event": event, "client_key": appid, "content": dumps(content),
                  "log_id": log_id(now)})
    return _add(s, store, appid, "webhook", event, message_id, body, "webhook", None, ref)


def enqueue_verify_webhook(s: Session, store: Store, appid: str, challenge: int) -> Outbox:
    """Queue the webhook URL check: {event:"verify_webhook", client_key:"", content:{challenge}}
    (content an object, SK EventSamples/Webhook/VerifyWebhookEvent.json)."""
    message_id = secrets.token_hex(16)
    body = dumps({"event": "verify_webhook", "client_key": "", "content": {"challenge": challenge}})
    return _add(s, store, appid, "webhook", "verify_webhook", message_id, body, "webhook", None, "")


def _add(s, store, appid, channel, event_type, message_id, body, schedule, url_override, ref):
    now = store.now_ms(s)
    row = Outbox(appid=appid, channel=channel, event_type=event_type, message_id=message_id,
                 body=body, url_override=url_override, schedule=schedule, status="PENDING",
                 attempts=0, next_attempt_ms=now, created_ms=now, ref=ref)
    s.add(row)
    s.flush()
    s.info.setdefault("new_outbox", []).append(row.id)
    return row


def _is_success(channel: str, status: int | None, text: str) -> tuple[bool, dict | None]:
    if status != 200:
        return False, None
    if channel == "webhook":
        return True, None
    try:
        reply = json.loads(text)
    except ValueError:
        return False, None
    ok = isinstance(reply, dict) and reply.get("err_no") in (0, "0")
    return ok, reply if ok else None


def deliver_one(store: Store, outbox_id: int) -> bool | None:
    """Make one delivery attempt (N copies when duplication is on); None if not due/pending."""
    with store.session() as s:
        ob = s.get(Outbox, outbox_id)
        if ob is None or ob.status != "PENDING":
            return None
        st = store.settings(s)
        now = store.now_ms(s)
        app = s.scalar(select(App).where(App.appid == ob.appid))
        if ob.channel == "trade":
            url = ob.url_override or (app.trade_callback_url if app else None)
        else:
            url = app.webhook_url if app else None
        body = ob.body.encode()
        headers = {"Content-Type": "application/json"}
        if app is not None and ob.channel == "trade":
            ts, nonce = str(now // 1000), secrets.token_hex(16)
            headers.update({
                "Byte-Timestamp": ts,
                "Byte-Nonce-Str": nonce,
                "Byte-Signature": crypto.sign_callback(app.platform_private_pem, ts, nonce, body),
                "Byte-Logid": log_id(now),
                "Byte-Identifyname": "douyin_sandbox",
            })
        elif app is not None:
            headers.update({"X-Douyin-Signature": crypto.webhook_signature(app.app_secret, body),
                            "Msg-Id": ob.message_id})
        copies = max(1, int(st["duplicate"]))
        drop_rate = float(st["drop_rate"])
        timeout = float(st["callback_timeout_seconds"])
        scale = float(st["callback_time_scale"])
        ob.status = "SENDING"
        ob.attempts += 1
        attempt_no = ob.attempts
        channel = ob.channel
        s.commit()

    records = []
    success, reply = False, None
    if not url:
        records.append(dict(copy_no=1, outcome="fail", error="未配置回调地址", url=""))
    else:
        for copy_no in range(1, copies + 1):
            if store.rng.random() < drop_rate:
                records.append(dict(copy_no=copy_no, outcome="dropped", url=url,
                                    error="dropped by fault injection"))
                continue
            started = time.monotonic()
            rec = dict(copy_no=copy_no, url=url)
            try:
                resp = requests.post(url, data=body, headers=headers, timeout=timeout)
                ok, parsed = _is_success(channel, resp.status_code, resp.text)
                rec.update(http_status=resp.status_code, response=resp.text[:2000],
                           outcome="ok" if ok else "fail")
                if ok and not success:
                    success, reply = True, parsed
            except requests.RequestException as exc:
                rec.update(outcome="fail", error=str(exc)[:500])
            rec["duration_ms"] = int((time.monotonic() - started) * 1000)
            records.append(rec)

    with store.session() as s:
        now = store.now_ms(s)
        ob = s.get(Outbox, outbox_id)
        for rec in records:
            s.add(DeliveryAttempt(outbox_id=outbox_id, attempt_no=attempt_no, at_ms=now, **rec))
        if success:
            ob.status = "DELIVERED"
            ob.delivered_ms = now
            _handle_reply(s, ob, reply)
        else:
            waits = SCHEDULES[ob.schedule]
            if ob.attempts > len(waits):
                ob.status = "FAILED"
            else:
                ob.status = "PENDING"
                ob.next_attempt_ms = now + int(waits[ob.attempts - 1] * scale * 1000)
        s.commit()
    return success


def _handle_reply(s: Session, ob: Outbox, reply: dict | None) -> None:
    if ob.event_type != "pre_create_refund" or not reply:
        return
    data = reply.get("data") or {}
    out_refund_no = data.get("out_refund_no") if isinstance(data, dict) else None
    refund = s.scalar(select(Refund).where(Refund.refund_id == ob.ref))
    if refund is not None and out_refund_no and not refund.out_refund_no:
        refund.out_refund_no = str(out_refund_no)


def due_ids(store: Store, limit: int = 200) -> list[int]:
    with store.session() as s:
        now = store.now_ms(s)
        return list(s.scalars(
            select(Outbox.id).where(Outbox.status == "PENDING", Outbox.next_attempt_ms <= now)
            .order_by(Outbox.next_attempt_ms, Outbox.id).limit(limit)))


def deliver_due(store: Store) -> int:
    """Attempt every due delivery once; returns how many attempts were made."""
    n = 0
    for oid in due_ids(store):
        if deliver_one(store, oid) is not None:
            n += 1
    return n
