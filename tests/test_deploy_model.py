"""Rule deploys in production (reload mode "trigger"): only a complete folder version is ever read.

Files written into the live rules folder -- slowly, cut short, or the whole folder
deleted and recreated -- change nothing until `shopwindow reload` (or SIGHUP), or
until the rules folder's symlink is flipped to a new folder. Each reload reaches
every worker. tests/test_reload.py holds the development mode ("watch").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import SECRET, LiveServer
from tests.test_reload import wait_for

HOME_A = "- id: home-a\n  then:\n    path: /a/\n"
TWO_RULES = (
    "- id: home-jp\n  when:\n    country: JP\n  then:\n    path: /jp-home/\n"
    "- id: home-b\n  then:\n    path: /b/\n"
)
PRODUCTION = {"SHOPWINDOW_ENV": "production"}


def _workers_serving(server: LiveServer, rules: int, workers: int = 2) -> bool:
    """Whether `workers` distinct worker processes each answered /readyz with `rules` rules."""
    seen: dict[int, int] = {}
    for _ in range(40):  # a new connection each time: the kernel hands them to either worker
        body = httpx.get(server.url + "/readyz", timeout=5).json()
        seen[body["worker"]] = body["rules"]
        if len(seen) >= workers:
            break
    return len(seen) >= workers and all(count == rules for count in seen.values())


def _stays(check: Callable[[], bool], looks: int = 12) -> None:
    """check holds on every look while the watcher has several chances (0.5 s each) to act."""
    for _ in range(looks):
        assert check()
        time.sleep(0.15)


def _reload_command(rules: Path, *flags: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shopwindow", "reload", "--rules", str(rules), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SHOPWINDOW_SECRET": SECRET, **PRODUCTION},
    )
    assert done.returncode == 0, done.stderr


def test_production_reads_only_complete_folder_versions_on_every_worker(
    live_server: Callable[..., LiveServer], rules_dir: Path, tmp_path: Path
) -> None:
    versions = tmp_path / "versions"
    v1 = versions / "v1"
    shutil.copytree(rules_dir, v1)
    (v1 / "homepage.yaml").write_text(HOME_A)
    current = tmp_path / "current"
    current.symlink_to(v1)
    server = live_server("--workers", "2", env=PRODUCTION, rules=current)
    http = httpx.Client(base_url=server.url)
    try:
        ready = http.get("/readyz").json()
        assert ready["reload"] == "trigger"
        start_rules = ready["rules"]
        wait_for(lambda: _workers_serving(server, start_rules))

        def home_is(path: str) -> Callable[[], bool]:
            return lambda: http.get("/").headers["location"] == path

        # A writer that pauses mid-file: nothing half-written goes live.
        homepage = v1 / "homepage.yaml"
        with homepage.open("w") as slow:
            slow.write(TWO_RULES[: len(TWO_RULES) // 2])
            slow.flush()
            _stays(home_is("/a/"))
            slow.write(TWO_RULES[len(TWO_RULES) // 2 :])
        # Cut short, still valid YAML with fewer rules: not read either.
        (v1 / "popups.yaml").write_text((v1 / "popups.yaml").read_text()[:40] + "\n")
        # The whole folder deleted, then recreated with other files.
        shutil.rmtree(v1)
        _stays(home_is("/a/"), looks=4)
        shutil.copytree(rules_dir, v1)
        (v1 / "homepage.yaml").write_text(TWO_RULES)
        _stays(home_is("/a/"))
        assert _workers_serving(server, start_rules)  # both workers, untouched
        assert "rule_errors" not in http.get("/readyz").json()

        # The explicit trigger: every worker reads the folder as it now is.
        _reload_command(current)
        wait_for(lambda: _workers_serving(server, start_rules + 1))
        assert http.get("/").headers["location"] == "/b/"

        # The atomic swap: a new folder, then the symlink flipped to it in one rename.
        v2 = versions / "v2"
        shutil.copytree(v1, v2)
        (v2 / "homepage.yaml").write_text(HOME_A + TWO_RULES)
        flip = tmp_path / "current.new"
        flip.symlink_to(v2)
        os.replace(flip, current)
        wait_for(lambda: _workers_serving(server, start_rules + 2))
        assert http.get("/").headers["location"] == "/a/"
        metrics = http.get("/metrics").text
        assert 'shopwindow_last_load_timestamp_seconds{kind="rules"}' in metrics
    finally:
        http.close()
    log = server.log.read_text()
    assert "Traceback" not in log
    assert "reload requested" in log
