"""A flood of distinct visitors through the in-process request path: memory must stay flat.

Each request comes from a visitor and an address nobody has seen before, with
its own cookie, browser, language, referrer and ad campaign, so every cache on
the way (cookie codec, addresses, geo, device, channel, keywords, landing
pages) sees only new keys. The resident memory is read at checkpoints: it
grows while the bounded caches fill, then stays flat. `make bench` runs it with
1,000,000 visitors (in a fresh process, so nothing else is measured):

    python -m bench.flood --visitors 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import MutableMapping
from typing import Any

import orjson

from shopwindow.settings import PROJECT_ROOT

SECRET = "flood-secret-not-for-production"
TRUSTED_PEER = "10.0.0.1"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident memory now (not the peak), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def peak_rss_mb() -> float:
    # Linux reports the peak in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _address(n: int) -> bytes:
    # Distinct public-looking IPv4 addresses (a trusted proxy forwards them).
    return (
        f"{11 + n // 16_581_375 % 200}.{n // 65_025 % 255}.{n // 255 % 255}.{n % 255 + 1}".encode()
    )


def _request(n: int, cookie: bytes) -> dict[str, Any]:
    kind = n % 4
    if kind == 0:
        path, query = "/", b""
    elif kind == 1:
        path, query = "/", f"utm_source=news{n}&utm_campaign=c{n}&utm_term=trail+shoes+{n}".encode()
    elif kind == 2:
        path, query = "/_sw/popup", b"trigger=exit"
    else:
        path, query = "/_sw/fragments/recently-viewed", b""
    headers = [
        (b"host", b"shop.example"),
        (b"x-forwarded-for", _address(n)),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Flood/%d" % n),
        (b"accept-language", b"de-DE,de;q=0.%d" % (n % 9 + 1)),
        (b"referer", b"https://blog%d.example/post" % n),
    ]
    if n % 2:  # half the visitors are returning ones, each with a cookie of their own
        headers.append((b"cookie", b"sw=" + cookie))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": (TRUSTED_PEER, 40000 + n % 20000),
        "server": ("127.0.0.1", 8000),
    }


def _cookies(count: int, offset: int) -> list[bytes]:
    """Distinct visitors' cookies (made once: encoding them is not what is measured)."""
    from shopwindow.visitor.cookie import CookieCodec, Visitor

    codec = CookieCodec(SECRET, 365)
    now = int(time.time())
    out = []
    for n in range(count):
        visitor = Visitor(id=f"flood-{offset + n}", new=False, seen=now, affinity_at=now)
        visitor.viewed = [f"w-run-{n % 20 + 1:03d}", f"m-jkt-{n % 9 + 1:03d}"]
        visitor.gender = {"women": 3.0 + n % 5}
        visitor.searches = [f"shoes {n}"]
        out.append(codec.encode(visitor).encode())
    return out


async def flood(visitors: int, checkpoints: int = 10) -> dict[str, Any]:
    from shopwindow.app import create_app
    from shopwindow.settings import load

    settings = load(
        {"rules": str(PROJECT_ROOT / "rules"), "trusted_proxies": ["10.0.0.0/8"]},
        environ={"SHOPWINDOW_SECRET": SECRET, "SHOPWINDOW_STATS_FLUSH_SECONDS": "0.5"},
    )
    # Counts go to a throwaway SQLite file, not beside the demo rules.
    store = tempfile.mkdtemp(prefix="shopwindow-flood-")
    settings = settings.replace(profile_db=os.path.join(store, "flood.sqlite3"))
    app = create_app(settings, watch=False)
    statuses: dict[str, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status = str(message["status"])
            statuses[status] = statuses.get(status, 0) + 1

    points: list[dict[str, float]] = []
    step = max(1, visitors // checkpoints)
    started = time.perf_counter()
    async with _lifespan(app):
        cookies: list[bytes] = []
        for n in range(visitors):
            if n % 50_000 == 0:
                cookies = _cookies(min(50_000, visitors - n), n)  # each cookie used once
            await app(_request(n, cookies[n % 50_000]), receive, send)
            if (n + 1) % step == 0:
                gc.collect()
                points.append({"visitors": n + 1, "rss_mb": round(rss_mb(), 1)})
    seconds = time.perf_counter() - started
    shutil.rmtree(store, ignore_errors=True)
    half = points[len(points) // 2]["rss_mb"] if points else 0.0
    return {
        "visitors": visitors,
        "seconds": round(seconds, 1),
        "us_per_request": round(seconds / max(visitors, 1) * 1e6, 1),
        "statuses": statuses,
        "rss_mb": points,
        "growth_second_half_mb": round(points[-1]["rss_mb"] - half, 1) if points else 0.0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


class _lifespan:
    """Runs the app's startup and shutdown (its background tasks and flushers)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __aenter__(self) -> None:
        async def receive() -> dict[str, Any]:
            return await self.queue.get()

        async def send(message: dict[str, Any]) -> None:
            await self.sent.put(message)

        self.task = asyncio.create_task(self.app({"type": "lifespan"}, receive, send))
        await self.queue.put({"type": "lifespan.startup"})
        await self.sent.get()

    async def __aexit__(self, *exc: object) -> None:
        await self.queue.put({"type": "lifespan.shutdown"})
        await self.sent.get()
        await self.task


def bench_rows(smoke: bool) -> list[Any]:
    """`make bench` rows: a fresh process floods itself; flat memory in the second half passes."""
    import subprocess

    from bench.rows import Row

    visitors = 20_000 if smoke else 1_000_000
    proc = subprocess.run(
        [sys.executable, "-m", "bench.flood", "--visitors", str(visitors), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = orjson.loads(proc.stdout)
    growth = found["growth_second_half_mb"]
    errors = sum(n for status, n in found["statuses"].items() if int(status) >= 500)
    budget = 25.0
    return [
        Row(
            f"{visitors:,} distinct visitors and IPs in process: peak memory",
            "micro",
            found["peak_rss_mb"],
            "MB",
            note=f"{found['us_per_request']} µs/request",
        ),
        Row(
            f"{visitors:,} distinct visitors: memory growth over the second half",
            "micro",
            growth,
            "MB",
            budget=f"≤ {budget:g} MB",
            ok=growth <= budget and errors == 0,
            note=f"{errors} server errors",
            extra=found,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shopwindow-flood", description=__doc__)
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    found = asyncio.run(flood(args.visitors))
    if args.json:
        print(orjson.dumps(found).decode())
    else:
        for point in found["rss_mb"]:
            print(f"{point['visitors']:>10,} visitors  {point['rss_mb']:>8.1f} MB resident")
        print(
            f"peak {found['peak_rss_mb']} MB; second half grew {found['growth_second_half_mb']} MB;"
            f" {found['us_per_request']} µs per request; answers {found['statuses']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
