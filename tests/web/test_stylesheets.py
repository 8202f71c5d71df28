"""Every stylesheet the product serves closes each rule it opens.

One unclosed ``{`` makes the browser read every later rule as nested inside it, so the desk, the
admin and the knowledge editor silently lost their layout after a merge cut two rules short."""

import re
from pathlib import Path

import pytest

import centralita

STYLESHEETS = sorted(Path(centralita.__file__).parent.rglob("*.css"))
COMMENTS_AND_STRINGS = re.compile(r"/\*.*?\*/|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", re.DOTALL)


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda p: p.name)
def test_every_rule_is_closed(path: Path) -> None:
    depth = 0
    for number, line in enumerate(COMMENTS_AND_STRINGS.sub("", path.read_text()).splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"{path.name}:{number} closes a rule that was never opened"
    assert depth == 0, f"{path.name} leaves {depth} rule(s) open"


def test_there_are_stylesheets_to_check() -> None:
    assert {p.name for p in STYLESHEETS} >= {"centralita.css", "client.css", "help.css"}
