"""Operations: health and readiness, Prometheus metrics, request ids and structured logs,
`flask doctor`. Nothing here knows a domain; the figures it reads come through `figures.py`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.ops import doctor, instrument, views

    instrument.init_app(app)
    app.register_blueprint(views.bp)
    doctor.init_app(app)
