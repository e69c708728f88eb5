"""The rule index never changes the answer: indexed first match == plain top-to-bottom scan."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.rules.rules import Index, Placement, compile_rules
from shopwindow.rules.thenspec import SPECS, CheckEnv
from shopwindow.rules.yamlsrc import parse

COUNTRIES = ["DE", "AT", "FR", "US"]
DEVICES = ["mobile", "desktop"]
CHANNELS = ["social", "email", "direct"]

condition = st.fixed_dictionaries(
    {},
    optional={
        "country": st.sampled_from(COUNTRIES)
        | st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True),
        "device": st.sampled_from(DEVICES),
        "channel": st.sampled_from(CHANNELS)
        | st.fixed_dictionaries({"not": st.sampled_from(CHANNELS)}),
        "visitor.orders": st.integers(0, 2) | st.fixed_dictionaries({"gte": st.integers(0, 2)}),
    },
)
rule_sets = st.lists(st.tuples(condition, st.integers(-1, 1)), min_size=1, max_size=60)
contexts = st.fixed_dictionaries(
    {
        "country": st.sampled_from([*COUNTRIES, "GB"]),
        "device": st.sampled_from(DEVICES),
        "channel": st.sampled_from(CHANNELS),
        "visitor.orders": st.integers(0, 3),
    }
)


def compile_placement(spec: list[tuple[dict[str, Any], int]]) -> Placement:
    rules = [
        {"id": f"r{i}", "when": when, "priority": prio, "then": {"path": f"/{i}/"}}
        for i, (when, prio) in enumerate(spec)
    ]
    node, errors = parse(yaml.safe_dump(rules), "t.yaml")
    assert not errors
    compiled, errors = compile_rules(
        node, placement=SPECS["homepage"], timezone=UTC, env=CheckEnv()
    )
    assert not errors, errors
    return Placement.build("homepage", compiled)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rule_sets, st.lists(contexts, min_size=1, max_size=10))
def test_index_agrees_with_scan(
    spec: list[tuple[dict[str, Any], int]], ctxs: list[dict[str, Any]]
) -> None:
    placement = compile_placement(spec)
    scan = Placement("homepage", placement.rules, placement.rules)
    for ctx in ctxs:
        assert placement.decide(ctx).rule == scan.decide(ctx).rule


def test_large_rule_sets_are_indexed() -> None:
    spec = [({"country": COUNTRIES[i % 4], "device": DEVICES[i % 2]}, 0) for i in range(200)]
    placement = compile_placement(spec)
    assert isinstance(placement.index, Index)
    ctx = {"country": "FR", "device": "mobile"}
    assert len(placement.candidates(ctx)) < 60
    assert placement.decide(ctx).rule is not None
    assert placement.decide(ctx).rule.id == "r2"  # type: ignore[union-attr]


def test_priority_beats_file_order() -> None:
    placement = compile_placement([({"country": "DE"}, 0), ({"country": "DE"}, 1)])
    assert placement.decide({"country": "DE"}).rule.id == "r1"  # type: ignore[union-attr]


def test_unhashable_context_value_falls_back_safely() -> None:
    spec = [({"country": COUNTRIES[i % 4]}, 0) for i in range(40)] + [({}, 0)]
    placement = compile_placement(spec)
    assert placement.decide({"country": ["DE"]}).rule.id == "r40"  # type: ignore[union-attr]
