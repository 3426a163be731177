"""Small helpers for the HTML pages: money, time, QR and barcode images."""
from __future__ import annotations

import io
import re
import time

import barcode
import segno
from barcode.writer import SVGWriter
from markupsafe import Markup


def fen(amount) -> str:
    amount = int(amount or 0)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}¥{amount // 100}.{amount % 100:02d}"


def ms_time(ms) -> str:
    if not ms:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ms) / 1000 + 8 * 3600))


def qr_svg(content: str) -> Markup:
    return Markup(segno.make(content, error="m").svg_inline(scale=4, border=2))


def barcode_svg(content: str) -> Markup:
    out = io.BytesIO()
    barcode.get("code128", content, writer=SVGWriter()).write(
        out, options={"module_height": 12, "font_size": 7, "text_distance": 4, "quiet_zone": 2})
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return Markup(svg)


def release_session() -> None:
    """End the request's session early, freeing the sandbox (it serves one request at a time) for
    a call back into it, such as the merchant's back end booking through create_book. Outbox rows
    the request committed are delivered now when callbacks are synchronous, as at its end."""
    from flask import current_app, g

    from .callbacks import deliver_one

    s = g.pop("db", None)
    if s is None:
        return
    s.rollback()
    store = current_app.extensions["sandbox"]
    ids = store.close_session(s)
    if ids and store.settings_snapshot()["callback_sync"]:
        for oid in ids:
            deliver_one(store, oid)
