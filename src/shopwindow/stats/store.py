"""What the experiment counters store and how: records in, totals and traced decisions out.

Two backends share this interface and one test suite: SQLite (one machine, the
default) and Redis (many nodes). Both keep, per visitor, a log of the rules and
variants they were exposed to, so a purchase can be attributed to the exposures
that preceded it within the attribution window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

from shopwindow.rules.clock import local_time
from shopwindow.settings import Settings

NO_SPLIT = "-"  # the variant of a rule without a split: everyone who matched it
METRICS = ("exposures", "visitors", "clicks", "clickers", "orders", "converters", "revenue")


@dataclass(slots=True)  # not frozen: one is made per answer, and frozen ones cost 3× to build
class Exposure:
    """A visitor was served a decision of `rule` (variant `holdout`: held out of it)."""

    at: float
    visitor: str
    rule: str
    variant: str


@dataclass(frozen=True, slots=True)
class Click:
    """A `click` event; `rule` names what was clicked, None counts for every recent exposure."""

    at: float
    visitor: str
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class Purchase:
    at: float
    visitor: str
    order_id: str | None
    revenue: float


@dataclass(frozen=True, slots=True)
class Trace:
    """One sampled answer for the decision log: what decided and the context it read."""

    at: float
    visitor: str
    customer: str | None
    path: str
    placement: str
    labels: tuple[str, ...]
    rules: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "time": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds"),
            "visitor": self.visitor,
            "customer": self.customer,
            "path": self.path,
            "placement": self.placement,
            "labels": list(self.labels),
            "rules": self.rules,
        }

    @staticmethod
    def from_json(data: Any) -> Trace:
        if not isinstance(data, dict):
            raise ValueError("a trace is a JSON object")
        labels, rules, customer = data.get("labels"), data.get("rules"), data.get("customer")
        return Trace(
            at=float(data.get("at") or 0),
            visitor=str(data.get("visitor", "")),
            customer=str(customer) if customer is not None else None,
            path=str(data.get("path", "")),
            placement=str(data.get("placement", "")),
            labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
            rules=rules if isinstance(rules, dict) else {},
        )


Record = Exposure | Click | Purchase | Trace


@dataclass(slots=True)  # not frozen, as Exposure: one is made per record counted
class Tally:
    """What applying a batch counted, for the Prometheus counters."""

    metric: str
    rule: str
    variant: str
    day: str  # the cohort day of the visitor's first exposure to the rule
    amount: float = 1.0


@dataclass(slots=True)
class Totals:
    """Counts of one rule's variant, summed over the cohort days asked for.

    `visitors` are distinct visitors exposed; `converters` and `clickers` the
    distinct ones among them who bought or clicked; `orders` and `revenue` every
    attributed purchase.
    """

    rule: str
    variant: str
    exposures: int = 0
    visitors: int = 0
    clicks: int = 0
    clickers: int = 0
    orders: int = 0
    converters: int = 0
    revenue: float = 0.0

    def add(self, metric: str, amount: float) -> None:
        if metric == "revenue":
            self.revenue = round(self.revenue + amount, 2)
        elif metric in METRICS:
            setattr(self, metric, getattr(self, metric) + int(amount))


@dataclass(frozen=True, slots=True)
class StatsLimits:
    """How long and how much the store keeps; from the settings."""

    attribution_seconds: float
    retention_seconds: float
    decision_log_size: int
    decision_log_seconds: float
    timezone: tzinfo

    @staticmethod
    def from_settings(settings: Settings, timezone: tzinfo) -> StatsLimits:
        return StatsLimits(
            attribution_seconds=float(settings.attribution_hours) * 3600,
            retention_seconds=float(settings.stats_retention_days) * 86400,
            decision_log_size=int(settings.decision_log_size),
            decision_log_seconds=float(settings.decision_log_days) * 86400,
            timezone=timezone,
        )

    def day(self, at: float) -> str:
        """The cohort day of a first exposure, in the shop's time zone."""
        # Asked for every new exposure: the local time is worked out once a minute.
        return local_time(int(at // 60), self.timezone).date().isoformat()


class StatsStore(Protocol):
    def apply(self, batch: Sequence[Record]) -> list[Tally]:
        """Count a batch of records, in order; returns what was counted."""
        ...

    def totals(self, since: str | None = None, rule: str | None = None) -> list[Totals]:
        """Per rule and variant, for visitors first exposed on or after `since` (YYYY-MM-DD)."""
        ...

    def traces(
        self, visitor: str | None = None, customer: str | None = None, limit: int = 50
    ) -> list[Trace]:
        """The decision log, newest first, optionally for one visitor or customer."""
        ...

    def prune(self, now: float) -> None:
        """Forget exposure logs, orders and traces past their retention."""
        ...

    def close(self) -> None: ...


def sqlite_path(settings: Settings) -> Path:
    """settings.profile_db, or shopwindow.sqlite3 beside the rules."""
    if settings.profile_db:
        return Path(settings.profile_db)
    return Path(settings.rules) / "shopwindow.sqlite3"
