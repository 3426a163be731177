"""Language: Simplified Chinese is the source language; English comes from a compiled catalog.

The catalog (`portal/translations/en/LC_MESSAGES/messages.po`) is compiled into the instance
folder when it is newer than the compiled copy, so no build step is needed before running.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request
from flask_login import current_user

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


def init_app(app: Flask, babel) -> None:
    directory = compile_catalogs(Path(app.instance_path) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale

    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["get_locale"] = get_locale
