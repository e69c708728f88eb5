"""How exposures, clicks and purchases become counts: the visitor's exposure log, in pure Python.

The SQLite store runs these functions; the Redis store runs the same steps as
Lua scripts (statsstore_redis.py), and one shared test suite holds both to it.

- An exposure opens an entry (rule -> variant, cohort day, first and last time)
  the first time a visitor sees a rule, or when their variant changed, or when
  their last exposure is older than the retention: each counts one visitor.
- A click or purchase at time T counts for every entry whose first exposure is
  at or before T and whose last exposure is at most the attribution window
  before T (a click naming a rule counts for that rule only). The first one of
  each kind also counts the visitor as a clicker or converter.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopwindow.statsstore import Click, Exposure, Limits, Purchase, Tally


@dataclass(slots=True)
class Entry:
    variant: str
    day: str
    first_at: float
    last_at: float
    clicked: bool = False
    converted: bool = False


Log = dict[str, Entry]  # rule id -> entry, for one visitor


def expose(log: Log, exposure: Exposure, limits: Limits) -> list[Tally]:
    entry = log.get(exposure.rule)
    at = exposure.at
    tallies = []
    if (
        entry is None
        or entry.variant != exposure.variant
        or at - entry.last_at > limits.retention_seconds
    ):
        entry = Entry(exposure.variant, limits.day(at), at, at)
        log[exposure.rule] = entry
        tallies.append(Tally("visitors", exposure.rule, entry.variant, entry.day))
    elif at > entry.last_at:
        entry.last_at = at
    tallies.append(Tally("exposures", exposure.rule, entry.variant, entry.day))
    return tallies


def attribute(log: Log, event: Click | Purchase, limits: Limits) -> list[Tally]:
    """Counts for a click or a (not yet seen) purchase against the visitor's exposures."""
    only = event.rule if isinstance(event, Click) else None
    tallies: list[Tally] = []
    for rule, entry in log.items():
        if only is not None and rule != only:
            continue
        if not in_window(entry, event.at, limits):
            continue
        if isinstance(event, Click):
            tallies.append(Tally("clicks", rule, entry.variant, entry.day))
            if not entry.clicked:
                entry.clicked = True
                tallies.append(Tally("clickers", rule, entry.variant, entry.day))
        else:
            tallies.append(Tally("orders", rule, entry.variant, entry.day))
            tallies.append(Tally("revenue", rule, entry.variant, entry.day, event.revenue))
            if not entry.converted:
                entry.converted = True
                tallies.append(Tally("converters", rule, entry.variant, entry.day))
    return tallies


def in_window(entry: Entry, at: float, limits: Limits) -> bool:
    """Exposed before the event, and recently enough (the window's end is included)."""
    return entry.first_at <= at and at - entry.last_at <= limits.attribution_seconds
