"""The README's table of Douyin calls lists every contract fixture, with its path and status."""

from pathlib import Path

from .harness import all_fixture_names, load

README = Path(__file__).resolve().parents[2] / "README.md"


def _table_rows() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Every Douyin call, and the contract that pins it", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[3].startswith("`") and cells[3].endswith(".json`"):
            rows[cells[0]] = line
    return rows


def test_the_readme_lists_every_douyin_call_with_its_path_and_whether_a_reference_confirms_it():
    rows = _table_rows()
    assert sorted(rows) == all_fixture_names()
    for name, row in rows.items():
        fixture = load(name)
        assert f"`{fixture['request']['path']}`" in row, name
        assert ("**unconfirmed**" in row) == (fixture["status"] == "unconfirmed"), name
        for source in fixture.get("sources", [])[:1]:
            if fixture["status"] == "confirmed":
                assert source["commit"][:7] in row, name
