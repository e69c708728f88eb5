"""The decision log: for sampled visitors, what decided each answer and the context it read.

Sampling is by visitor, not by request: a sampled visitor has every answer
traced, so "why did this shopper get this popup" has a whole story or none.
An answer repeated within REPEAT_SECONDS (the same rules for the same path) is
traced once: a page reloaded in a loop, or a client hammering one URL, cannot
push every other shopper's traces out of the log, or cost a trace each time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lru import LRU

from shopwindow.rules.rules import BUCKETS, HOLDOUT, Rule, RuleSet, bucket_of
from shopwindow.stats.store import Trace

SAMPLE_SEED = "decision-log"
MAX_TEXT = 200
MAX_ITEMS = 20
MAX_PASSED_OVER = 20
MAX_REMEMBERED = 16_384  # visitors (and their answers) remembered for sampling and repeats
REPEAT_SECONDS = 10.0  # the same answer to the same visitor is traced once in this time


class DecisionLog:
    """Builds traces from answers; `sampled` is cheap enough to ask on every answer."""

    def __init__(self, rate: float) -> None:
        self.threshold = round(min(1.0, max(0.0, rate)) * BUCKETS)
        self._rules: RuleSet | None = None
        self._by_id: dict[str, Rule] = {}
        self._keys: dict[str, list[str]] = {}
        self._sampled: LRU[str, bool] = LRU(MAX_REMEMBERED)
        self._traced: LRU[tuple[str, str, tuple[str, ...]], float] = LRU(MAX_REMEMBERED)

    def sampled(self, visitor_id: str) -> bool:
        if self.threshold <= 0:
            return False
        if self.threshold >= BUCKETS:
            return True
        found = self._sampled.get(visitor_id)
        if found is None:
            found = self._sampled[visitor_id] = bucket_of(SAMPLE_SEED, visitor_id) < self.threshold
        return found

    def repeated(self, visitor_id: str, path: str, labels: tuple[str, ...], at: float) -> bool:
        """Whether this answer was traced for this visitor less than REPEAT_SECONDS ago."""
        key = (visitor_id, path, labels)
        last = self._traced.get(key)
        if last is not None and 0 <= at - last < REPEAT_SECONDS:
            return True
        self._traced[key] = at
        return False

    def trace(
        self,
        rules: RuleSet,
        ctx: Mapping[str, Any],
        visitor: str,
        labels: Sequence[str],
        at: float | None = None,
    ) -> Trace:
        """The deciding rules with the context keys their conditions read, and why
        the rules tried before them did not decide."""
        by_id = self._index(rules)
        read: dict[str, Any] = {}
        placement = ""
        winner: Rule | None = None
        for label in labels:
            rule_id, _, variant = label.partition(":")
            rule = by_id.get(rule_id)
            if rule is None:
                read[rule_id] = {"variant": variant or None, "note": "no longer in the rules"}
                continue
            placement = rule.placement
            if variant != HOLDOUT:
                winner = rule
            read[rule_id] = {
                "variant": variant or None,
                "where": rule.where,
                "read": {key: plain(ctx.get(key)) for key in self._keys[rule.id]},
            }
        if winner is not None:
            passed = _passed_over(rules, winner, ctx)
            if passed:
                read[winner.id]["passed_over"] = passed
        customer = ctx.get("visitor.customer_id")
        return Trace(
            at=time.time() if at is None else at,
            visitor=visitor,
            customer=str(customer) if customer else None,
            path=str(ctx.get("path", ""))[:MAX_TEXT],
            placement=placement,
            labels=tuple(labels),
            rules=read,
        )

    def _index(self, rules: RuleSet) -> dict[str, Rule]:
        if rules is not self._rules:  # a reload swapped the rules
            self._by_id = {rule.id: rule for rule in rules.all_rules()}
            # which context keys each rule reads: worked out once per rule set
            self._keys = {rule.id: _keys(rule) for rule in self._by_id.values()}
            self._rules = rules
        return self._by_id


def _keys(rule: Rule) -> list[str]:
    return list(dict.fromkeys(key for cond in rule.conditions for key in cond.reads))


def _passed_over(rules: RuleSet, winner: Rule, ctx: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rules tried before the winner, each with its first failing condition."""
    out: list[dict[str, Any]] = []
    placement = rules.placement(winner.placement)
    for why in placement.why(ctx, placement.candidates(ctx)):
        if why.rule is winner or len(out) >= MAX_PASSED_OVER:
            break
        if why.failed is None:
            # matched, yet did not decide: held out, capped, or nothing to fill its path with
            out.append({"rule": why.rule.id, "matched": True})
        else:
            out.append(
                {"rule": why.rule.id, "failed": why.failed.text, "actual": plain(why.actual)}
            )
    return out


def plain(value: Any) -> Any:
    """A context value as bounded JSON."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in list(value)[:MAX_ITEMS]]
    return str(value)[:MAX_TEXT]
