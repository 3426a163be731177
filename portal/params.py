"""Whole numbers from URLs and query strings: ASCII digits only, within what the database holds.

Anything else (a letter, "٣", an id past the 32-bit primary keys, a page whose OFFSET would
overflow) is a 404, never a database error. The `int` URL converter is replaced app-wide, so
`/orders/99999999999999999999` is a 404 before any view runs.
"""

from __future__ import annotations

from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # primary keys are 32-bit integers
MAX_PAGE = 100_000  # far past any list; keeps OFFSET small


def is_id(value) -> bool:
    """A string or int that can be a primary key."""
    text = str(value)
    return text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID


class IdConverter(IntegerConverter):
    """`<int:…>` that matches ASCII digits up to MAX_ID only."""

    regex = r"[0-9]{1,10}"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def int_arg(name: str, default: int | None = None, *, maximum: int = MAX_ID) -> int | None:
    """A query argument as a whole number from 0 to `maximum`; absent or blank gives `default`,
    anything else aborts with 404."""
    value = request.args.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 12 or int(value) > maximum:
        abort(404)
    return int(value)


def page_arg() -> int:
    """`?page=`: 1 when absent, a 404 past MAX_PAGE."""
    return max(int_arg("page", 1, maximum=MAX_PAGE), 1)


def init_app(app) -> None:
    """Call before the blueprints are registered: converters are bound when a rule is added."""
    app.url_map.converters["int"] = IdConverter
