"""The benchmark harness in its 1-second form: every row is produced (budgets are `make bench`'s)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench import harness as bench

from tests.conftest import require


@pytest.mark.slow
def test_every_bench_row_is_produced(tmp_path: Path) -> None:
    require("wrk")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
    for target in bench.targets():
        row = rows[target.name]
        assert row["value"] and row["value"] > 0, row
        assert row["ratio"] and row["ratio"] > 0, row
        assert row["p99_ms"] is not None, row
        # CPU per answer, read from the OS, for the row and its plain-Starlette baseline
        assert row["extra"]["cpu_us"] > 0 and row["extra"]["empty_cpu_us"] > 0, row
    for n in ("10", "100", "1,000", "10,000"):
        assert rows[f"rule evaluation, {n} rules"]["value"] > 0
    assert rows["rule evaluation, 10,000 vs 10 rules"]["ratio"] > 0
    assert rows["cookie decode + verify + encode"]["value"] > 0
    flood = rows["20,000 distinct visitors: memory growth over the second half"]
    assert flood["extra"]["peak_rss_mb"] > 0
    assert all(int(status) < 500 for status in flood["extra"]["statuses"]), flood
    for who in ("one visitor repeating", "1,000 visitors"):
        assert rows[f"stats flush to SQLite, {who}"]["value"] > 0
    for name, _module, _fn in bench.SCALED:
        assert any(key.startswith(name) for key in rows), name
    assert "budget" in proc.stdout and "ratio" in proc.stdout
    if shutil.which("nginx"):
        assert any(key.startswith("origin proxy:") and rows[key]["value"] for key in rows)
