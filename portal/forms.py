"""The base of the portal's forms: Flask-WTF's (CSRF), with WTForms' own messages ("该字段是必填字段。"
and the like) in the request's language from a per-language memo; and `options`, the choices of a
select field.

Flask-WTF reads WTForms' catalog from disk at the first message of every request; the catalog
does not change while the process runs."""

from __future__ import annotations

from babel import support
from flask_wtf import FlaskForm
from wtforms import SelectChoice
from wtforms.i18n import messages_path

from portal.i18n import once_per_language


def _catalog():
    from flask_babel import get_locale

    return support.Translations.load(messages_path(), [get_locale()], domain="wtforms")


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return once_per_language("wtforms", _catalog)


def options(pairs) -> list[SelectChoice]:
    """A select field's choices from (value, label) pairs. WTForms 3.3 deprecates tuples as
    choices and 3.4 removes them."""
    return [SelectChoice(value, label) for value, label in pairs]
