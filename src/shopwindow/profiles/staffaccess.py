"""The staff view's access table: who opened which customer's profile, when, from where.

In the shop's SQLite file on one machine (table `staff_access`), in a Redis stream
(`sw:staff:access`) when the shop runs on Redis, so every node writes to one table.
`shopwindow staff access` reads it back. Emails never reach it: a search by email is
recorded by the customer id it found.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from shopwindow.profiles.store import StoreUnavailable, profile_db_path
from shopwindow.settings import Settings

STREAM = "sw:staff:access"
# Entries the Redis stream keeps (about): years of a busy shop's lookups.
STREAM_MAX = 1_000_000
MAX_READ = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_access (
    at          REAL NOT NULL,
    who         TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    via         TEXT NOT NULL,
    peer        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS staff_access_customer ON staff_access (customer_id, at);
"""


@dataclass(frozen=True, slots=True)
class Access:
    at: float
    who: str
    customer_id: str  # "" for a search that found nobody
    via: str  # "customer id" | "email search"
    peer: str

    def to_json(self) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
            "who": self.who,
            "customer_id": self.customer_id or None,
            "via": self.via,
            "peer": self.peer,
        }


class AccessLog(Protocol):
    def record(self, access: Access) -> None: ...

    def recent(
        self, customer_id: str | None = None, who: str | None = None, limit: int = 50
    ) -> list[Access]:
        """Newest first, optionally only one customer's or one person's."""
        ...

    def close(self) -> None: ...


class SQLiteAccessLog:
    def __init__(self, path: str, busy_ms: int = 5000) -> None:
        self.path = path
        self.busy_ms = busy_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_ms)}")
            # The shop's one SQLite file: WAL, as the profile and stats stores keep it.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def record(self, access: Access) -> None:
        try:
            self._conn().execute(
                "INSERT INTO staff_access VALUES (?, ?, ?, ?, ?)",
                (access.at, access.who, access.customer_id, access.via, access.peer),
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def recent(
        self, customer_id: str | None = None, who: str | None = None, limit: int = 50
    ) -> list[Access]:
        where, args = [], []
        if customer_id is not None:
            where.append("customer_id = ?")
            args.append(customer_id)
        if who is not None:
            where.append("who = ?")
            args.append(who)
        sql = "SELECT at, who, customer_id, via, peer FROM staff_access"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC LIMIT ?"
        try:
            rows = self._conn().execute(sql, (*args, max(1, min(limit, MAX_READ)))).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        return [Access(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()


class RedisAccessLog:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        import redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def record(self, access: Access) -> None:
        import redis

        fields = {
            "at": repr(access.at),
            "who": access.who,
            "customer_id": access.customer_id,
            "via": access.via,
            "peer": access.peer,
        }
        try:
            self._redis.xadd(STREAM, fields, maxlen=STREAM_MAX, approximate=True)  # type: ignore[arg-type]
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def recent(
        self, customer_id: str | None = None, who: str | None = None, limit: int = 50
    ) -> list[Access]:
        import redis

        limit = max(1, min(limit, MAX_READ))
        out: list[Access] = []
        try:
            for access in self._newest():
                if customer_id is not None and access.customer_id != customer_id:
                    continue
                if who is not None and access.who != who:
                    continue
                out.append(access)
                if len(out) >= limit:
                    break
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return out

    def _newest(self) -> Iterator[Access]:
        """The stream from the newest entry back, a thousand entries at a time."""
        last = "+"
        for _ in range(STREAM_MAX // 1000):
            page: Any = self._redis.xrevrange(STREAM, max=last, count=1000)
            if not page:
                return
            for _entry_id, raw in page:
                fields = {k.decode(): v.decode() for k, v in raw.items()}
                yield Access(
                    float(fields.get("at", "0")),
                    fields.get("who", ""),
                    fields.get("customer_id", ""),
                    fields.get("via", ""),
                    fields.get("peer", ""),
                )
            last = "(" + page[-1][0].decode()

    def close(self) -> None:
        self._redis.close()


def open_access_log(settings: Settings) -> AccessLog:
    if settings.redis:
        return RedisAccessLog(settings.redis)
    return SQLiteAccessLog(profile_db_path(settings))
