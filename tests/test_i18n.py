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
