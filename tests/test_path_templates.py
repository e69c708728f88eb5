"""`then.path` templates are split once, when the rule is compiled, and filled per visit."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shopwindow.rules import pathtemplate
from shopwindow.rules.pathtemplate import PathTemplate, fill_path
from shopwindow.shop import Shop


def test_a_homepage_rule_carries_its_path_compiled(make_settings: Any) -> None:
    shop = Shop(make_settings())
    assert shop.load() == []
    assert shop.snapshot is not None
    rules = shop.snapshot.rules.placement("homepage").rules
    paths = [r.then["path"] for r in rules if "path" in r.then]
    assert paths and all(isinstance(p, PathTemplate) for p in paths)
    variants = [v for r in rules if r.split for v in r.split.variants if "path" in v.then]
    assert all(isinstance(v.then["path"], PathTemplate) for v in variants)


def test_a_compiled_template_is_not_split_again(monkeypatch: pytest.MonkeyPatch) -> None:
    template = PathTemplate("/{country}/{gender}/")

    def split_again(text: str) -> Any:
        raise AssertionError("split per request")

    monkeypatch.setattr(pathtemplate, "path_parts", split_again)
    ctx = {"country": "DE", "visitor.gender": "women"}
    assert fill_path(template, ctx) == "/de/women/"
    assert fill_path(template, {"country": "DE"}) is None


def test_a_compiled_template_reads_as_its_text() -> None:
    template = PathTemplate("/{country}/sale/")
    assert template == "/{country}/sale/"
    assert orjson.loads(orjson.dumps({"path": template})) == {"path": "/{country}/sale/"}
    assert fill_path("/{country}/sale/", {"country": "AT"}) == "/at/sale/"


def test_why_names_the_first_failing_condition_and_the_value_it_read(make_settings: Any) -> None:
    """Placement.why: what `shopwindow explain` and the decision log both report."""
    shop = Shop(make_settings())
    assert shop.load() == []
    assert shop.snapshot is not None
    placement = shop.snapshot.rules.placement("homepage")
    ctx = {"country": "DE", "device": "mobile", "visitor.sessions": 1, "path": "/"}
    answers = list(placement.why(ctx))
    assert [w.rule for w in answers] == list(placement.rules)
    missed = [w for w in answers if not w.matched]
    assert missed, "the demo's homepage rules all matched an almost empty context"
    for why in answers:
        tests = [c.test(ctx) for c in why.rule.conditions]
        if why.failed is None:
            assert all(tests)
        else:
            first = tests.index(False)
            assert why.failed is why.rule.conditions[first]
            assert why.actual == why.failed.value(ctx)
    # Given rules only (the decision log passes the index's candidates): those, in that order.
    some = placement.rules[:2]
    assert [w.rule for w in placement.why(ctx, some)] == list(some)
