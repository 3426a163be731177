"""English is selectable everywhere: every UI string in the code and templates has a translation."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def test_every_ui_string_has_an_english_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-c", "from babel.messages.frontend import main; main()", "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(pot), "--no-location", "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {message.id for message in read_po(handle) if message.id}
    with (ROOT / "portal/translations/en/LC_MESSAGES/messages.po").open("rb") as handle:
        translated = {message.id for message in read_po(handle) if message.id and message.string}
    missing = sorted(str(m) for m in wanted - translated)
    assert missing == [], f"{len(missing)} strings without English, e.g. {missing[:5]}"


def test_translations_keep_their_placeholders():
    import re

    with (ROOT / "portal/translations/en/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    pattern = re.compile(r"%\((\w+)\)s")
    wrong = [m.id for m in catalog if m.id and m.string and set(pattern.findall(m.id)) != set(pattern.findall(m.string))]
    assert wrong == []


def _render(app, source, lang=None, **context):
    from flask import render_template

    with app.test_request_context("/", query_string={"lang": lang} if lang else None):
        return render_template(app.jinja_env.from_string(source), **context)


def test_template_gettext_escapes_placeholders_not_the_label(app):
    html = _render(app, "{{ _('共 %(n)s 个商品', n=name) }}", name="<b>&")
    assert html == "共 &lt;b&gt;&amp; 个商品"


def test_template_gettext_translates_per_request_language(app):
    source = "{{ _('共 %(n)s 个商品', n=3) }}|{{ _('商品库') }}"
    assert _render(app, source) == "共 3 个商品|商品库"
    assert _render(app, source, lang="en") == "3 products|Product library"
    assert _render(app, source) == "共 3 个商品|商品库"


def test_an_imported_macro_speaks_each_requests_language(app):
    """Jinja keeps an imported template's module for the process: its labels must not keep the
    language of the first request that used it."""
    from types import SimpleNamespace

    source = '{% from "redemption/_outcome.html" import outcome %}{{ outcome(a, {}) }}'
    attempt = SimpleNamespace(outcome="success", reason="")
    assert "核销成功" in _render(app, source, a=attempt)
    assert "Redeemed" in _render(app, source, lang="en", a=attempt)
    assert "核销成功" in _render(app, source, a=attempt)


def test_template_gettext_keeps_new_style_percent_signs(app):
    assert _render(app, "{{ _('100%%') }}") == "100%"
    assert _render(app, "{{ _('%(p)s%%', p=5) }}") == "5%"


def test_gettext_and_lazy_strings_follow_the_request_language(app):
    from portal.i18n import gettext, lazy_gettext

    label = lazy_gettext("共 %(n)s 个商品", n=2)
    with app.test_request_context("/"):
        assert gettext("商品库") == "商品库" and str(label) == "共 2 个商品"
    with app.test_request_context("/", query_string={"lang": "en"}):
        assert gettext("商品库") == "Product library" and str(label) == "2 products"
        assert gettext("共 %(n)s 个商品", n="<b>") == "<b> products"  # plain text: escaping is the template's


def test_gettext_outside_an_app_fills_placeholders_untranslated():
    from portal.i18n import gettext

    assert gettext("共 %(n)s 个商品", n=3) == "共 3 个商品"


def test_form_validator_messages_follow_the_request_language(app):
    """WTForms' own messages come from its catalog in the request's language."""
    from wtforms import StringField
    from wtforms.validators import DataRequired

    from portal.forms import Form

    class Probe(Form):
        class Meta:
            csrf = False

        name = StringField(validators=[DataRequired()])

    errors = []
    for lang in (None, "en", None):
        with app.test_request_context("/", method="POST", data={}, query_string={"lang": lang} if lang else None):
            form = Probe()
            assert not form.validate()
            errors.append(form.name.errors[0])
    assert errors[1] == "This field is required."
    assert errors[0] == errors[2] == "该字段是必填字段。"
