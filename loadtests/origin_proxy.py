"""`make loadtest`: what `serve --origin` adds to a page, at a fixed arrival rate.

nginx serves the demo shop's origin pages; shopwindow serves the same pages in
front of it (`serve --origin`). locust sends the same fixed rate of page views
(500 pages/s by default, each shopper at a steady pace) first to nginx
directly, then through shopwindow: one pair. Three pairs alternate in one run and the median
pair counts. The proxied p50 may exceed the direct p50 by at most 1 ms, and the
p99 by at most 5 ms, with no failed request.

`--clients` instead compares HTTP clients fetching the same page from the same
nginx, the way the proxy does (a pool, no cookie jar, the body read whole): the
measurement that chose aiohttp's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent))  # the benchmark harness lives beside loadtests/

from bench.harness import SECRET, Server, free_port  # noqa: E402

from shopwindow.serve.nginx import DEMO_PAGES, find_binary, origin_site  # noqa: E402

P50_BUDGET_MS = 1.0
P99_BUDGET_MS = 5.0


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str, rate: float, users: int, seconds: int, work: Path, name: str) -> dict[str, float]:
    times_file = work / f"{name}.times"
    env = {
        **os.environ,
        "SW_USER_RATE": str(rate / users),
        "SW_PAGES": ",".join(DEMO_PAGES),
        "SW_TIMES_OUT": str(times_file),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(HERE / "proxy_locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),  # all shoppers at once: the rate is what is measured, not the ramp
            "-t",
            f"{seconds}s",
            "-H",
            url,
            "--only-summary",
            "--exit-code-on-error",
            "0",
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=seconds + 120,
    )
    lines = times_file.read_text().splitlines()
    failures = float(lines[0].split()[1])
    # The first second is the shoppers arriving; what counts is the steady rate after it.
    times = [float(t) for t in lines[1:]][int(rate) :]
    return {
        "requests": float(len(times)),
        "failures": failures,
        "rps": len(times) / max(seconds - 1, 1),
        "p50": percentile(times, 0.50),
        "p99": percentile(times, 0.99),
    }


async def per_fetch_us(fetch: Callable[[], Awaitable[int]], fetches: int) -> float:
    """Median over five rounds of the time per fetch, one fetch after another."""
    for _ in range(200):
        await fetch()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(fetches):
            await fetch()
        rounds.append((time.perf_counter() - start) / fetches * 1e6)
    return statistics.median(rounds)


async def compare_clients(url: str, fetches: int) -> None:
    import aiohttp
    import httpcore
    import httpx

    headers = [("user-agent", "Mozilla/5.0"), ("accept", "text/html"), ("via", "1.1 shopwindow")]
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    ) as session:

        async def with_aiohttp() -> int:
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                return len(await response.read())

        print(f"aiohttp session     {await per_fetch_us(with_aiohttp, fetches):8.0f} µs per page")
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200), retries=0)

    async def with_httpx() -> int:
        response = await transport.handle_async_request(httpx.Request("GET", url, headers=headers))
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return len(body)

    print(f"httpx transport     {await per_fetch_us(with_httpx, fetches):8.0f} µs per page")
    await transport.aclose()
    pool = httpcore.AsyncConnectionPool(max_connections=200)

    async def with_httpcore() -> int:
        async with pool.stream("GET", url, headers=headers) as response:
            return len(b"".join([chunk async for chunk in response.aiter_stream()]))

    print(f"httpcore pool       {await per_fetch_us(with_httpcore, fetches):8.0f} µs per page")
    await pool.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=500.0, help="pages/s, direct and proxied")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=15, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="pairs (direct, then proxied)")
    parser.add_argument("--clients", action="store_true", help="compare HTTP clients instead")
    args = parser.parse_args()
    if find_binary() is None:
        print("origin proxy load test: needs nginx (apt-get install -y nginx)", file=sys.stderr)
        return 1
    if args.clients:
        with tempfile.TemporaryDirectory() as tmp, origin_site(Path(tmp)) as origin:
            asyncio.run(compare_clients(origin.url + "/de/women/", 2000))
        return 0
    pairs: list[tuple[float, dict[str, float], dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="shopwindow-loadtest-origin-") as tmp:
        work = Path(tmp)
        with origin_site(work) as origin:
            proxy = Server(free_port(), ["--origin", origin.url], {"SHOPWINDOW_SECRET": SECRET})
            try:
                for i in range(args.rounds):
                    direct = run(origin.url, args.rate, args.users, args.seconds, work, f"d{i}")
                    proxied = run(proxy.url, args.rate, args.users, args.seconds, work, f"p{i}")
                    pairs.append((proxied["p50"] - direct["p50"], direct, proxied))
            finally:
                proxy.stop()
    print(f"{'':18}{'pages':>8}{'failed':>8}{'pages/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for i, (_, direct, proxied) in enumerate(pairs):
        for name, r in ((f"pair {i + 1} direct", direct), (f"pair {i + 1} proxied", proxied)):
            print(
                f"{name:18}{r['requests']:>8.0f}{r['failures']:>8.0f}{r['rps']:>9.1f}"
                f"{r['p50']:>9.2f}{r['p99']:>9.2f}"
            )
    added50 = statistics.median(p["p50"] - d["p50"] for _, d, p in pairs)
    added99 = statistics.median(p["p99"] - d["p99"] for _, d, p in pairs)
    failures = sum(d["failures"] + p["failures"] for _, d, p in pairs)
    print(
        f"proxy adds p50 {added50:+.2f} ms (budget ≤ {P50_BUDGET_MS:g}),"
        f" p99 {added99:+.2f} ms (budget ≤ {P99_BUDGET_MS:g}), median of {len(pairs)} pairs;"
        f" failed requests {failures:.0f} (budget 0)"
    )
    ok = added50 <= P50_BUDGET_MS and added99 <= P99_BUDGET_MS and failures == 0
    if not ok:
        print("origin proxy load test OVER BUDGET", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
