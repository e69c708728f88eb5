"""Per-rule results: the stats store's totals turned into rates, lift and significance.

Shared by `shopwindow stats`, GET /_sw/stats and the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shopwindow.rules.rules import HOLDOUT, RuleSet
from shopwindow.stats.significance import Comparison, compare, enough_data, rate, wilson_interval
from shopwindow.stats.store import NO_SPLIT, Totals

NOT_ENOUGH = "not enough data yet"


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant of a rule (or its holdout) with its rates and, against the control, its lift."""

    totals: Totals
    is_control: bool
    conversion_rate: float
    conversion_low: float
    conversion_high: float
    click_rate: float
    revenue_per_visitor: float
    versus: Comparison | None
    verdict: str | None

    @property
    def variant(self) -> str:
        return self.totals.variant


@dataclass(frozen=True, slots=True)
class Experiment:
    rule: str
    placement: str | None  # None when the rule is no longer in the rules
    where: str | None
    control: str | None  # the control arm's variant, None when there is nothing to compare
    control_kind: str | None  # "holdout" or "first variant"
    arms: tuple[Arm, ...]
    enough_data: bool


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_visitors: int = 100
    confidence: float = 0.95


def build(
    totals: Sequence[Totals], rules: RuleSet | None, thresholds: Thresholds = Thresholds()
) -> list[Experiment]:
    """Group totals by rule, pick each rule's control and compare every variant with it."""
    by_rule: dict[str, list[Totals]] = {}
    for row in totals:
        by_rule.setdefault(row.rule, []).append(row)
    return [_experiment(rule_id, rows, rules, thresholds) for rule_id, rows in by_rule.items()]


def _experiment(
    rule_id: str, rows: list[Totals], rules: RuleSet | None, thresholds: Thresholds
) -> Experiment:
    rule = rules.rule(rule_id) if rules is not None else None
    placement, where = (rule.placement, rule.where) if rule is not None else origin(rules, rule_id)
    order = [HOLDOUT]
    if rule is not None and rule.split is not None:
        order += [v.name for v in rule.split.variants]
    rank = {name: i for i, name in enumerate(order)}
    rows = sorted(rows, key=lambda r: (rank.get(r.variant, len(rank)), r.variant))
    variants = [r.variant for r in rows]
    control: str | None = None
    kind: str | None = None
    if HOLDOUT in variants:
        control, kind = HOLDOUT, "holdout"
    elif len(rows) > 1:
        control, kind = rows[0].variant, "first variant"
    base = next((r for r in rows if r.variant == control), None)
    arms = []
    enough = base is not None and enough_data(
        base.converters, base.visitors, thresholds.min_visitors
    )
    for row in rows:
        arm = _arm(row, base, thresholds)
        if base is not None and row is not base:
            enough = enough and enough_data(row.converters, row.visitors, thresholds.min_visitors)
        arms.append(arm)
    return Experiment(
        rule=rule_id,
        placement=placement,
        where=where,
        control=control,
        control_kind=kind,
        arms=tuple(arms),
        enough_data=enough,
    )


def origin(rules: RuleSet | None, label: str) -> tuple[str | None, str | None]:
    """Where a label that names no rule comes from: a data file's entry (a post's `post.<id>`)."""
    if rules is not None:
        for data in rules.data.values():
            found = getattr(data, "origin", None)
            if callable(found) and (where := found(label)) is not None:
                placement, at = where
                return str(placement), str(at)
    return None, None


def _arm(row: Totals, base: Totals | None, thresholds: Thresholds) -> Arm:
    low, high = wilson_interval(row.converters, row.visitors, thresholds.confidence)
    versus = None
    verdict = None
    if base is row:
        verdict = "control"
    elif base is not None:
        versus = compare(
            base.converters, base.visitors, row.converters, row.visitors, thresholds.confidence
        )
        verdict = _verdict(base, row, versus, thresholds)
    return Arm(
        totals=row,
        is_control=base is row,
        conversion_rate=rate(row.converters, row.visitors),
        conversion_low=low,
        conversion_high=high,
        click_rate=rate(row.clickers, row.visitors),
        revenue_per_visitor=row.revenue / row.visitors if row.visitors else 0.0,
        versus=versus,
        verdict=verdict,
    )


def _verdict(base: Totals, row: Totals, versus: Comparison, thresholds: Thresholds) -> str:
    if not (
        enough_data(base.converters, base.visitors, thresholds.min_visitors)
        and enough_data(row.converters, row.visitors, thresholds.min_visitors)
    ):
        return NOT_ENOUGH
    if versus.p_value < 1 - thresholds.confidence:
        return "better than control" if versus.difference > 0 else "worse than control"
    return "no significant difference yet"


# --- output -------------------------------------------------------------------------


def to_json(
    experiments: Sequence[Experiment], thresholds: Thresholds, **about: Any
) -> dict[str, Any]:
    return {
        **about,
        "confidence": thresholds.confidence,
        "min_visitors": thresholds.min_visitors,
        "experiments": [_experiment_json(e) for e in experiments],
    }


def _experiment_json(e: Experiment) -> dict[str, Any]:
    return {
        "rule": e.rule,
        "placement": e.placement,
        "where": e.where,
        "control": e.control,
        "control_kind": e.control_kind,
        "enough_data": e.enough_data,
        "variants": [_arm_json(a) for a in e.arms],
    }


def _arm_json(a: Arm) -> dict[str, Any]:
    t = a.totals
    out: dict[str, Any] = {
        "variant": t.variant,
        "control": a.is_control,
        "exposures": t.exposures,
        "visitors": t.visitors,
        "clicks": t.clicks,
        "clickers": t.clickers,
        "click_rate": round(a.click_rate, 6),
        "conversions": t.converters,
        "orders": t.orders,
        "conversion_rate": round(a.conversion_rate, 6),
        "conversion_interval": [round(a.conversion_low, 6), round(a.conversion_high, 6)],
        "revenue": round(t.revenue, 2),
        "revenue_per_visitor": round(a.revenue_per_visitor, 4),
        "verdict": a.verdict,
    }
    if a.versus is not None:
        v = a.versus
        out["vs_control"] = {
            "difference": round(v.difference, 6),
            "difference_interval": [round(v.difference_low, 6), round(v.difference_high, 6)],
            "lift": _round(v.lift),
            "lift_interval": [_round(v.lift_low), _round(v.lift_high)],
            "z": round(v.z, 4),
            "p_value": round(v.p_value, 6),
            "probability_to_beat_control": round(v.beat_probability, 6),
        }
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


HEADER = (
    f"  {'variant':<12}{'visitors':>9}{'exposures':>10}{'clicks':>8}{'conversions':>12}"
    f"{'conv.rate':>10}{'revenue/visitor':>16}   lift vs control ({{level}} CI)"
    f"{'':>8}{'p-value':>8}{'P(beat)':>9}"
)


def to_text(experiments: Sequence[Experiment], thresholds: Thresholds) -> str:
    if not experiments:
        return "no exposures counted yet"
    level = f"{thresholds.confidence:.0%}"
    lines: list[str] = []
    for e in experiments:
        where = f"{e.placement}, {e.where}" if e.placement else "no longer in the rules"
        head = f"{e.rule}  ({where})"
        if e.control is not None:
            head += f"  control: {e.control}"
        lines.append(head)
        lines.append(HEADER.replace("{level}", level))
        for a in e.arms:
            lines.append(_arm_line(a))
        if e.control is not None and not e.enough_data:
            lines.append(
                f"  {NOT_ENOUGH}: each variant needs {thresholds.min_visitors} visitors"
                " and 5 conversions (and 5 visitors who did not convert)"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _arm_line(a: Arm) -> str:
    t = a.totals
    name = t.variant if t.variant != NO_SPLIT else "(all)"
    cells = (
        f"  {name:<12}{t.visitors:>9}{t.exposures:>10}{t.clicks:>8}{t.converters:>12}"
        f"{a.conversion_rate:>10.2%}{a.revenue_per_visitor:>16.2f}   "
    )
    if a.is_control:
        return cells + "control"
    v = a.versus
    if v is None:
        return cells.rstrip()
    if v.lift is None:
        lift = f"{v.difference:+.2%} points"
    else:
        lift = f"{v.lift:+.1%} ({_pct(v.lift_low)} to {_pct(v.lift_high)})"
    verdict = f"  {a.verdict}" if a.verdict else ""
    return cells + f"{lift:<32}{p_text(v.p_value):>8}{chance_text(v.beat_probability):>9}{verdict}"


def p_text(p: float) -> str:
    return "<0.0001" if p < 0.0001 else f"{p:.4f}"


def chance_text(probability: float) -> str:
    if probability > 0.999:
        return ">99.9%"
    if probability < 0.001:
        return "<0.1%"
    return f"{probability:.1%}"


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{x:+.1%}"
