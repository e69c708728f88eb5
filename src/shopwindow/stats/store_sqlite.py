"""The experiment counters in SQLite: the default store, one file beside the rules.

Tables are prefixed `stats_` so they can share the file with the profile store.
Every batch is one write transaction (BEGIN IMMEDIATE), so several worker
processes can write the same file without losing counts.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from shopwindow.stats.attribution import Counts, Entry, Log, attribute, expose
from shopwindow.stats.store import (
    Click,
    Exposure,
    Purchase,
    Record,
    StatsLimits,
    Tally,
    Totals,
    Trace,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS stats_exposure (
    visitor TEXT NOT NULL,
    rule TEXT NOT NULL,
    variant TEXT NOT NULL,
    day TEXT NOT NULL,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    clicked INTEGER NOT NULL DEFAULT 0,
    converted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (visitor, rule)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stats_exposure_last ON stats_exposure (last_at);
CREATE TABLE IF NOT EXISTS stats_count (
    rule TEXT NOT NULL,
    variant TEXT NOT NULL,
    day TEXT NOT NULL,
    metric TEXT NOT NULL,
    amount REAL NOT NULL,
    PRIMARY KEY (rule, variant, day, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_order (
    order_id TEXT PRIMARY KEY,
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stats_order_at ON stats_order (at);
CREATE TABLE IF NOT EXISTS stats_trace (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    visitor TEXT NOT NULL,
    customer TEXT,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS stats_trace_visitor ON stats_trace (visitor, id);
CREATE INDEX IF NOT EXISTS stats_trace_customer ON stats_trace (customer, id);
CREATE INDEX IF NOT EXISTS stats_trace_at ON stats_trace (at);
"""


# Visitors per SELECT and rows per INSERT: SQLite before 3.32 allows 999 parameters.
LOGS_PER_QUERY = 500
ROWS_PER_INSERT = 120


class SqliteStatsStore:
    def __init__(self, path: Path | str, limits: StatsLimits) -> None:
        self.limits = limits
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def apply(self, batch: Sequence[Record]) -> list[Tally]:
        counts: Counts = defaultdict(float)
        traces: list[Trace] = []
        with self._writing() as db:
            # Every visitor's log in a few queries, not one per visitor: each query
            # gives up the GIL and must win it back from the busy request thread.
            stored = self._logs(db, {r.visitor for r in batch if not isinstance(r, Trace)})
            logs: dict[str, Log] = {}
            for record in batch:
                if isinstance(record, Trace):
                    traces.append(record)
                    continue
                if isinstance(record, Purchase) and not self._first_time(db, record):
                    continue  # the same order sent again (a beacon retry)
                log = logs.get(record.visitor)
                if log is None:
                    log = logs[record.visitor] = stored.get(record.visitor, {})
                if isinstance(record, Exposure):
                    expose(log, record, self.limits, counts)
                elif isinstance(record, Click | Purchase):
                    attribute(log, record, self.limits, counts)
            rows = [
                (
                    visitor,
                    rule,
                    e.variant,
                    e.day,
                    e.first_at,
                    e.last_at,
                    int(e.clicked),
                    int(e.converted),
                )
                for visitor, log in logs.items()
                for rule, e in log.items()
            ]
            # Many rows per statement: executemany steps (and gives up the GIL) per row.
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                db.execute(
                    f"INSERT OR REPLACE INTO stats_exposure VALUES {values}",
                    [value for row in chunk for value in row],
                )
            db.executemany(
                "INSERT INTO stats_count VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (rule, variant, day, metric) DO UPDATE SET amount = amount + excluded.amount",
                [(*key, amount) for key, amount in counts.items()],
            )
            if traces:
                self._keep_traces(db, traces)
        # One tally per series: the Prometheus counters need no more (counting.count).
        return [
            Tally(metric, rule, variant, day, amount)
            for (rule, variant, day, metric), amount in counts.items()
        ]

    def _first_time(self, db: sqlite3.Connection, purchase: Purchase) -> bool:
        if not purchase.order_id:
            return True
        cursor = db.execute(
            "INSERT OR IGNORE INTO stats_order VALUES (?, ?)", (purchase.order_id, purchase.at)
        )
        return cursor.rowcount == 1

    def _logs(self, db: sqlite3.Connection, visitors: set[str]) -> dict[str, Log]:
        found: dict[str, Log] = {}
        names = list(visitors)
        for start in range(0, len(names), LOGS_PER_QUERY):
            chunk = names[start : start + LOGS_PER_QUERY]
            rows = db.execute(
                "SELECT visitor, rule, variant, day, first_at, last_at, clicked, converted"
                f" FROM stats_exposure WHERE visitor IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for visitor, rule, variant, day, first_at, last_at, clicked, converted in rows:
                found.setdefault(visitor, {})[rule] = Entry(
                    variant, day, first_at, last_at, bool(clicked), bool(converted)
                )
        return found

    def _keep_traces(self, db: sqlite3.Connection, traces: list[Trace]) -> None:
        db.executemany(
            "INSERT INTO stats_trace (at, visitor, customer, body) VALUES (?, ?, ?, ?)",
            [(t.at, t.visitor, t.customer, orjson.dumps(t.to_json())) for t in traces],
        )
        # A ring: only the newest decision_log_size entries stay.
        db.execute(
            "DELETE FROM stats_trace WHERE id <= (SELECT MAX(id) FROM stats_trace) - ?",
            (self.limits.decision_log_size,),
        )

    def totals(self, since: str | None = None, rule: str | None = None) -> list[Totals]:
        sql = "SELECT rule, variant, metric, SUM(amount) FROM stats_count WHERE day >= ?"
        params: list[str] = [since or ""]
        if rule is not None:
            sql += " AND rule = ?"
            params.append(rule)
        sql += " GROUP BY rule, variant, metric ORDER BY rule, variant"
        out: dict[tuple[str, str], Totals] = {}
        for rule_id, variant, metric, amount in self.db.execute(sql, params):
            row = out.get((rule_id, variant))
            if row is None:
                row = out[(rule_id, variant)] = Totals(rule_id, variant)
            row.add(metric, amount)
        return list(out.values())

    def traces(
        self, visitor: str | None = None, customer: str | None = None, limit: int = 50
    ) -> list[Trace]:
        oldest = time.time() - self.limits.decision_log_seconds
        sql = "SELECT body FROM stats_trace WHERE at >= ?"
        params: list[object] = [oldest]
        if visitor is not None:
            sql += " AND visitor = ?"
            params.append(visitor)
        if customer is not None:
            sql += " AND customer = ?"
            params.append(customer)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [Trace.from_json(orjson.loads(body)) for (body,) in self.db.execute(sql, params)]

    def prune(self, now: float) -> None:
        with self._writing() as db:
            kept_from = now - self.limits.retention_seconds
            db.execute("DELETE FROM stats_exposure WHERE last_at < ?", (kept_from,))
            db.execute("DELETE FROM stats_order WHERE at < ?", (kept_from,))
            db.execute(
                "DELETE FROM stats_trace WHERE at < ?", (now - self.limits.decision_log_seconds,)
            )

    def close(self) -> None:
        self.db.close()
