"""docs/security.md stays true: every test it names exists, every threat names some, every limit is a setting."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shopwindow.settings import BY_NAME, PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def sections() -> dict[str, str]:
    found: dict[str, str] = {}
    title = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            title = line[3:]
            found[title] = ""
        elif title:
            found[title] += line + "\n"
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) > 60
    missing = [
        f"{file}::{name}"
        for file, name in references
        if not (PROJECT_ROOT / file).is_file() or name not in defined_tests(PROJECT_ROOT / file)
    ]
    assert missing == []


def test_every_threat_names_the_tests_that_cover_it() -> None:
    threats = [
        title
        for title in sections()
        if title not in ("Who and what we defend against", "What is not covered here")
    ]
    assert len(threats) >= 6
    for title in threats:
        assert REFERENCE.search(sections()[title]), title


def test_every_threat_in_the_table_has_its_section() -> None:
    table = sections()["Who and what we defend against"]
    for anchor in re.findall(r"\]\(#([\w-]+)\)", table):
        titles = {re.sub(r"[^\w -]", "", t).lower().replace(" ", "-") for t in sections()}
        assert anchor in titles, anchor


def test_every_limit_in_the_table_is_a_setting_with_that_default() -> None:
    rows = re.findall(r"\| `(\w+)` \(([\d.]+)\)", DOC.read_text())
    assert len(rows) >= 7
    for name, default in rows:
        assert name in BY_NAME, name
        assert float(BY_NAME[name].default) == float(default), name
