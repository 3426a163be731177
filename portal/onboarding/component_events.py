"""Douyin's pushes to the portal's third-party platform: one URL (授权事件接收 URL in Douyin's
console) for the component_ticket and the authorization events.

Each push is verified with the platform's push token and decrypted with its EncodingAESKey
(`portal.douyin.component.decrypt_event`), handled at once (`authorization.handle_event`: a
database write, or one code exchange) and answered with the text `success`. A push that is not
ours is a 401 and changes nothing; handling is idempotent, so a repeated push is harmless.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from portal import clock
from portal.douyin.component import EventError, decrypt_event
from portal.extensions import csrf, db
from portal.onboarding import authorization

log = logging.getLogger(__name__)
bp = Blueprint("douyin_component", __name__, url_prefix="/douyin/component")
csrf.exempt(bp)

ACK = "success"


@bp.post("/events")
def events():
    try:
        event = decrypt_event(authorization.component_credentials(), request.get_json(silent=True))
    except EventError as error:
        log.warning("component push refused: %s", error)
        return Response("invalid push", status=401, mimetype="text/plain")
    outcome = authorization.handle_event(event, now=clock.now())
    db.session.commit()
    log.info("component push %s: %s", event.get("Event"), outcome)
    return Response(ACK, mimetype="text/plain")
