"""Rule edits under load: the real server keeps answering while marketers edit its files.

An async client loads the server with the shop's traffic (homepage, ad clicks,
storefront, popup, beacon) while an editor rewrites the rule files again and
again, alternating valid and broken edits, and rewrites the catalog once. It
passes when no request failed, every valid edit went live (polled, no time
asserted) and every broken one was reported on /readyz as file:line:column.

    python loadtests/rule_edits.py                         # `make loadtest`: 60 s, 100 edits
    python loadtests/rule_edits.py --seconds 10 --edits 10

The server runs in the development reload mode ("watch": each saved file goes live
once it stands still), where edits reach it without a trigger; production's mode
("trigger") is held by tests/test_deploy_model.py. The run ends with a look at a
rule file just under the size limit (rule_file_max_bytes): /healthz's p99 while it
is parsed, against the same run's p99 without it.

tests/test_rule_edits_under_load.py runs a short version in `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECRET = "rule-edits-load-test"

# Broken edits, each in another file, with what /readyz must say about it.
BROKEN: tuple[tuple[str, str, str], ...] = (
    (
        "homepage.yaml",
        "- id: home-broken\n  when:\n    contry: DE\n  then:\n    path: /broken/\n",
        "homepage.yaml:3:5: unknown context key 'contry'",
    ),
    (
        "landing-pages.yaml",
        "- id: lp-broken\n  then:\n    headline: [unclosed\n    hero: x\n",
        "landing-pages.yaml:4:9: YAML syntax:",
    ),
    (
        "popups.yaml",
        "- id: popup-broken\n  then:\n    title: Hello\n    cta_url: //evil.example/\n",
        "popups.yaml:4:14: '//evil.example/' must be a path on this site",
    ),
    (
        "out-of-stock.yaml",
        "- id: oos-broken\n  when:\n    product.in_stock: false\n  then:\n"
        "    lists:\n      - {name: simliar, count: 4}\n",
        "out-of-stock.yaml:6:16: `name`: expected one of similar, premium, accessories, popular",
    ),
)
AD_CLICK = "/?utm_source=google&utm_medium=cpc&utm_term=womens+running+shoes"


def homepage_rules(marker: str) -> str:
    return f"- id: home-{marker}\n  then:\n    path: /de/{marker}/\n"


def landing_rules(marker: str) -> str:
    return f"- id: lp-{marker}\n  when:\n    campaign.present: true\n  then:\n    headline: Edit {marker}\n"


@dataclass
class Report:
    requests: int = 0
    failed: list[str] = field(default_factory=list)
    valid_edits: int = 0
    valid_live: int = 0
    broken_edits: int = 0
    broken_reported: int = 0
    catalog_edits: int = 0
    catalog_live: int = 0
    problems: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.failed
            and not self.problems
            and self.valid_live == self.valid_edits
            and self.broken_reported == self.broken_edits
            and self.catalog_live == self.catalog_edits
            and self.requests > 0
        )

    def summary(self) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return (
            f"requests {self.requests}, failed {len(self.failed)}, p99 {p99:.1f} ms; "
            f"valid edits live {self.valid_live}/{self.valid_edits}, "
            f"broken edits reported {self.broken_reported}/{self.broken_edits}, "
            f"catalog edits live {self.catalog_live}/{self.catalog_edits}"
        )


# --- the load ------------------------------------------------------------------------------


async def shopper(client: httpx.AsyncClient, report: Report, stop: asyncio.Event, n: int) -> None:
    """One shopper's loop: every answer must be a normal one, whatever the rule files say."""
    plan: list[tuple[str, str, tuple[int, ...]]] = [
        ("GET", "/", (302,)),
        ("GET", AD_CLICK, (200, 302)),
        ("GET", "/de/women/", (200,)),
        ("GET", "/_sw/popup?trigger=exit", (200, 204)),
        ("POST", "/_sw/events", (200,)),
        ("GET", "/_sw/fragments/recently-viewed", (200,)),
        ("GET", "/p/w-run-004", (200,)),
    ]
    step = n
    while not stop.is_set():
        method, path, expected = plan[step % len(plan)]
        step += 1
        start = time.perf_counter()
        try:
            if method == "POST":
                response = await client.post(path, json={"type": "view", "product_id": "w-run-001"})
            else:
                response = await client.get(path)
        except httpx.HTTPError as exc:
            report.failed.append(f"{method} {path}: {exc!r}")
            continue
        report.latencies.append(time.perf_counter() - start)
        report.requests += 1
        if response.status_code not in expected:
            report.failed.append(f"{method} {path}: {response.status_code}")


# --- the editor ----------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    """Poll an async predicate until it holds (True) or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def edit_rules(
    url: str,
    rules: Path,
    catalog: Path,
    edits: int,
    seconds: float,
    report: Report,
    timeout: float,
) -> None:
    originals = {name: (rules / name).read_text() for name, _, _ in BROKEN}
    spacing = seconds / max(edits, 1)
    async with httpx.AsyncClient(base_url=url, timeout=10, follow_redirects=False) as probe:

        async def live(marker: str) -> bool:
            home = await probe.get("/")
            ad = await probe.get(AD_CLICK)
            return (
                home.headers.get("location") == f"/de/{marker}/"
                and ad.headers.get("x-shopwindow-rules") == f"lp-{marker}"
            )

        async def reported(expected: str) -> bool:
            errors = (await probe.get("/readyz")).json().get("rule_errors", [])
            return any(expected in error for error in errors)

        async def products(count: int) -> bool:
            return bool((await probe.get("/readyz")).json()["products"] == count)

        for n in range(edits):
            began = time.monotonic()
            if n % 2 == 0:
                marker = f"e{n}"
                for name, text in originals.items():
                    (rules / name).write_text(text)  # back to a whole valid folder
                (rules / "homepage.yaml").write_text(homepage_rules(marker))
                (rules / "landing-pages.yaml").write_text(landing_rules(marker))
                report.valid_edits += 1
                if await until(lambda m=marker: live(m), timeout):
                    report.valid_live += 1
                else:
                    report.problems.append(f"valid edit {n} never went live")
            else:
                name, text, expected = BROKEN[(n // 2) % len(BROKEN)]
                (rules / name).write_text(text)
                report.broken_edits += 1
                if await until(lambda e=expected: reported(e), timeout):
                    report.broken_reported += 1
                else:
                    report.problems.append(f"broken edit {n} ({expected}) never reported")
            if n == edits // 2:
                lines = catalog.read_text().splitlines()
                count = len(lines) - 7
                catalog.write_text("\n".join(lines[:count]) + "\n")
                report.catalog_edits += 1
                if await until(lambda c=count: products(c), timeout):
                    report.catalog_live += 1
                else:
                    report.problems.append("the catalog edit never went live")
            await asyncio.sleep(max(0.0, spacing - (time.monotonic() - began)))
        for name, text in originals.items():
            (rules / name).write_text(text)


async def run(
    url: str,
    rules: Path,
    catalog: Path,
    *,
    edits: int = 100,
    seconds: float = 60.0,
    shoppers: int = 8,
    timeout: float = 30.0,
) -> Report:
    """Load `url` while editing `rules` and `catalog` (the files that server reads)."""
    report = Report()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=shoppers * 2)
    async with httpx.AsyncClient(
        base_url=url, timeout=10, follow_redirects=False, limits=limits
    ) as client:
        load = [asyncio.create_task(shopper(client, report, stop, n)) for n in range(shoppers)]
        try:
            await edit_rules(url, rules, catalog, edits, seconds, report, timeout)
        finally:
            stop.set()
            await asyncio.gather(*load)
    return report


# --- a large file parsed while answering -----------------------------------------------


@dataclass
class ParseStall:
    """/healthz answer times (seconds) without a parse and while a large file is parsed."""

    without: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    size: int = 0

    @staticmethod
    def p99(times: list[float]) -> float:
        ordered = sorted(times)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0

    def summary(self) -> str:
        return (
            f"/healthz p99 {self.p99(self.without) * 1000:.1f} ms without a parse, "
            f"{self.p99(self.during) * 1000:.1f} ms during the parse of a {self.size:,}-byte "
            f"rule file ({len(self.during)} answers during it)"
        )


def file_just_under(limit: int) -> str:
    """A valid homepage.yaml of distinct rules, just under `limit` bytes."""
    rule = "- id: big-{i}\n  when:\n    country: JP\n  then:\n    path: /big/{i}/\n"
    parts: list[str] = []
    size = 0
    while True:
        text = rule.format(i=len(parts))
        if size + len(text) > limit:
            return "".join(parts)
        parts.append(text)
        size += len(text)


async def parse_stall(url: str, rules: Path, limit: int, samples: int = 400) -> ParseStall:
    """Time /healthz, then write a file just under the limit and time it while /readyz says
    the shop is reloading; the file is put back afterwards."""
    stall = ParseStall()
    homepage = rules / "homepage.yaml"
    original = homepage.read_text()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def timed() -> float:
            start = time.perf_counter()
            (await client.get("/healthz")).raise_for_status()
            return time.perf_counter() - start

        for _ in range(samples):
            stall.without.append(await timed())
        big = file_just_under(limit)
        stall.size = len(big.encode())
        homepage.write_text(big)
        started = False
        deadline = time.monotonic() + 300
        try:
            while time.monotonic() < deadline:
                if (await client.get("/readyz")).json().get("reloading"):
                    started = True
                    stall.during.append(await timed())
                elif started:
                    break
                else:
                    await asyncio.sleep(0.01)
        finally:
            homepage.write_text(original)
    return stall


# --- the command -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    rules: Path, catalog: Path, port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHOPWINDOW_SECRET": SECRET}
    command = [
        sys.executable, "-m", "shopwindow", "serve", "--rules", str(rules),
        "--catalog", str(catalog), "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server not ready: " + log.read_text())


def copy_shop(folder: Path) -> tuple[Path, Path]:
    """A writable copy of the demo rules and catalog (the editor rewrites them)."""
    rules = folder / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("*.sqlite3*"))
    toml = rules / "shopwindow.toml"
    toml.write_text(
        toml.read_text()
        .replace('"../demo/', f'"{ROOT}/demo/')
        .replace('"../templates"', f'"{ROOT}/templates"')
    )
    catalog = folder / "catalog.jsonl"
    shutil.copyfile(ROOT / "demo" / "catalog.jsonl", catalog)
    return rules, catalog


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--shoppers", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--parse-limit",
        type=int,
        default=2 * 1024 * 1024,
        help="rule_file_max_bytes for the run; the large file is just under it",
    )
    args = parser.parse_args()
    os.environ["SHOPWINDOW_RULE_FILE_MAX_BYTES"] = str(args.parse_limit)
    with tempfile.TemporaryDirectory(prefix="shopwindow-rule-edits-") as tmp:
        rules, catalog = copy_shop(Path(tmp))
        log = Path(tmp) / "server.log"
        port = free_port()
        server = start_server(rules, catalog, port, args.workers, log)
        try:
            report = asyncio.run(
                run(
                    f"http://127.0.0.1:{port}",
                    rules,
                    catalog,
                    edits=args.edits,
                    seconds=args.seconds,
                    shoppers=args.shoppers,
                )
            )
            stall = asyncio.run(parse_stall(f"http://127.0.0.1:{port}", rules, args.parse_limit))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"rule edits under load ({args.seconds:g} s, {args.edits} edits): {report.summary()}")
    print(f"large rule file: {stall.summary()}")
    for line in [*report.failed[:20], *report.problems]:
        print("  " + line, file=sys.stderr)
    if not report.ok:
        print("rule edits under load FAILED", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
