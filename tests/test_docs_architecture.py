"""docs/architecture.md stays true: every module, function and hook it names exists."""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any

from shopwindow.hooks import Hooks
from shopwindow.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "architecture.md"
NAME = re.compile(r"`(shopwindow(?:\.\w+)+)`")
STEP = re.compile(r"^\d+\. ", re.M)


def resolve(dotted: str) -> Any:
    """The module, or the attribute reached from the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)  # AttributeError: the page names what is not there
        return found
    raise ModuleNotFoundError(dotted)


def section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_name_on_the_page_exists() -> None:
    names = sorted(set(NAME.findall(DOC.read_text())))
    assert len(names) > 40
    missing = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, missing


def test_both_requests_are_traced_step_by_step() -> None:
    for title in ("`GET /`", "`GET /_sw/popup`"):
        steps = STEP.findall(section(title))
        assert len(steps) >= 5, title
        assert "shopwindow.serve.entry.ShopApp.__call__" in section(title), title


def test_the_hooks_table_lists_every_hook_and_only_hooks() -> None:
    rows = re.findall(r"^\| `(\w+)` \|", section("Hooks"), re.M)
    assert sorted(rows) == sorted(f.name for f in dataclasses.fields(Hooks))


def test_the_resolver_refuses_a_name_that_is_not_there() -> None:
    for name in ("shopwindow.app.no_such_function", "shopwindow.no_such_module"):
        try:
            resolve(name)
        except (ImportError, AttributeError):
            continue
        raise AssertionError(name)
