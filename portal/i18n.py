"""Language: Simplified Chinese is the source language; English comes from a compiled catalog.

The catalog (`portal/translations/en/LC_MESSAGES/messages.po`) is compiled into the instance
folder when it is newer than the compiled copy, so no build step is needed before running.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2 import pass_eval_context
from markupsafe import Markup

SOURCE = Path(__file__).parent / "translations"
LOCALES = {"zh_Hans": "简体中文", "en": "English"}


def compile_catalogs(target: Path) -> Path:
    for po_path in SOURCE.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(SOURCE).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        tmp = mo_path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            write_mo(handle, catalog)
        tmp.replace(mo_path)
    return target


def select_locale() -> str:
    # Jobs and the CLI render in the default language; only a request knows its user.
    if not has_request_context():
        return "zh_Hans"
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    wanted = request.args.get("lang") or request.cookies.get("lang")
    return wanted if wanted in LOCALES else "zh_Hans"


# Translated strings, per language: a catalog does not change while the process runs. Looking a
# string up through flask-babel costs tens of microseconds (the language, the domain and the
# catalog are found again at every call); a page shows dozens.
_TEXTS: dict[str, dict[str, str]] = {}


def gettext(message: str, **variables) -> str:
    """flask_babel.gettext, from a per-language memo: the message in the request's language,
    `%(name)s` placeholders filled from `variables`."""
    if not has_app_context():
        return message % variables if variables else message
    memo = g.get("_texts")
    if memo is None:
        memo = g._texts = _TEXTS.setdefault(str(get_locale()), {})
    try:
        text = memo[message]
    except KeyError:
        text = memo[message] = get_translations().ugettext(message)
    return text % variables if variables else text


def lazy_gettext(message: str, **variables) -> LazyString:
    """A string translated when it is shown (module-level labels, form labels)."""
    return LazyString(gettext, message, **variables)


_PER_LANGUAGE: dict[tuple[str, str], object] = {}


def once_per_language(name: str, build):
    """`build()`'s result for the request's language, built once per language and process: for
    translated labels that are the same for every request in a language."""
    key = (name, str(get_locale()))
    found = _PER_LANGUAGE.get(key)
    if found is None:
        found = _PER_LANGUAGE[key] = build()
    return found


# The same, ready to output in templates.
_TRANSLATED: dict[str, dict[str, Markup]] = {}


def _translated() -> dict[str, Markup]:
    """The memo of this request's language, looked up once per request. Not kept on the template's
    context: Jinja keeps an imported template's module, macros and context included, for the
    process, so a macro's labels would stay in the language of the first page that imported it."""
    memo = g.get("_translated")
    if memo is None:
        memo = g._translated = _TRANSLATED.setdefault(str(get_locale()), {})
    return memo


@pass_eval_context
def template_gettext(eval_ctx, message: str, **variables):
    """`_()` in templates, as Jinja's new-style gettext (escaped placeholders, `%%` for a percent
    sign) without its three nested context calls and flask-babel's per-call lookups of the
    language and catalog: a page has dozens of labels, and each cost tens of microseconds."""
    memo = _translated()
    try:
        text = memo[message]
    except KeyError:
        text = memo[message] = Markup(get_translations().ugettext(message))
    if not eval_ctx.autoescape:
        text = str(text)
    return text % variables if variables or "%" in text else text


@pass_eval_context
def template_ngettext(eval_ctx, singular: str, plural: str, num: int, **variables):
    text = get_translations().ungettext(singular, plural, num)
    if eval_ctx.autoescape:
        text = Markup(text)
    variables.setdefault("num", num)
    return text % variables


def init_app(app: Flask, babel) -> None:
    directory = compile_catalogs(Path(app.instance_path) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=template_ngettext)
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["get_locale"] = get_locale
