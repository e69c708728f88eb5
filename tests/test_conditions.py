"""The rule language's conditions, pinned by a table of cases (tests/cases/conditions.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopwindow.rules.conditions import CompileError, Options, all_of, compile_when
from shopwindow.rules.yamlsrc import parse

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "conditions.yaml").read_text())


def _compile(when: Any) -> Any:
    node, errors = parse(yaml.safe_dump({"when": when}, sort_keys=False), "case.yaml")
    assert not errors and node is not None
    conditions = compile_when(node.get("when"), Options(UTC))
    return all_of([c.test for c in conditions])


def _context(raw: dict[str, Any]) -> dict[str, Any]:
    ctx = dict(raw)
    if isinstance(ctx.get("time"), str):
        ctx["time"] = datetime.fromisoformat(ctx["time"])
    return ctx


@pytest.mark.parametrize(("name", "when", "context", "expected"), CASES, ids=[c[0] for c in CASES])
def test_condition_case(name: str, when: Any, context: dict[str, Any], expected: Any) -> None:
    if isinstance(expected, str) and expected.startswith("error: "):
        expected = [expected]
    if isinstance(expected, list):
        # Every error of the block, in order: not only the first.
        with pytest.raises(CompileError) as info:
            _compile(when)
        messages = [e.message for e in info.value.errors]
        assert len(messages) == len(expected), messages
        for want, got in zip(expected, messages, strict=True):
            assert want.removeprefix("error: ") in got
        return
    assert _compile(when)(_context(context)) is expected


def test_case_table_is_large_and_covers_every_operator() -> None:
    from shopwindow.rules.conditions import OPERATORS

    text = (Path(__file__).parent / "cases" / "conditions.yaml").read_text()
    assert len(CASES) >= 70
    for op in OPERATORS:
        assert f"{op}:" in text, op


def test_error_points_at_the_offending_node() -> None:
    source = "when:\n  country: DE\n  cart.value: {gtee: 5}\n"
    node, _ = parse(source, "r.yaml")
    assert node is not None
    with pytest.raises(CompileError) as info:
        compile_when(node.get("when"), Options(UTC))
    err = info.value.error
    assert (err.file, err.line, err.column) == ("r.yaml", 3, 16)


def test_a_key_takes_more_vocabularies_without_losing_its_own() -> None:
    """How a check is added to a key (a shop's markets narrowing `country`, say)."""
    from shopwindow.rules.vocabulary import FIXED, Vocabulary

    markets = Vocabulary("country of a market", frozenset({"DE", "AT"}))
    known = {**FIXED, "country": (*FIXED["country"], markets)}
    node, _ = parse(yaml.safe_dump({"when": {"country": ["AT", "FR", "XY"]}}), "m.yaml")
    assert node is not None
    with pytest.raises(CompileError) as info:
        compile_when(node.get("when"), Options(UTC, known))
    messages = [e.message for e in info.value.errors]
    assert messages == [
        "'country': 'FR' is not a known country of a market (AT, DE)",
        "'country': 'XY' is not a known ISO 3166-1 alpha-2 country code",
    ]
    with pytest.raises(CompileError) as without:
        compile_when(node.get("when"), Options(UTC))
    assert [e.message for e in without.value.errors] == messages[1:]
