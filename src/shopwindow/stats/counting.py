"""Counting what rules earn, off the request path: a queue and the thread that drains it.

Answers and beacon events only append records to an in-memory list; the
flusher wakes every `stats_flush_seconds` (or when asked), writes what queued
up to the stats store in batches and feeds the Prometheus counters. Stopping
the service flushes what is left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shopwindow.rules.rules import RuleSet
from shopwindow.serve import metrics
from shopwindow.settings import Settings
from shopwindow.shop import Shop
from shopwindow.stats.decisionlog import DecisionLog
from shopwindow.stats.open_store import open_store
from shopwindow.stats.store import (
    NO_SPLIT,
    Click,
    Exposure,
    Purchase,
    Record,
    StatsLimits,
    StatsStore,
    Tally,
)
from shopwindow.visitor.context import Visit
from shopwindow.visitor.events import Event
from shopwindow.visitor.sales import in_main_currency

log = logging.getLogger("shopwindow.stats")

MAX_PENDING = 200_000  # records kept while the store is unreachable; more are dropped
BATCH = 2_000
# Past WAKE_AT queued records the flusher is woken before its interval is up.
WAKE_AT = 2 * BATCH
# Backpressure. A request thread that never waits (a saturated server) can keep
# the flusher thread from the GIL: Python hands the GIL over only when a waiting
# thread's request is not pre-empted by the holder's own short releases. Past
# HIGH_WATER queued records (the flusher woken and still behind), an answer
# sleeps briefly, at most once per YIELD_EVERY, so the flusher gets its turn.
HIGH_WATER = 10 * BATCH
YIELD_SECONDS = 0.002
YIELD_EVERY = 0.02
PRUNE_EVERY = 3600.0  # seconds between retention sweeps


class Recorder:
    """The queue between answers and the stats store, and the thread that drains it."""

    def __init__(
        self,
        settings: Settings,
        limits: StatsLimits,
        opener: Callable[[Settings, StatsLimits], StatsStore] = open_store,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.interval = max(0.01, float(settings.stats_flush_seconds))
        self.decisions = DecisionLog(float(settings.decision_log_rate))
        self._opener = opener
        self._store: StatsStore | None = None
        # Answers append and the flusher takes from the front: each deque operation is
        # safe across threads on its own, so the request side takes no lock.
        self._pending: deque[Record | PendingTrace] = deque()
        self._flushing = threading.Lock()  # one writer at a time, whichever thread asks
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Condition()
        self._asked = 0
        self._served = 0
        self._pruned_at = 0.0
        self._yielded_at = 0.0
        self._thread: threading.Thread | None = None

    # --- the request side: append only -------------------------------------------------

    def add(self, records: Sequence[Record | PendingTrace]) -> None:
        pending = self._pending
        room = MAX_PENDING - len(pending)
        if len(records) > room:
            metrics.STATS_DROPPED.inc(len(records) - max(room, 0))
            records = records[: max(room, 0)]
        pending.extend(records)
        backlog = len(pending)
        if backlog <= WAKE_AT or self._thread is None or self._stopping.is_set():
            return
        if not self._wake.is_set():
            self._wake.set()
        if backlog > HIGH_WATER:
            now = time.monotonic()
            if now - self._yielded_at >= YIELD_EVERY:
                self._yielded_at = now
                time.sleep(YIELD_SECONDS)  # the flusher takes the GIL meanwhile

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --- the flusher --------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="shopwindow-stats", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Flush what is queued and close the store (the service is shutting down)."""
        thread = self._thread
        if thread is None:
            self.flush()
            self._close()
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        self._thread = None
        if self._pending:
            log.error("stats: %d records not written at shutdown", len(self._pending))

    def sync(self, timeout: float = 5.0) -> bool:
        """Ask the flusher to write now and wait until it has (readers call this first)."""
        if self._thread is None:
            self.flush()
            return not self._pending
        with self._done:
            self._asked += 1
            ticket = self._asked
            self._wake.set()
            return self._done.wait_for(lambda: self._served >= ticket, timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._done:
                ticket = self._asked
            stopping = self._stopping.is_set()
            self.flush()
            self._maybe_prune()
            with self._done:
                self._served = max(self._served, ticket)
                self._done.notify_all()
            if stopping:
                break
        self._close()

    def flush(self) -> int:
        """Write everything queued; on a store error keep it for the next try."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> int:
        written = 0
        while True:
            pending = self._pending  # this thread alone takes from the front
            batch = [pending.popleft() for _ in range(min(BATCH, len(pending)))]
            if not batch:
                return written
            try:
                resolved = [self._resolve(record) for record in batch]
                store = self._open()
                tallies = store.apply(resolved)
            except Exception as exc:
                log.warning("stats: cannot write %d records (%s); will retry", len(batch), exc)
                metrics.DEGRADED.labels("stats").inc()
                self._close()
                self.add_front(batch)
                return written
            count(tallies)
            written += len(batch)

    def _resolve(self, record: Record | PendingTrace) -> Record:
        """Decision-log traces are built here, on the flusher's thread, not in the request."""
        if isinstance(record, PendingTrace):
            return self.decisions.trace(
                record.rules, record.ctx, record.visitor, record.labels, record.at
            )
        return record

    def add_front(self, batch: Sequence[Record | PendingTrace]) -> None:
        keep = list(batch)[: max(0, MAX_PENDING - len(self._pending))]
        if len(keep) < len(batch):
            metrics.STATS_DROPPED.inc(len(batch) - len(keep))
        self._pending.extendleft(reversed(keep))

    def _maybe_prune(self) -> None:
        now = time.time()
        if now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            self._open().prune(now)
        except Exception as exc:
            log.warning("stats: retention sweep failed (%s)", exc)

    def _open(self) -> StatsStore:
        if self._store is None:
            self._store = self._opener(self.settings, self.limits)
        return self._store

    def _close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:  # closing a broken connection must not stop the shutdown
                log.debug("stats: closing the store failed", exc_info=True)
            self._store = None


_COUNTERS = {
    "exposures": metrics.EXPERIMENT_EXPOSURES,
    "visitors": metrics.EXPERIMENT_VISITORS,
    "clicks": metrics.EXPERIMENT_CLICKS,
    "orders": metrics.EXPERIMENT_CONVERSIONS,
    "revenue": metrics.EXPERIMENT_REVENUE,
}


def count(tallies: Iterable[Tally]) -> None:
    """Feed the Prometheus counters from what the store counted (one inc per series)."""
    sums: dict[tuple[str, str, str], float] = {}
    for tally in tallies:
        if tally.metric in _COUNTERS:
            key = (tally.metric, tally.rule, tally.variant)
            sums[key] = sums.get(key, 0.0) + tally.amount
    for (metric, rule, variant), amount in sums.items():
        _COUNTERS[metric].labels(rule, variant).inc(amount)


# --- sinks: what answers and beacon events hand to the recorder ------------------------


def recorder_of(shop: Shop) -> Recorder | None:
    return shop.services.stats


def counted(visit: Visit) -> bool:
    """Visitors who declined personalization and crawlers are not part of any experiment."""
    return visit.consent and visit.device != "bot"


@dataclass(slots=True)  # not frozen, as Exposure: made per answer for sampled visitors
class PendingTrace:
    """What a decision-log trace is built from, queued as it was at answer time."""

    rules: RuleSet
    ctx: Mapping[str, Any]
    visitor: str
    labels: tuple[str, ...]
    at: float


def record_exposures(shop: Shop, visit: Visit, labels: list[str]) -> None:
    recorder = recorder_of(shop)
    if recorder is None or not counted(visit):
        return
    now = time.time()
    visitor = visit.visitor.id
    records: list[Record | PendingTrace] = []
    for label in labels:
        rule, _, variant = label.partition(":")
        records.append(Exposure(now, visitor, rule, variant or NO_SPLIT))
    snap = shop.snapshot
    decisions = recorder.decisions
    if (
        snap is not None
        and decisions.sampled(visitor)
        and recorder.pending <= WAKE_AT
        and not decisions.repeated(visitor, visit.ctx.get("path", ""), traced := tuple(labels), now)
    ):
        # The context dict is not touched after the answer, so the flusher may read it
        # later. A trace costs the flusher far more than a count: while it is behind,
        # traces (a sample already) are left out and counts are kept.
        records.append(PendingTrace(snap.rules, visit.ctx, visitor, traced, now))
    recorder.add(records)


def record_events(shop: Shop, visit: Visit, events: list[Event]) -> None:
    recorder = recorder_of(shop)
    if recorder is None or not counted(visit):
        return
    now = time.time()
    visitor = visit.visitor.id
    records: list[Record] = []
    for event in events:
        if event.type == "click":
            records.append(Click(now, visitor, event.rule))
        elif event.type == "purchase":
            revenue = in_main_currency(
                shop, visit, event, round(sum(price for _, price, _ in event.items), 2)
            )
            records.append(Purchase(now, visitor, event.order_id, revenue))
    if records:
        recorder.add(records)
