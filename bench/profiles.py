"""`make bench` rows for the profile store: import rate, peak memory, lookup cost (SQLite, Redis)."""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.rows import Row, per_call_us

IMPORT_SCRIPT = """
import json, sys
from bench.micro import bench_import
from shopwindow.profiles.store_sqlite import SQLiteProfiles
from shopwindow.profiles.store_redis import RedisProfiles
kind, target, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = SQLiteProfiles(target, bulk=True) if kind == "sqlite" else RedisProfiles(target, timeout=5.0)
report = bench_import(store, rows)
# ru_maxrss survives exec (it would show the parent's high-water mark); VmHWM is this process's
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        report["peak_rss_mb"] = int(line.split()[1]) / 1024
print(json.dumps(report))
"""


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server on a free loopback port, or None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="shopwindow-bench-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            folder,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _import(kind: str, target: str, rows: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, kind, target, str(rows)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _lookups(store: Any, min_time: float) -> list[tuple[str, float]]:
    from shopwindow.profiles.service import Profiles

    ids = [f"c{n:07d}" for n in range(0, 1000, 7)]
    cycle = itertools.cycle(ids)
    uncached = per_call_us(lambda: store.get(next(cycle)), min_time)
    cached_profiles = Profiles(store, ttl=3600)
    for cid in ids:
        cached_profiles.lookup(cid)
    cycle2 = itertools.cycle(ids)
    cached = per_call_us(lambda: cached_profiles.lookup(next(cycle2)), min_time)
    return [("uncached", uncached), ("cached", cached)]


def profile_rows(min_time: float, smoke: bool) -> list[Row]:
    from shopwindow.profiles.store_redis import RedisProfiles
    from shopwindow.profiles.store_sqlite import SQLiteProfiles

    rows_to_import = 10_000 if smoke else 1_000_000
    out: list[Row] = []
    backends: list[tuple[str, Callable[[], Any], str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="shopwindow-bench-") as tmp,
        redis_server() as redis_url,
    ):
        db = str(Path(tmp) / "profiles.sqlite3")
        backends.append(("SQLite", lambda: SQLiteProfiles(db), db))
        if redis_url:
            backends.append(("Redis", lambda: RedisProfiles(redis_url, timeout=0.05), redis_url))
        else:
            out.append(Row("profile store on Redis", "info", note="redis-server not installed"))
        for name, open_store, target in backends:
            kind = "sqlite" if name == "SQLite" else "redis"
            report = _import(kind, target, rows_to_import)
            out.append(
                Row(
                    f"import purchases into {name}, {rows_to_import:,} rows",
                    "micro",
                    report["rows_per_s"],
                    "rows/s",
                    note=f"peak RSS {report['peak_rss_mb']:.0f} MB",
                )
            )
            store = open_store()
            for label, us in _lookups(store, min_time):
                out.append(Row(f"profile lookup on {name}, {label}", "micro", us, "µs"))
    return out
