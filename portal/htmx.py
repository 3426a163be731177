"""The only place that reads or writes HX-* headers (on top of flask-htmx).

One URL, one view: a real htmx swap gets the partial, anything else (a normal request, a
boosted link, a history restore) gets the full page. Every response varies on HX-Request.
"""

from __future__ import annotations

import json

from flask import Flask, Response, redirect as flask_redirect, render_template
from flask_htmx import HTMX

htmx = HTMX()


def init_app(app: Flask) -> None:
    htmx.init_app(app)

    @app.after_request
    def _vary_on_hx_request(response: Response) -> Response:
        response.vary.add("HX-Request")
        return response


def is_partial() -> bool:
    """True only for an htmx swap that wants a fragment."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def target() -> str | None:
    return htmx.target


def render(page: str, partial: str | None = None, *, status: int = 200, trigger: str | None = None, **context) -> Response:
    """Render `partial` for an htmx swap, `page` otherwise (which includes the partial)."""
    template = partial if partial and is_partial() else page
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    if trigger:
        add_trigger(response, trigger)
    return response


def invalid(page: str, partial: str | None = None, **context) -> Response:
    """A form that failed validation: the same form with its errors, status 422."""
    return render(page, partial, status=422, **context)


def redirect(location: str, *, trigger: str | None = None) -> Response:
    """After a successful POST: HX-Redirect for htmx, 303 See Other otherwise."""
    if htmx:
        response = Response(status=200, headers={"HX-Redirect": location})
    else:
        response = flask_redirect(location, code=303)
    if trigger:
        add_trigger(response, trigger)
    return response


def add_trigger(response: Response, event: str, detail=None) -> Response:
    """Add an event to HX-Trigger, keeping any already set."""
    existing = response.headers.get("HX-Trigger")
    events: dict = {}
    if existing:
        try:
            events = json.loads(existing)
        except ValueError:
            events = {name.strip(): None for name in existing.split(",")}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events, ensure_ascii=False)
    return response


def stop_polling(response: Response) -> Response:
    """286 tells htmx to stop a `every Ns` trigger."""
    response.status_code = 286
    return response
