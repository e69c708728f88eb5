"""Bucketing, schedules (time zones, DST) and popup caps, pinned by tables of cases in tests/cases/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopwindow.rules.rules import HOLDOUT, Caps, Split, Variant, bucket_of
from shopwindow.rules.schedule import compile_schedule
from shopwindow.rules.yamlsrc import parse
from shopwindow.visitor.cookie import Visitor
from shopwindow.visitor.events import record_popup
from shopwindow.visitor.popupcaps import PopupLimits, rule_allows, shop_allows

CASES = Path(__file__).parent / "cases"
BUCKETING = yaml.safe_load((CASES / "bucketing.yaml").read_text())
SCHEDULES = yaml.safe_load((CASES / "schedules.yaml").read_text())
POPUP_CAPS = yaml.safe_load((CASES / "popup_caps.yaml").read_text())
NOW = 20600 * 86400 + 12 * 3600  # day 20600, noon UTC


@pytest.mark.parametrize(("seed", "visitor_id", "bucket"), BUCKETING["buckets"])
def test_bucket(seed: str, visitor_id: str, bucket: int) -> None:
    assert bucket_of(seed, visitor_id) == bucket


@pytest.mark.parametrize(
    ("name", "seed", "weights", "holdout", "visitor_id", "remembered", "expected"),
    BUCKETING["splits"],
    ids=[c[0] for c in BUCKETING["splits"]],
)
def test_split(
    name: str,
    seed: str,
    weights: dict[str, float],
    holdout: float,
    visitor_id: str,
    remembered: str | None,
    expected: str,
) -> None:
    split = Split.build(seed, [Variant(n, w, {}) for n, w in weights.items()], holdout)
    sticky = HOLDOUT if remembered == "holdout" else remembered
    variant = split.assign(visitor_id, sticky)
    assert (variant.name if variant is not None else "holdout") == expected


@pytest.mark.parametrize(
    ("name", "block", "moment", "expected"), SCHEDULES, ids=[c[0] for c in SCHEDULES]
)
def test_schedule(name: str, block: dict[str, Any], moment: str, expected: bool) -> None:
    node, errors = parse(yaml.safe_dump({"schedule": block}), "case.yaml")
    assert not errors and node is not None
    schedule = compile_schedule(node.get("schedule"), UTC)  # type: ignore[arg-type]
    assert schedule.active(datetime.fromisoformat(moment)) is expected


@pytest.mark.parametrize(
    ("name", "caps", "limits", "record", "rule_ok", "shop_ok"),
    POPUP_CAPS,
    ids=[c[0] for c in POPUP_CAPS],
)
def test_popup_caps(
    name: str,
    caps: dict[str, Any],
    limits: dict[str, int],
    record: dict[str, list[int]],
    rule_ok: bool,
    shop_ok: bool,
) -> None:
    visitor = Visitor.fresh(NOW)
    visitor.sessions = 3
    visitor.popups = {key: list(entry) for key, entry in record.items()}
    assert rule_allows(Caps(**caps), visitor, "r", NOW) is rule_ok
    assert shop_allows(PopupLimits(**limits), visitor, NOW) is shop_ok


def test_a_recorded_show_counts_against_the_caps() -> None:
    visitor = Visitor.fresh(NOW)
    visitor.sessions = 3
    assert rule_allows(Caps(per_session=1), visitor, "r", NOW)
    record_popup(visitor, "r", "popup_shown", NOW)
    assert not rule_allows(Caps(per_session=1), visitor, "r", NOW)


def test_the_tables_are_large() -> None:
    assert len(BUCKETING["splits"]) >= 10 and len(SCHEDULES) >= 15 and len(POPUP_CAPS) >= 10
    assert sum("DST" in case[0] for case in SCHEDULES) >= 6
