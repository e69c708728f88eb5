"""`make loadtest`: the traffic mix against the real server, p99 held to a budget.

Runs locust headless twice at the same fixed arrival rate: once against the
empty endpoint (the baseline), once with the shop's traffic mix. The mix's p99
must stay within BUDGET x the baseline's p99, with zero failed requests.
Writes CSV and HTML reports to loadtests/reports/.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent))  # the benchmark harness, when it lives beside loadtests/

from bench.harness import SECRET, Server, free_port  # noqa: E402

BUDGET = 4.0  # p99 of the mix / p99 of the empty endpoint, same rate, same run


def run_locust(
    url: str, mix: str, users: int, rate: float, seconds: int, out: Path
) -> dict[str, float]:
    env = {**os.environ, "SW_MIX": mix, "SW_USER_RATE": str(rate)}
    prefix = out / mix
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(max(1, users // 2)),
        "-t",
        f"{seconds}s",
        "-H",
        url,
        "--csv",
        str(prefix),
        "--html",
        str(prefix) + ".html",
        "--only-summary",
        "--exit-code-on-error",
        "0",
    ]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(str(prefix) + "_stats.csv") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    total = rows["Aggregated"]
    return {
        "requests": float(total["Request Count"]),
        "failures": float(total["Failure Count"]),
        "p50": float(total["50%"]),
        "p99": float(total["99%"]),
        "rps": float(total["Requests/s"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0, help="requests/s per user")
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "granian"])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    out = HERE / "reports"
    out.mkdir(exist_ok=True)
    server = Server(
        free_port(),
        ["--server", args.server, "--workers", str(args.workers)],
        {"SHOPWINDOW_SECRET": SECRET},
    )
    try:
        base = run_locust(server.url, "empty", args.users, args.rate, args.seconds, out)
        mix = run_locust(server.url, "shop", args.users, args.rate, args.seconds, out)
    finally:
        server.stop()
    ratio = mix["p99"] / max(base["p99"], 1.0)
    print(f"{'':24}{'requests':>10}{'failed':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, r in (("empty endpoint", base), ("shop traffic mix", mix)):
        print(
            f"{name:24}{r['requests']:>10.0f}{r['failures']:>8.0f}{r['rps']:>9.1f}{r['p50']:>9.0f}{r['p99']:>9.0f}"
        )
    print(
        f"p99 ratio {ratio:.2f} (budget ≤ {BUDGET:g}); failed requests {mix['failures']:.0f} (budget 0)"
    )
    print(f"reports: {out}/shop.html, {out}/empty.html")
    ok = ratio <= BUDGET and mix["failures"] == 0
    if not ok:
        print("load test OVER BUDGET", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
