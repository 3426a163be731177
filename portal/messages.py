"""Sentences kept as their message id and values, put into words when they are read.

A notice, a refund's reason, a journal note or an audit value that the portal writes is stored as
``{"id": <source text>, "values": {...}}``: the id is the Simplified Chinese msgid of the catalog
and the values fill its ``%(name)s`` placeholders (a value may be such a message itself). Reading
it translates the id into the reader's language, so an English reader sees English, whenever the
row was written. Text a person or Douyin typed (a customer's refund reason, Douyin's status
message) is kept as typed, as a plain string.

Write with a lazy string, ``_l("提现 %(amount)s 已到账", amount=amount)``, or ``Message(id, **values)``;
both are extracted and stored the same way.
"""

from __future__ import annotations

from typing import Any

from flask_babel.speaklater import LazyString

from portal import i18n


class Message:
    """A message id with its values; ``str()`` renders it in the current language."""

    __slots__ = ("id", "values")

    def __init__(self, id: str, **values: Any):
        self.id = id
        self.values = values

    def to_json(self) -> dict:
        return {"id": self.id, "values": {key: dump(value) for key, value in self.values.items()}}

    def __str__(self) -> str:
        return render(self.to_json())

    def __html__(self) -> str:
        return str(self)

    def __eq__(self, other) -> bool:
        return isinstance(other, Message) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Message({self.id!r}, **{self.values!r})"


def _lazy_message(value: LazyString) -> Message | None:
    # Only our own gettext's lazy strings carry a msgid and its values; others are rendered now.
    if value._func is not i18n.gettext or len(value._args) != 1:
        return None
    return Message(value._args[0], **value._kwargs)


def as_message(value) -> Message | None:
    """The Message a value stands for (a Message, a lazy string of ours, a stored dict), else None."""
    if isinstance(value, Message):
        return value
    if isinstance(value, LazyString):
        return _lazy_message(value)
    if is_stored(value):
        return Message(value["id"], **value["values"])
    return None


def is_stored(value) -> bool:
    return (isinstance(value, dict) and set(value) == {"id", "values"} and isinstance(value["id"], str)
            and isinstance(value["values"], dict))


def dump(value):
    """A value as it is stored in a JSON column: messages as ``{"id", "values"}``, scalars as they
    are, anything else as its text."""
    message = as_message(value)
    if message is not None:
        return message.to_json()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [dump(item) for item in value]
    if isinstance(value, dict):
        return {key: dump(item) for key, item in value.items()}
    return str(value)


def render(stored, fallback: str = "", *, translate=None) -> str:
    """A stored value in the current language: a message is translated and filled in, a plain
    value is shown as it is, nothing gives `fallback` (the literal text of older rows)."""
    if stored is None:
        return fallback
    if not is_stored(stored):
        return str(stored)
    translate = translate or i18n.gettext
    values = {key: render(value, translate=translate) for key, value in stored["values"].items()}
    try:
        msgid = stored["id"]
        return translate(msgid, **values)
    except (KeyError, ValueError, TypeError):
        # A translation that names a value the row does not have: the source sentence still reads.
        try:
            return stored["id"] % values if values else stored["id"]
        except (KeyError, ValueError, TypeError):
            return stored["id"]


def in_language(stored, locale: str, fallback: str = "") -> str:
    """`render` in a given language (text sent to Douyin's customers is Chinese whoever reads the portal)."""
    from flask import has_app_context

    if not has_app_context():
        return render(stored, fallback)
    from flask_babel import force_locale, get_translations

    # Not i18n.gettext: its memo belongs to the request's language.
    with force_locale(locale):
        translations = get_translations()

    def translate(message, **values):
        text = translations.ugettext(message)
        return text % values if values else text

    return render(stored, fallback, translate=translate)


class Composed(str):
    """A stored message put into words: a sentence the portal wrote, in whatever language it now
    reads (what `MessageText` gives for a message; `problems.explain` keeps such a sentence, where
    it puts Douyin's own words into a sentence)."""

    __slots__ = ()


def stored(obj, name: str):
    """The stored form of `obj`'s MessageText attribute `name`: its message dict, or its literal
    text (to pass a reason on to a notice without putting it into words first)."""
    for klass in type(obj).__mro__:
        if isinstance(klass.__dict__.get(name), MessageText):
            return klass.__dict__[name].stored(obj)
    raise AttributeError(name)


class MessageText:
    """A model attribute that reads as text in the reader's language.

    Backed by two columns: `literal` (plain text: older rows, and what a person or Douyin typed)
    and `message` (a JSON message, or NULL). Assigning a Message or one of our lazy strings stores
    the message and empties the literal; assigning a plain string stores it as typed. Reading a
    message gives a `Composed` string. On the class, the attribute is the literal column, for queries.
    """

    def __init__(self, literal: str, message: str):
        self.literal = literal
        self.message = message

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return getattr(owner, self.literal)
        found = getattr(obj, self.message)
        text = render(found, getattr(obj, self.literal) or "")
        return Composed(text) if is_stored(found) else text

    def __set__(self, obj, value) -> None:
        message = as_message(value)
        if message is not None:
            setattr(obj, self.message, message.to_json())
            setattr(obj, self.literal, "")
        else:
            setattr(obj, self.message, None)
            setattr(obj, self.literal, "" if value is None else str(value))

    def stored(self, obj):
        """The stored form: the message dict, or the literal text."""
        found = getattr(obj, self.message)
        return found if found is not None else getattr(obj, self.literal)
