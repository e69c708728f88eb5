"""Purchases from a POS or CRM export (CSV or JSON Lines) into the profile store, streamed.

Constant memory whatever the file's size: rows are read, checked and written
in batches. A bad row is reported as `file:line: reason` and the rest
imports; a line already stored (same customer, order, product, price, store
and moment) is not stored again, so importing a file twice adds nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import math
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Any

import orjson
from cachetools import LRUCache

from shopwindow.profiles.model import PurchaseLine, email_hash, order_key
from shopwindow.profiles.store import ProfileStore

FIELDS = (
    "customer_id",
    "email",
    "product_id",
    "price",
    "full_price",
    "store",
    "timestamp",
    "order_id",
)
DEFAULT_COLUMNS = FIELDS[:7]
BATCH = 5_000
MAX_BAD_SHOWN = 100
_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,64}$")  # as the beacon's identify event accepts
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE = frozenset({"", "1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})
_UNKNOWN = "\x00unknown"
MIN_TIME = 631152000  # 1990-01-01: older moments are a unit mistake (ms, or days)


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, or a header without needed columns)."""


class RowError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BadRow:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    bad: int = 0
    seconds: float = 0.0
    bad_rows: list[BadRow] = field(default_factory=list)  # the first MAX_BAD_SHOWN

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """--map 'Kundennummer=customer_id' ...: export column -> shopwindow field."""
    out: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise ImportFileError(f"--map {pair!r} must look like 'export column=field'")
        if target not in FIELDS:
            raise ImportFileError(f"--map {pair!r}: {target!r} is not one of {', '.join(FIELDS)}")
        out[source.lower()] = target
    return out


def detect_format(path: str) -> str:
    name = path.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


class _CountingLines:
    """Text lines of a (possibly gzipped) file, counting the raw bytes read for the progress bar."""

    def __init__(self, raw: IO[bytes], gzipped: bool) -> None:
        self.raw = raw
        self.stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        self.first = True

    @property
    def position(self) -> int:
        return self.raw.tell()

    def __iter__(self) -> Iterator[str]:
        for chunk in self.stream:
            text = chunk.decode("utf-8-sig" if self.first else "utf-8", errors="replace")
            self.first = False
            yield text


def read_rows(
    lines: Iterable[str], fmt: str, mapping: Mapping[str, str], file: str
) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    """(line number, fields by shopwindow name) per row, or a BadRow when it cannot be read."""
    if fmt == "jsonl":
        yield from _jsonl_rows(lines, mapping, file)
    else:
        yield from _csv_rows(lines, mapping, file)


def _target(name: str, mapping: Mapping[str, str]) -> str:
    key = name.strip().lower()
    return mapping.get(key, key)


def _csv_rows(
    lines: Iterable[str], mapping: Mapping[str, str], file: str
) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    it = iter(lines)
    try:
        first = next(it)
    except StopIteration:
        return
    delimiter = ";" if first.count(";") > first.count(",") else ","
    if "\t" in first and first.count("\t") > first.count(delimiter):
        delimiter = "\t"

    def again() -> Iterator[str]:
        yield first
        yield from it

    reader = csv.reader(again(), delimiter=delimiter)
    header = [_target(h, mapping) for h in next(reader)]
    _check_header(header, file)
    width = len(header)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(file, start, f"not CSV: {exc}")
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield BadRow(file, start, f"{len(row)} fields, the header has {width}")
            continue
        yield start, dict(zip(header, row, strict=True))


def _check_header(header: list[str], file: str) -> None:
    missing = [f for f in ("product_id", "price", "timestamp") if f not in header]
    if "customer_id" not in header and "email" not in header:
        missing.insert(0, "customer_id (or email)")
    if missing:
        raise ImportFileError(
            f"{file}:1: the header has no {', '.join(missing)}; columns found: "
            f"{', '.join(header) or '(none)'}; map yours with --map 'column=field'"
        )


def _jsonl_rows(
    lines: Iterable[str], mapping: Mapping[str, str], file: str
) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    checked = False
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield BadRow(file, number, f"not JSON: {exc}")
            continue
        if not isinstance(data, dict):
            yield BadRow(file, number, "not a JSON object")
            continue
        row = {_target(str(k), mapping): v for k, v in data.items()}
        if not checked:
            _check_header(list(row), file)
            checked = True
        yield number, row


# --- one row -------------------------------------------------------------------


def parse_row(row: Mapping[str, Any], *, secret: str, tz: tzinfo, now: float) -> PurchaseLine:
    """A checked purchase line (customer id "" when only an email names the customer)."""
    customer = _text(row.get("customer_id"))
    email = _text(row.get("email"))
    if customer and not _ID.match(customer):
        raise RowError("customer_id must be 1-64 letters, digits or - _ . : @ +")
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        raise RowError(f"email {email[:60]!r} is not an email address")
    if not customer and not email:
        raise RowError("no customer_id and no email")
    product = _text(row.get("product_id"))
    if not product:
        raise RowError("no product_id")
    if not _ID.match(product):
        raise RowError("product_id must be 1-64 letters, digits or - _ . : @ +")
    price = _price(row.get("price"))
    full = _flag(row.get("full_price"))
    store = _text(row.get("store"))
    if len(store) > 100 or _CONTROL.search(store):
        raise RowError("store must be at most 100 characters, without control characters")
    at = _moment(row.get("timestamp"), tz, now)
    order_id = _text(row.get("order_id"))
    if order_id and not _ID.match(order_id):
        raise RowError("order_id must be 1-64 letters, digits or - _ . : @ +")
    channel = "offline" if store else "online"
    return PurchaseLine(
        customer_id=customer,
        product_id=product,
        price_cents=round(price * 100),
        full_price=full,
        store=store,
        at=at,
        order_key=order_key(channel, order_id or None, store, at),
        email_hash=email_hash(email, secret) if email else "",
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise RowError(f"expected text, got {str(value).lower()}")
    return str(value).strip()


def _price(value: Any) -> float:
    if isinstance(value, bool):
        raise RowError("price must be a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(value)
        if not text:
            raise RowError("no price")
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # 12,50 from a European export
        try:
            number = float(text)
        except ValueError:
            raise RowError(f"price {text[:30]!r} is not a number") from None
    if not math.isfinite(number) or not 0 <= number < 1e9:
        raise RowError("price must be a number of 0 or more (returns are not imported)")
    return number


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(f"full_price {text[:20]!r} must be true or false")


def _moment(value: Any, tz: tzinfo, now: float) -> int:
    if isinstance(value, bool) or value is None or value == "":
        raise RowError("no timestamp")
    if isinstance(value, int | float):
        at = float(value)
    else:
        text = _text(value)
        try:
            at = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise RowError(
                    f"timestamp {text[:40]!r} is neither ISO 8601 nor seconds since 1970"
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            at = moment.timestamp()
    if not math.isfinite(at) or at < MIN_TIME:
        raise RowError("timestamp is before 1990: seconds since 1970 expected")
    if at > now + 86400:
        raise RowError("timestamp is in the future")
    return int(at)


# --- the import ------------------------------------------------------------------


def import_rows(
    store: ProfileStore,
    rows: Iterable[tuple[int, Mapping[str, Any]] | BadRow],
    *,
    file: str,
    secret: str,
    tz: tzinfo,
    batch: int = BATCH,
    on_bad: Callable[[BadRow], None] | None = None,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Check and store rows in batches; the in-process entry point `make bench` times."""
    report = ImportReport()
    started = time.perf_counter()
    now = time.time()
    # Email hash -> customer, for rows that name only an email: bounded, looked up once each.
    owners: LRUCache[str, str | None] = LRUCache(10_000)
    pending: list[PurchaseLine] = []

    def bad(row: BadRow) -> None:
        report.bad += 1
        if len(report.bad_rows) < MAX_BAD_SHOWN:
            report.bad_rows.append(row)
        if on_bad is not None:
            on_bad(row)

    def write() -> None:
        added = store.add_purchases(pending)
        report.added += added
        report.duplicates += len(pending) - added
        pending.clear()
        if on_batch is not None:
            on_batch(report)

    # Rows that name only an email wait on disk until every row with a customer id
    # is in, so any row of the file (or an earlier import) may link that email.
    with tempfile.TemporaryFile() as later:
        for item in rows:
            report.rows += 1
            if isinstance(item, BadRow):
                bad(item)
                continue
            number, row = item
            try:
                line = parse_row(row, secret=secret, tz=tz, now=now)
            except RowError as exc:
                bad(BadRow(file, number, str(exc)))
                continue
            if not line.customer_id:
                later.write(orjson.dumps([number, *dataclasses.astuple(line)]) + b"\n")
                continue
            pending.append(line)
            if len(pending) >= batch:
                write()
        write()
        later.seek(0)
        for raw in later:
            number, *fields = orjson.loads(raw)
            line = PurchaseLine(*fields)
            owner = owners.get(line.email_hash, _UNKNOWN)
            if owner is _UNKNOWN:
                owner = store.customer_for_email(line.email_hash)
                owners[line.email_hash] = owner
            if owner is None:
                bad(BadRow(file, number, "no customer_id, and no row links this email to one"))
                continue
            pending.append(dataclasses.replace(line, customer_id=str(owner), email_hash=""))
            if len(pending) >= batch:
                write()
        write()
    report.seconds = time.perf_counter() - started
    return report


def import_file(
    store: ProfileStore,
    path: str,
    *,
    secret: str,
    tz: tzinfo,
    fmt: str | None = None,
    mapping: Mapping[str, str] | None = None,
    batch: int = BATCH,
    on_bad: Callable[[BadRow], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one export file; `on_progress(bytes read so far)` after every batch."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, read lazily by the generator
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None
    with raw:
        lines = _CountingLines(raw, path.lower().endswith(".gz"))
        rows = read_rows(lines, fmt or detect_format(path), mapping or {}, path)

        def progress(_: ImportReport) -> None:
            if on_progress is not None:
                on_progress(lines.position)

        try:
            return import_rows(
                store,
                rows,
                file=path,
                secret=secret,
                tz=tz,
                batch=batch,
                on_bad=on_bad,
                on_batch=progress,
            )
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ImportFileError(f"{path}: {exc}") from None


# --- generated exports, for benchmarks ----------------------------------------------

STORES = (
    "Berlin Mitte",
    "Hamburg Altona",
    "München Marienplatz",
    "Köln Ehrenstraße",
    "Frankfurt Zeil",
    "Wien Neubau",
    "Zürich Bahnhofstrasse",
    "Paris Marais",
)


def generate_rows(
    count: int, *, seed: int = 1, customers: int | None = None, start: int = 1_700_000_000
) -> Iterator[dict[str, str]]:
    """A POS export of `count` lines in the default columns, the same for the same seed."""
    rng = random.Random(seed)
    people = customers or max(1, count // 8)
    for n in range(count):
        c = rng.randrange(people)
        price = rng.choice((19.95, 29.95, 49.0, 79.5, 119.0, 12.5, 5.0))
        yield {
            "customer_id": f"c{c:07d}",
            "email": f"customer{c}@example.com",
            "product_id": f"p{rng.randrange(5000):05d}",
            "price": f"{price:.2f}",
            "full_price": "true" if rng.random() < 0.7 else "false",
            "store": STORES[c % len(STORES)] if rng.random() < 0.9 else "",
            "timestamp": str(start + n * 7),
        }


def write_csv(rows: Iterable[Mapping[str, str]], path: str | Path) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(DEFAULT_COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    count = 0
    with open(path, "wb") as out:
        for row in rows:
            out.write(orjson.dumps(row) + b"\n")
            count += 1
    return count
