"""The benchmarks import the portal inside their functions (after their settings are in the
environment), so a renamed or removed name only shows when someone runs them. Every
`from portal... import name` and `from bench... import name` in bench/ must resolve."""

import ast
import importlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _imports():
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("portal", "bench"):
                for alias in node.names:
                    yield path.name, node.module, alias.name


def test_every_name_the_benchmarks_import_exists():
    found = list(_imports())
    assert len(found) > 20  # the walk does see the function-level imports
    missing = []
    for filename, module, name in found:
        target = importlib.import_module(module)
        if not hasattr(target, name):
            try:
                importlib.import_module(f"{module}.{name}")  # a submodule: from portal import jobs
            except ModuleNotFoundError:
                missing.append(f"{filename}: from {module} import {name}")
    assert not missing, missing
