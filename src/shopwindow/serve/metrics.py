"""Prometheus metrics, safe with many worker processes (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import asyncio
import bisect
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("shopwindow_requests_total", "Requests answered", ["route", "status"])
LATENCY = Histogram(
    "shopwindow_request_seconds",
    "Time to answer, by route",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
MATCHES = Counter(
    "shopwindow_rule_matches_total", "Decisions, by placement and rule", ["placement", "rule"]
)
RELOADS = Counter("shopwindow_rule_reloads_total", "Rules and catalog reloaded successfully")
RELOAD_FAILURES = Counter(
    "shopwindow_rule_reload_failures_total", "Edits refused; last good rules kept"
)
RULE_ERRORS = Gauge(
    "shopwindow_rule_errors",
    "Errors in the rule files on disk right now (0 when they are valid)",
    multiprocess_mode="max",
)
LAST_LOAD = Gauge(
    "shopwindow_last_load_timestamp_seconds",
    "When rules, catalog or GeoIP database last loaded successfully (Unix time), by kind",
    ["kind"],
    multiprocess_mode="max",
)
REFUSED_LOADS = Counter(
    "shopwindow_refused_loads_total",
    "Files refused (the previous version kept serving), by kind: rules, catalog, geoip",
    ["kind"],
)
GEOIP_ERRORS = Counter(
    "shopwindow_geoip_errors_total",
    "GeoIP lookups that failed in a damaged database (answered with the default country)",
)
EVENTS = Counter(
    "shopwindow_events_total", "Beacon events, by type and outcome", ["type", "outcome"]
)
UNMATCHED_CAMPAIGNS = Counter(
    "shopwindow_unmatched_campaigns_total", "Campaigns with no landing rule"
)
DEGRADED = Counter(
    "shopwindow_degraded_total", "Answers served without a backing store or part", ["part"]
)

ORIGIN = Counter(
    "shopwindow_origin_requests_total",
    "Origin proxy mode: answers by where they came from (cached, fetched, timeout, unreachable)",
    ["outcome"],
)


def loaded(kind: str) -> None:
    """kind ("rules", "catalog", "geoip") loaded successfully just now."""
    LAST_LOAD.labels(kind).set_to_current_time()


def refused(kind: str) -> None:
    """A new version of kind was refused; the previous one keeps serving."""
    REFUSED_LOADS.labels(kind).inc()


class Tally:
    """Counts from the request path, handed to prometheus_client in batches.

    Each `inc` or `observe` on a prometheus_client metric takes a lock (and, with
    many workers, writes a shared file); per request that showed up in profiles.
    The request path adds to plain dicts instead, and `flush` passes the sums on:
    at most a second later (a timer on the event loop), before every scrape of
    `/metrics`, and at shutdown. Outside an event loop it flushes at once.
    """

    def __init__(self) -> None:
        self.counts: dict[Any, float] = {}
        # histogram child -> [sum of observations, count per bucket]
        self.observed: dict[Any, list[Any]] = {}
        self.scheduled = False

    def count(self, child: Any, amount: float = 1) -> None:
        self.counts[child] = self.counts.get(child, 0) + amount
        self._soon()

    def observe(self, child: Any, bounds: tuple[float, ...], value: float) -> None:
        self._add_observation(child, bounds, value)
        self._soon()

    def count_and_observe(
        self, counter: Any, histogram: Any, bounds: tuple[float, ...], value: float
    ) -> None:
        """count(counter) and observe(histogram, bounds, value) in one call (every request)."""
        self.counts[counter] = self.counts.get(counter, 0) + 1
        self._add_observation(histogram, bounds, value)
        self._soon()

    def _add_observation(self, child: Any, bounds: tuple[float, ...], value: float) -> None:
        pending = self.observed.get(child)
        if pending is None:
            pending = self.observed[child] = [0.0, [0] * len(bounds)]
        pending[0] += value
        pending[1][bisect.bisect_left(bounds, value)] += 1

    def _soon(self) -> None:
        if self.scheduled:
            return
        try:
            asyncio.get_running_loop().call_later(1.0, self.flush)
        except RuntimeError:  # no event loop here (a CLI command, a test): pass it on now
            self.flush()
            return
        self.scheduled = True

    def flush(self) -> None:
        self.scheduled = False
        counts, self.counts = self.counts, {}
        observed, self.observed = self.observed, {}
        for child, amount in counts.items():
            child.inc(amount)
        for child, (total, buckets) in observed.items():
            # Histogram.observe(x) adds x to the sum and 1 to x's bucket; this adds them all.
            child._sum.inc(total)
            for i, n in enumerate(buckets):
                if n:
                    child._buckets[i].inc(n)


TALLY = Tally()
_LATENCY_BOUNDS = (*LATENCY._upper_bounds,)

# labels() takes a lock and builds a key each call; the children are few, so keep them.
_request_children: dict[tuple[str, int], tuple[Any, Any]] = {}


def observe_request(route: str, status: int, seconds: float) -> None:
    children = _request_children.get((route, status))
    if children is None:
        children = (REQUESTS.labels(route, str(status)), LATENCY.labels(route))
        if len(_request_children) < 10_000:
            _request_children[(route, status)] = children
    TALLY.count_and_observe(children[0], children[1], _LATENCY_BOUNDS, seconds)


_event_children: dict[tuple[str, str], Any] = {}
_match_children: dict[tuple[str, str], Any] = {}


def _child(
    metric: Any, cache: dict[tuple[str, str], Any], labels: tuple[str, str], most: int
) -> Any:
    child = cache.get(labels)
    if child is None:
        child = metric.labels(*labels)
        if len(cache) < most:  # label values are bounded by their callers; this bounds the cache
            cache[labels] = child
    return child


def count_event(kind: str, outcome: str) -> None:
    TALLY.count(_child(EVENTS, _event_children, (kind, outcome), 1_000))


def count_match(placement: str, rule_id: str) -> None:
    TALLY.count(_child(MATCHES, _match_children, (placement, rule_id), 100_000))


def exposition() -> tuple[bytes, str]:
    """The metrics text, merged over every worker when running multi-process."""
    TALLY.flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


EXPERIMENT_EXPOSURES = Counter(
    "shopwindow_experiment_exposures_total",
    "Decisions served to counted visitors, by rule and variant (holdout: held out)",
    ["rule", "variant"],
)
EXPERIMENT_VISITORS = Counter(
    "shopwindow_experiment_visitors_total",
    "Distinct visitors exposed to a rule's variant for the first time",
    ["rule", "variant"],
)
EXPERIMENT_CLICKS = Counter(
    "shopwindow_experiment_clicks_total",
    "Click events attributed to a rule's variant",
    ["rule", "variant"],
)
EXPERIMENT_CONVERSIONS = Counter(
    "shopwindow_experiment_conversions_total",
    "Purchases attributed to a rule's variant within the attribution window",
    ["rule", "variant"],
)
EXPERIMENT_REVENUE = Counter(
    "shopwindow_experiment_revenue_total",
    "Revenue of the purchases attributed to a rule's variant",
    ["rule", "variant"],
)
STATS_DROPPED = Counter(
    "shopwindow_stats_dropped_total", "Experiment records dropped while the stats store was down"
)
