"""The watcher can't be frozen nor stalled: odd files are skipped and reported, big files bounded.

These run the development mode ("watch"), where each saved file is read once it
stands still; production ("trigger") reads the same way when asked.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
from loadtests.rule_edits import parse_stall

from shopwindow.rules.rulefiles import fingerprint, load_rules
from tests.conftest import LiveServer
from tests.test_reload import wait_for

HOME_A = "- id: home-a\n  then:\n    path: /a/\n"
HOME_B = "- id: home-b\n  then:\n    path: /b/\n"


def _rss(pid: int) -> int:
    process = psutil.Process(pid)
    return int(process.memory_info().rss) + sum(
        int(child.memory_info().rss) for child in process.children(recursive=True)
    )


def test_links_pipes_and_unreadable_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "homepage.yaml").write_text(HOME_A)
    (tmp_path / "a-loop.yaml").symlink_to(tmp_path / "a-loop.yaml")
    (tmp_path / "b-gone.yaml").symlink_to(tmp_path / "missing.yaml")
    os.mkfifo(tmp_path / "c-pipe.yaml")
    locked = tmp_path / "d-locked.yaml"
    locked.write_text(HOME_B)
    locked.chmod(0)
    seen = fingerprint(tmp_path)
    assert [name for name, _, _ in seen.files] == (
        ["d-locked.yaml", "homepage.yaml"] if os.geteuid() == 0 else ["homepage.yaml"]
    )
    assert seen.skipped[:3] == (
        "a-loop.yaml: symbolic link loop",
        f"b-gone.yaml: symbolic link to a missing file ({tmp_path / 'missing.yaml'})",
        "c-pipe.yaml: not a regular file (a pipe, socket or device)",
    )
    if os.geteuid() != 0:  # root reads any file
        assert seen.skipped[3] == "d-locked.yaml: not readable (permissions)"


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    homepage = tmp_path / "homepage.yaml"
    homepage.write_text(HOME_A + HOME_B + "#" * 200)
    ruleset, errors = load_rules(tmp_path, ZoneInfo("UTC"), max_bytes=100)
    assert [e.message for e in errors] == [
        f"this file is {homepage.stat().st_size:,} bytes, more than the 100 a rule file may "
        "have (setting rule_file_max_bytes); it was not read"
    ]
    assert errors[0].line == 1 and errors[0].column == 1
    assert not ruleset.all_rules()
    _, errors = load_rules(tmp_path, ZoneInfo("UTC"), max_bytes=homepage.stat().st_size)
    assert errors == []  # the limit itself is allowed


def test_the_watcher_skips_odd_files_and_reports_removed_rules(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(HOME_A + HOME_B)
    server = live_server()
    http = httpx.Client(base_url=server.url)
    try:
        assert http.get("/readyz").json()["reload"] == "watch"
        (rules_dir / "a-loop.yaml").symlink_to(rules_dir / "a-loop.yaml")
        (rules_dir / "b-gone.yaml").symlink_to(rules_dir / "missing.yaml")
        os.mkfifo(rules_dir / "c-pipe.yaml")
        homepage.write_text(HOME_B)  # listed after them: still read, and home-a is gone
        wait_for(lambda: http.get("/").headers["location"] == "/b/")
        ready = http.get("/readyz").json()
        assert ready["removed_rules"] == ["home-a"]
        assert [s.split(":")[0] for s in ready["skipped_files"]] == [
            "a-loop.yaml",
            "b-gone.yaml",
            "c-pipe.yaml",
        ]
        homepage.write_text(HOME_A + HOME_B)
        wait_for(lambda: "removed_rules" not in http.get("/readyz").json())
        assert http.get("/").headers["location"] == "/a/"
    finally:
        http.close()
    log = server.log.read_text()
    assert "rules removed by this reload: home-a" in log
    assert "WARNING" in log
    assert "rule file skipped: a-loop.yaml: symbolic link loop" in log
    assert "rule file skipped: c-pipe.yaml: not a regular file" in log


def test_a_50_mb_file_is_refused_unread_and_a_file_under_the_limit_never_stalls_answers(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    limit = 120_000
    (rules_dir / "homepage.yaml").write_text(HOME_A)
    server = live_server(env={"SHOPWINDOW_RULE_FILE_MAX_BYTES": str(limit)})
    http = httpx.Client(base_url=server.url)
    try:
        rules_before = http.get("/readyz").json()["rules"]
        rss_before = _rss(server.proc.pid)
        big = rules_dir / "landing-pages.yaml"
        good_landing = big.read_text()
        with big.open("w") as out:
            line = "- id: lp\n  then: {headline: " + "x" * 990 + "}\n"
            for _ in range(50 * 1024 * 1024 // len(line)):
                out.write(line)
        wait_for(lambda: "rule_errors" in http.get("/readyz").json())
        errors = http.get("/readyz").json()["rule_errors"]
        assert len(errors) == 1
        assert errors[0].endswith(
            f"landing-pages.yaml:1:1: this file is {big.stat().st_size:,} bytes, more than "
            f"the {limit:,} a rule file may have (setting rule_file_max_bytes); it was not read"
        )
        assert "aliases" not in errors[0]
        assert _rss(server.proc.pid) - rss_before < big.stat().st_size
        text = http.get("/metrics").text
        assert 'shopwindow_refused_loads_total{kind="rules"} 1.0' in text
        big.write_text(good_landing)
        wait_for(lambda: "rule_errors" not in http.get("/readyz").json())

        # Just under the limit: read and compiled off the event loop, answers keep coming
        # (the measurement `make loadtest` reports as /healthz p99 during the parse).
        stall = asyncio.run(parse_stall(server.url, rules_dir, limit, samples=50))
        assert limit - 200 < stall.size <= limit
        assert len(stall.during) >= 5  # /readyz and /healthz answered in the middle of it
        wait_for(lambda: http.get("/readyz").json()["rules"] == rules_before)  # put back
    finally:
        http.close()
    assert "Traceback" not in server.log.read_text()


@pytest.mark.parametrize("mode", ["watch", "trigger"])
def test_skipped_files_do_not_count_as_rule_errors(rules_dir: Path, mode: str) -> None:
    from shopwindow.shop import Shop
    from tests.conftest import build_settings

    (rules_dir / "x-loop.yaml").symlink_to(rules_dir / "x-loop.yaml")
    shop = Shop(build_settings(rules_dir, reload=mode))
    assert shop.load() == []
    snap = shop.snapshot
    assert snap is not None and snap.rules_print.skipped == ("x-loop.yaml: symbolic link loop",)
