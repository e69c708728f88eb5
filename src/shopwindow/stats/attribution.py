"""How exposures, clicks and purchases become counts: the visitor's exposure log, in pure Python.

The SQLite store runs these functions; the Redis store runs the same steps as
Lua scripts (stats/store_redis.py), and one shared test suite holds both to it.

- An exposure opens an entry (rule -> variant, cohort day, first and last time)
  the first time a visitor sees a rule, or when their variant changed, or when
  their last exposure is older than the retention: each counts one visitor.
- A click or purchase at time T counts for every entry whose first exposure is
  at or before T and whose last exposure is at most the attribution window
  before T (a click naming a rule counts for that rule only). The first one of
  each kind also counts the visitor as a clicker or converter.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from shopwindow.stats.store import Click, Exposure, Purchase, StatsLimits


@dataclass(slots=True)
class Entry:
    variant: str
    day: str
    first_at: float
    last_at: float
    clicked: bool = False
    converted: bool = False


Log = dict[str, Entry]  # rule id -> entry, for one visitor
# What a batch counted: (rule, variant, cohort day, metric) -> amount.
Counts = defaultdict[tuple[str, str, str, str], float]


def expose(log: Log, exposure: Exposure, limits: StatsLimits, counts: Counts) -> None:
    """Counts an exposure: one more, and one more visitor when it opens an entry."""
    rule = exposure.rule
    entry = log.get(rule)
    at = exposure.at
    if (
        entry is None
        or entry.variant != exposure.variant
        or at - entry.last_at > limits.retention_seconds
    ):
        entry = Entry(exposure.variant, limits.day(at), at, at)
        log[rule] = entry
        counts[(rule, entry.variant, entry.day, "visitors")] += 1
    elif at > entry.last_at:
        entry.last_at = at
    counts[(rule, entry.variant, entry.day, "exposures")] += 1


def attribute(log: Log, event: Click | Purchase, limits: StatsLimits, counts: Counts) -> None:
    """Counts a click or a (not yet seen) purchase against the visitor's exposures."""
    only = event.rule if isinstance(event, Click) else None
    for rule, entry in log.items():
        if only is not None and rule != only:
            continue
        if not in_window(entry, event.at, limits):
            continue
        if isinstance(event, Click):
            counts[(rule, entry.variant, entry.day, "clicks")] += 1
            if not entry.clicked:
                entry.clicked = True
                counts[(rule, entry.variant, entry.day, "clickers")] += 1
        else:
            counts[(rule, entry.variant, entry.day, "orders")] += 1
            counts[(rule, entry.variant, entry.day, "revenue")] += event.revenue
            if not entry.converted:
                entry.converted = True
                counts[(rule, entry.variant, entry.day, "converters")] += 1


def in_window(entry: Entry, at: float, limits: StatsLimits) -> bool:
    """Exposed before the event, and recently enough (the window's end is included)."""
    return entry.first_at <= at and at - entry.last_at <= limits.attribution_seconds
