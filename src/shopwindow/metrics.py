"""Prometheus metrics, safe with many worker processes (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os

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


def exposition() -> tuple[bytes, str]:
    """The metrics text, merged over every worker when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
