"""Campaigns no landing rule answered, counted in memory and written to SQLite in batches.

Every worker process keeps its own counts and adds them to the shared table
every few seconds (and when it stops), off the request path; the table lives
beside the rules so counts survive restarts and add up across workers.
`shopwindow campaigns --unmatched` reads it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shopwindow.serve import metrics
from shopwindow.visitor.channel import Campaign

log = logging.getLogger("shopwindow")

TABLE = "unmatched_campaigns"
DB_NAME = "shopwindow.sqlite3"
FLUSH_SECONDS = 2.0
MAX_PENDING = 5000  # distinct campaigns between two flushes; more is a flood, not ads
MAX_ROWS = 20000  # the table keeps the most recently seen campaigns
MAX_FIELD = 120
FIELDS = ("source", "medium", "campaign", "term", "content", "click", "landing")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    source TEXT NOT NULL, medium TEXT NOT NULL, campaign TEXT NOT NULL,
    term TEXT NOT NULL, content TEXT NOT NULL, click TEXT NOT NULL, landing TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    PRIMARY KEY (source, medium, campaign, term, content, click, landing)
)
"""
_UPSERT = f"""
INSERT INTO {TABLE} (source, medium, campaign, term, content, click, landing,
                     count, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, medium, campaign, term, content, click, landing)
DO UPDATE SET count = count + excluded.count, last_seen = excluded.last_seen
"""


@dataclass(frozen=True, slots=True)
class CampaignKey:
    """What names a campaign to a marketer: UTM values, the ad platform and the landing path."""

    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""
    click: str = ""  # google, meta, ... when the URL carried an ad click id
    landing: str = "/"

    @staticmethod
    def of(campaign: Campaign, landing: str) -> CampaignKey:
        # Click ids are per click (and personal): only the platform that sent it is kept.
        return CampaignKey(
            _field(campaign.source, lower=True),
            _field(campaign.medium, lower=True),
            _field(campaign.name),
            _field(campaign.term),
            _field(campaign.content),
            campaign.click_kind or "",
            _field(landing) or "/",
        )


@dataclass(frozen=True, slots=True)
class UnmatchedRow:
    key: CampaignKey
    count: int
    first_seen: int
    last_seen: int


def _field(value: str | None, lower: bool = False) -> str:
    text = (value or "").strip()[:MAX_FIELD]
    return text.lower() if lower else text


def default_path(rules: str, profile_db: str = "") -> str:
    """The shop's SQLite file: the profile store's when set, else beside the rules."""
    return profile_db or os.path.join(rules, DB_NAME)


class UnmatchedCampaigns:
    """Counts per campaign; `record` is the only call on the request path (a dict update)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pending: Counter[CampaignKey] = Counter()
        self._failed = False

    def record(self, key: CampaignKey) -> None:
        metrics.UNMATCHED_CAMPAIGNS.inc()
        if key in self.pending or len(self.pending) < MAX_PENDING:
            self.pending[key] += 1

    def take(self) -> Counter[CampaignKey]:
        """The counts so far, leaving an empty batch (called on the event loop, then written aside)."""
        batch, self.pending = self.pending, Counter()
        return batch

    def write(self, batch: Counter[CampaignKey], now: int | None = None) -> bool:
        """Add a batch to the table (blocking: run it in a thread). False when it was lost."""
        if not batch:
            return True
        now = int(time.time()) if now is None else now
        rows = [(*_values(key), count, now, now) for key, count in batch.items()]
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with _connect(self.path) as db:
                db.executemany(_UPSERT, rows)
                _prune(db)
        except (sqlite3.Error, OSError) as exc:
            metrics.DEGRADED.labels("unmatched_campaigns").inc()
            if not self._failed:
                log.warning("unmatched campaigns not saved to %s: %s", self.path, exc)
            self._failed = True
            return False
        self._failed = False
        return True

    def flush(self) -> bool:
        return self.write(self.take())


def _values(key: CampaignKey) -> tuple[str, ...]:
    return tuple(getattr(key, name) for name in FIELDS)


@contextlib.contextmanager
def _connect(path: str) -> Iterator[sqlite3.Connection]:
    """One transaction on the file (WAL: workers write while the CLI reads), then closed."""
    db = sqlite3.connect(path, timeout=10)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_SCHEMA)
        with db:
            yield db
    finally:
        db.close()


def _prune(db: sqlite3.Connection) -> None:
    (rows,) = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    if rows > MAX_ROWS:
        db.execute(
            f"DELETE FROM {TABLE} WHERE rowid IN "
            f"(SELECT rowid FROM {TABLE} ORDER BY last_seen, count LIMIT ?)",
            (rows - MAX_ROWS,),
        )


def read_unmatched(path: str, limit: int = 100) -> list[UnmatchedRow]:
    """The unmatched campaigns, most clicked first; empty when none were ever recorded."""
    if not os.path.exists(path):
        return []
    with _connect(path) as db:
        found = db.execute(
            f"SELECT {', '.join(FIELDS)}, count, first_seen, last_seen FROM {TABLE} "
            "ORDER BY count DESC, last_seen DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [UnmatchedRow(CampaignKey(*row[:7]), row[7], row[8], row[9]) for row in found]


def as_table(rows: list[UnmatchedRow]) -> str:
    """The rows as a marketer reads them: clicks, where the ad pointed, and its UTM values."""
    if not rows:
        return "no unmatched campaigns: every ad click found a landing rule"
    lines = [f"{'clicks':>7}  {'last seen (UTC)':<16}  landing / campaign"]
    for row in rows:
        key = row.key
        seen = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.last_seen))
        named = [
            f"{name}={value!r}"
            for name, value in (
                ("utm_source", key.source),
                ("utm_medium", key.medium),
                ("utm_campaign", key.campaign),
                ("utm_term", key.term),
                ("utm_content", key.content),
                ("click", key.click),
            )
            if value
        ]
        # Visitors wrote these values: control characters are shown escaped, never run.
        landing = key.landing if key.landing.isprintable() else repr(key.landing)
        lines.append(f"{row.count:>7}  {seen:<16}  {landing}  {' '.join(named)}".rstrip())
    return "\n".join(lines)
