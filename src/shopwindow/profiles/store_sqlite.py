"""The embedded profile store: one SQLite file in WAL mode, no server to run."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from shopwindow.profiles.model import (
    MAX_ORDERS,
    MAX_PRODUCTS,
    Activity,
    DropReminder,
    Order,
    Profile,
    PurchaseLine,
    merge_activity,
    orders_of,
    seen_span,
)
from shopwindow.profiles.store import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS lines (
    customer_id TEXT NOT NULL,
    row_key     TEXT NOT NULL,
    order_key   TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    full_price  INTEGER NOT NULL,
    store       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (customer_id, row_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY,
    email_hash  TEXT NOT NULL DEFAULT '',
    activity    BLOB
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS drop_reminders (
    drop_id     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (drop_id, customer_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emails (
    email_hash  TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL
) WITHOUT ROWID;
"""
# A customer's lines sit together in the primary key, so every aggregate below
# is one short range scan.
_TOTALS = """
SELECT count(DISTINCT CASE WHEN store = '' THEN order_key END),
       count(DISTINCT CASE WHEN store <> '' THEN order_key END),
       coalesce(sum(price_cents), 0), min(at), max(at), count(*)
FROM lines WHERE customer_id = ?
"""
_PREFERRED_STORE = """
SELECT store FROM lines WHERE customer_id = ? AND store <> ''
GROUP BY store ORDER BY count(DISTINCT order_key) DESC, max(at) DESC, store LIMIT 1
"""
_PRODUCTS = f"""
SELECT product_id, max(full_price) FROM lines WHERE customer_id = ?
GROUP BY product_id ORDER BY max(at) DESC, product_id LIMIT {MAX_PRODUCTS}
"""

# The newest orders: their keys first, then every line of those orders.
_ORDERS = """
SELECT order_key, store, at, product_id, price_cents, full_price FROM lines
WHERE customer_id = ? AND order_key IN (
    SELECT order_key FROM lines WHERE customer_id = ?
    GROUP BY order_key ORDER BY max(at) DESC, order_key LIMIT ?
)
ORDER BY at DESC, order_key, product_id
"""


class SQLiteProfiles:
    """Profiles in one SQLite file; safe across threads and worker processes (WAL)."""

    name = "sqlite"

    def __init__(
        self, path: str, *, half_life_days: float = 30.0, busy_ms: int = 5000, bulk: bool = False
    ) -> None:
        self.path = path
        self.bulk = bulk
        self.half_life_days = half_life_days
        self.busy_ms = busy_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._ready = False

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_ms)}")
            with self._lock:
                if not self._ready:
                    # Once per store: switching to WAL wants the file to itself, and the
                    # schema is idempotent (the file may hold other parts' tables too).
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.executescript(SCHEMA)
                    self._ready = True
            # WAL + NORMAL: a crash never corrupts the file; at worst the last
            # moments of writes are lost, which the next beacon or import redoes.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -16000")
            if self.bulk:
                # An import touches pages all over the file: checkpointing every 80 MB
                # of WAL instead of every 4 MB makes it two to three times faster.
                conn.execute("PRAGMA wal_autocheckpoint = 20000")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def get(self, customer_id: str) -> Profile | None:
        try:
            conn = self._conn()
            row = conn.execute(
                "SELECT email_hash, activity FROM customers WHERE customer_id = ?", (customer_id,)
            ).fetchone()
            online, offline, cents, first, last, lines = conn.execute(
                _TOTALS, (customer_id,)
            ).fetchone()
            if row is None and not lines:
                return None
            store = None
            products: tuple[tuple[str, bool], ...] = ()
            if lines:
                found = conn.execute(_PREFERRED_STORE, (customer_id,)).fetchone()
                store = found[0] if found else None
                products = tuple(
                    (pid, bool(full)) for pid, full in conn.execute(_PRODUCTS, (customer_id,))
                )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        activity = Activity.from_json(row[1] if row else None)
        first_seen, last_seen = seen_span(
            (first or 0, last or 0), (activity.first_seen, activity.last_seen)
        )
        return Profile(
            customer_id=customer_id,
            online_orders=online,
            offline_orders=offline,
            lifetime_value_cents=int(cents),
            preferred_store=store,
            first_seen=first_seen,
            last_seen=last_seen,
            email_hash=row[0] if row else "",
            products=products,
            activity=activity,
        )

    def customer_for_email(self, email_hash: str) -> str | None:
        try:
            row = (
                self._conn()
                .execute("SELECT customer_id FROM emails WHERE email_hash = ?", (email_hash,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        return str(row[0]) if row else None

    def rekey_email(self, old_hash: str, new_hash: str, customer_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO emails VALUES (?, ?) ON CONFLICT (email_hash) "
                "DO UPDATE SET customer_id = excluded.customer_id",
                (new_hash, customer_id),
            )
            conn.execute("DELETE FROM emails WHERE email_hash = ?", (old_hash,))
            conn.execute(
                "UPDATE customers SET email_hash = ? WHERE customer_id = ?", (new_hash, customer_id)
            )

    def orders(self, customer_id: str, limit: int = 20) -> list[Order]:
        limit = max(1, min(limit, MAX_ORDERS))
        try:
            rows = self._conn().execute(_ORDERS, (customer_id, customer_id, limit)).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        return orders_of(
            ((key, store, at, pid, cents, bool(full)) for key, store, at, pid, cents, full in rows),
            limit,
        )

    def add_purchases(self, lines: Sequence[PurchaseLine]) -> int:
        if not lines:
            return 0
        emails = {line.email_hash: line.customer_id for line in lines if line.email_hash}
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        line.customer_id,
                        line.key,
                        line.order_key,
                        line.product_id,
                        line.price_cents,
                        int(line.full_price),
                        line.store,
                        line.at,
                    )
                    for line in lines
                ],
            )
            added = conn.total_changes - before
            if emails:
                conn.executemany(
                    "INSERT INTO emails VALUES (?, ?) ON CONFLICT (email_hash) "
                    "DO UPDATE SET customer_id = excluded.customer_id",
                    list(emails.items()),
                )
                conn.executemany(
                    "INSERT INTO customers (customer_id, email_hash) VALUES (?, ?) "
                    "ON CONFLICT (customer_id) DO UPDATE SET email_hash = excluded.email_hash",
                    [(cid, h) for h, cid in emails.items()],
                )
        return added

    def update_activity(self, reports: Mapping[str, Activity]) -> None:
        if not reports:
            return
        with self._write() as conn:
            for customer_id, report in reports.items():
                row = conn.execute(
                    "SELECT activity FROM customers WHERE customer_id = ?", (customer_id,)
                ).fetchone()
                merged = merge_activity(
                    Activity.from_json(row[0] if row else None), report, self.half_life_days
                )
                conn.execute(
                    "INSERT INTO customers (customer_id, activity) VALUES (?, ?) "
                    "ON CONFLICT (customer_id) DO UPDATE SET activity = excluded.activity",
                    (customer_id, merged.to_json()),
                )

    def remind(self, customer_id: str, drop: str, at: int) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO drop_reminders (drop_id, customer_id, at) VALUES (?, ?, ?) "
                "ON CONFLICT (drop_id, customer_id) DO UPDATE SET at = excluded.at",
                (drop, customer_id, at),
            )

    def reminders(self, drop: str | None = None) -> list[DropReminder]:
        query = "SELECT drop_id, customer_id, at FROM drop_reminders"
        args: tuple[str, ...] = ()
        if drop is not None:
            query += " WHERE drop_id = ?"
            args = (drop,)
        try:
            rows = self._conn().execute(query + " ORDER BY drop_id, at, customer_id", args)
            return [DropReminder(d, c, int(a)) for d, c, a in rows.fetchall()]
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def forget(self, customer_id: str) -> bool:
        with self._write() as conn:
            before = conn.total_changes
            for table in ("lines", "customers", "emails", "drop_reminders"):
                conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (customer_id,))
            return conn.total_changes > before

    def ping(self) -> None:
        try:
            self._conn().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    if self.bulk:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
