"""The portal reaches Douyin only on the platform's own paths: nothing in its code, templates or
scripts names a sandbox-only `/sandbox/` or `/console/` path (DESIGN.md, "Douyin, inbound and outbound")."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ONLY = re.compile(r"/(sandbox|console)/")


def test_the_portal_never_names_a_sandbox_only_path():
    # `flask run` (portal/cli.py) starts the demo's sandbox and prints its console's address for a
    # person to open; it calls nothing there.
    files = [*(p for p in ROOT.joinpath("portal").rglob("*.py") if p.name != "cli.py"),
             *ROOT.joinpath("templates").rglob("*.html"), *ROOT.joinpath("static", "js").rglob("*.js")]
    assert len(files) > 50, "the scan found the portal's files"
    named = [f"{path.relative_to(ROOT)}:{n}" for path in files
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if SANDBOX_ONLY.search(line)]
    assert named == []
