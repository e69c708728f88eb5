"""A marketer's broken, huge or slow rule file: an error with file:line:column, never a stall."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from shopwindow.rules import conditions, yamlsrc
from shopwindow.rules.contextkeys import KEYS
from shopwindow.shop import Shop
from tests.conftest import build_settings

POSITION = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+):(?P<column>\d+): \S")


def check(rules: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopwindow", "check", str(rules)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def alias_bomb(levels: int) -> str:
    """Each level repeats the one before nine times: 9**levels values from a few lines."""
    lines = ["- id: bomb", "  then:", "    path: /x/", "  when:", "    visitor.searches:"]
    lines.append("      any: &l0 [a, a, a, a, a, a, a, a, a]")
    for n in range(1, levels):
        refs = ", ".join([f"*l{n - 1}"] * 9)
        lines.append(f"    x{n}: &l{n} [{refs}]")
    return "\n".join(lines) + "\n"


# --- bugs ----------------------------------------------------------------------------


def test_recursive_yaml_alias_is_a_rule_error_not_a_crash(rules_dir: Path) -> None:
    """An alias inside its own anchor used to raise RecursionError: a traceback, no position."""
    (rules_dir / "homepage.yaml").write_text("- id: loop\n  then: &a\n    path: [*a]\n")
    result = check(rules_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "homepage.yaml:2:9: this anchored value contains an alias to itself" in result.stdout


def test_deeply_nested_yaml_is_a_rule_error_not_a_crash(rules_dir: Path) -> None:
    """Nesting a few hundred levels deep used to exhaust Python's recursion limit."""
    depth = 600
    (rules_dir / "homepage.yaml").write_text("- id: deep\n  then: " + "[" * depth + "]" * depth)
    result = check(rules_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert f"values nested more than {yamlsrc.MAX_DEPTH} levels deep" in result.stdout
    assert POSITION.match(result.stdout.splitlines()[0]), result.stdout


def test_yaml_alias_bomb_is_refused_before_it_is_expanded(rules_dir: Path) -> None:
    """Ten lines standing for 9**9 values used to be walked value by value (hours, gigabytes)."""
    bomb = alias_bomb(9)
    (rules_dir / "homepage.yaml").write_text(bomb)
    result = check(rules_dir)  # finishes: the walk stops after MAX_VALUES values
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    most = yamlsrc.MAX_VALUES + len(bomb) // 2  # what the file could hold written out
    assert f"stands for more than {most:,} values (aliases repeat" in result.stdout
    assert POSITION.match(result.stdout.splitlines()[0]), result.stdout


def test_a_running_shop_reports_a_bomb_and_keeps_its_rules(rules_dir: Path) -> None:
    shop = Shop(build_settings(rules_dir))
    assert shop.load() == []
    before = shop.snapshot
    assert before is not None
    (rules_dir / "popups.yaml").write_text(alias_bomb(9))
    assert shop.reload_if_changed() is False
    after = shop.snapshot
    assert after is not None and after.rules is before.rules
    assert any("popups.yaml:" in str(e) and "values" in str(e) for e in after.pending_errors)


def test_small_aliases_still_work(rules_dir: Path) -> None:
    (rules_dir / "homepage.yaml").write_text(
        "- id: de\n  when: {country: &de [DE, AT]}\n  then: {path: /de/}\n"
        "- id: de-mobile\n  when: {country: *de, device: mobile}\n  then: {path: /m/}\n"
    )
    result = check(rules_dir)
    assert result.returncode == 0, result.stdout


# --- a slow `matches` cannot stall a worker --------------------------------------------


def test_matches_reads_a_bounded_prefix_of_huge_text() -> None:
    """re2 is linear in the text; the text is cut to MAX_MATCH_CHARS, so each test is bounded."""
    node, errors = yamlsrc.parse("- {matches: 'tail$'}\n", "x.yaml")
    assert node is not None and not errors
    test, _text, _ = conditions._compile_matches("path", "text", node.items[0].get("matches"))
    limit = conditions.MAX_MATCH_CHARS
    assert test("/" + "a" * (limit - 6) + "tail")  # within the bound: seen
    assert not test("/" + "a" * (limit * 100) + "tail")  # beyond it: never read
    list_test, _t, _ = conditions._compile_matches(
        "visitor.searches", "list", node.items[0].get("matches")
    )
    assert not list_test(["x" * (limit * 100) + "tail"])


def test_hostile_pattern_against_a_huge_path_answers(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    (rules_dir / "landing-pages.yaml").write_text(
        "- id: nested\n  when: {path: {matches: '(a+)+(b+)+(c+)+$'}}\n  then: {headline: Nested}\n"
    )
    client = make_client()
    response = client.get("/lp/" + "a" * 6000 + "c")
    assert response.status_code < 500
    assert response.headers.get("x-shopwindow-rules") is None  # the cut text has no 'b'


# --- fuzzed rule files ---------------------------------------------------------------

CONTEXT_KEYS = sorted(KEYS)
OPERATORS = [*conditions.OPERATORS, "eq", "between"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["DE", "mobile", "/de/", "(a+)+$", "[", "women", "{search}"]),
)
values: Any = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(OPERATORS), inner, max_size=2)
    ),
    max_leaves=6,
)
rules_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.one_of(st.text(max_size=8), st.integers(), st.none()),
            "when": st.dictionaries(st.sampled_from(CONTEXT_KEYS), values, max_size=3),
            "then": st.dictionaries(
                st.sampled_from(["path", "headline", "hero", "title", "popup", "redirect", "x"]),
                values,
                max_size=3,
            ),
        },
        optional={
            "split": values,
            "schedule": values,
            "caps": values,
            "priority": values,
        },
    ),
    max_size=4,
)
PLACEMENT_FILES = ["homepage.yaml", "landing-pages.yaml", "popups.yaml", "out-of-stock.yaml"]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    file=st.sampled_from(PLACEMENT_FILES),
    rules=rules_strategy,
    garbage=st.one_of(st.none(), st.text(max_size=200)),
)
def test_any_rule_file_is_rules_or_positioned_errors(
    rules_dir: Path, file: str, rules: list[Any], garbage: str | None
) -> None:
    text = garbage if garbage is not None else yaml.safe_dump(rules, allow_unicode=True)
    (rules_dir / file).write_text(text)
    settings_ = build_settings(rules_dir)
    shop = Shop(settings_)
    errors = shop.load()  # never raises
    lines = max(1, text.count("\n") + 1)
    for error in errors:
        found = POSITION.match(error)
        assert found, error
        if found["file"].endswith(file):
            assert 1 <= int(found["line"]) <= lines + 1, (error, text)


@pytest.mark.parametrize("placement", PLACEMENT_FILES)
def test_binary_and_odd_encodings_are_positioned_errors(rules_dir: Path, placement: str) -> None:
    (rules_dir / placement).write_bytes(b"\xff\xfe- id: x\n\x00\x01then: {}\n")
    errors = Shop(build_settings(rules_dir)).load()
    assert errors and all(POSITION.match(e) for e in errors), errors
