"""Hot reload against the real server: valid -> broken -> fixed while requests flow, none fails.

These run the development reload mode ("watch": each saved file goes live once it
stands still); production's mode ("trigger") is held by tests/test_deploy_model.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from shopwindow import shop as shop_module
from tests.conftest import LiveServer

VALID_A = "- id: home-a\n  then:\n    path: /a/\n"
VALID_B = "- id: home-b\n  then:\n    path: /b/\n"
BROKEN = "- id: home-c\n  when:\n    contry: DE\n  then:\n    path: /c/\n"


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def test_valid_broken_fixed_with_zero_failed_requests(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    server = live_server()
    failures: list[str] = []
    served = 0
    stop = threading.Event()

    def traffic() -> None:
        nonlocal served
        with httpx.Client(base_url=server.url) as http:
            while not stop.is_set():
                try:
                    r = http.get("/", follow_redirects=False)
                    if r.status_code != 302:
                        failures.append(f"{r.status_code}")
                    served += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    worker = threading.Thread(target=traffic)
    worker.start()
    http = httpx.Client(base_url=server.url)
    try:
        assert http.get("/", follow_redirects=False).headers["location"] == "/a/"

        homepage.write_text(VALID_B)
        wait_for(lambda: http.get("/", follow_redirects=False).headers["location"] == "/b/")

        homepage.write_text(BROKEN)
        wait_for(lambda: "rule_errors" in http.get("/readyz").json())
        ready = http.get("/readyz")
        assert ready.status_code == 200  # still serving the last good rules
        errors = ready.json()["rule_errors"]
        assert any(
            e.endswith("homepage.yaml:3:5: unknown context key 'contry'; did you mean 'country'?")
            for e in errors
        ), errors
        assert http.get("/", follow_redirects=False).headers["location"] == "/b/"
        assert "shopwindow_rule_reload_failures_total 1.0" in http.get("/metrics").text
        assert "shopwindow_rule_errors 1.0" in http.get("/metrics").text

        homepage.write_text(BROKEN.replace("contry", "country"))
        wait_for(lambda: http.get("/", follow_redirects=False).headers["location"] == "/c/")
        assert "rule_errors" not in http.get("/readyz").json()
    finally:
        stop.set()
        worker.join()
        http.close()
    assert served > 0
    assert failures == []
    log = server.log.read_text()
    assert "homepage.yaml:3:5: unknown context key 'contry'" in log


def test_never_valid_rules_refuse_to_start(rules_dir: Path) -> None:
    import subprocess
    import sys

    (rules_dir / "homepage.yaml").write_text(BROKEN + "- id: x\n  then: {path: nope}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "shopwindow", "serve", "--rules", str(rules_dir), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "homepage.yaml:3:5: unknown context key 'contry'" in proc.stderr
    assert "homepage.yaml:7:16: 'nope' must be a path on this site" in proc.stderr
    assert "refusing to start: 2 error(s)" in proc.stderr


def test_catalog_edit_is_picked_up(
    live_server: Callable[..., LiveServer], rules_dir: Path, tmp_path: Path
) -> None:
    from tests.conftest import DEMO_CATALOG

    catalog = tmp_path / "catalog.jsonl"
    lines = DEMO_CATALOG.read_text().splitlines()
    catalog.write_text("\n".join(lines[:100]) + "\n")
    server = live_server("--catalog", str(catalog))
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/readyz").json()["products"] == 100
        catalog.write_text("\n".join(lines[:150]) + "\n")
        wait_for(lambda: http.get("/readyz").json()["products"] == 150)


def test_sighup_reloads_what_the_watcher_cannot_see(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    import os
    import signal

    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    server = live_server()
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/").headers["location"] == "/a/"
        stat = homepage.stat()
        homepage.write_text(VALID_A.replace("/a/", "/z/"))  # same size
        os.utime(homepage, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
        time.sleep(1.5)  # the watcher has had its chance and sees nothing new
        assert http.get("/").headers["location"] == "/a/"
        server.signal(signal.SIGHUP)
        wait_for(lambda: http.get("/").headers["location"] == "/z/")


# --- a file read while it is being written ----------------------------------------------


def _home(client: TestClient) -> str:
    return client.get("/", follow_redirects=False).headers["location"]


def test_a_file_caught_half_written_never_goes_live(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    """An editor that truncates a file, then fills it: the watcher once read the empty
    file in between, and a shop with no homepage rules went live until the next valid edit."""
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    client = make_client()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    assert _home(client) == "/a/"

    homepage.write_text("")  # truncated: the editor has not written yet
    settling = shop.poll(None)
    assert settling is not None and _home(client) == "/a/"  # seen, not read yet
    time.sleep(0.01)
    homepage.write_text(VALID_B)  # now it has
    settling = shop.poll(settling)
    assert settling is not None and _home(client) == "/a/"  # changed again: wait again
    assert shop.poll(settling) is None  # stood still for one look: read
    assert _home(client) == "/b/"
    assert shop.poll(None) is None  # nothing new


def test_a_file_that_changes_while_it_is_read_is_read_again(
    rules_dir: Path, make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    client = make_client()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    homepage.write_text(VALID_B)
    real = shop_module.compile_all

    def edited_meanwhile(*args: Any, **kwargs: Any) -> Any:
        compiled = real(*args, **kwargs)
        time.sleep(0.01)
        homepage.write_text(VALID_B + "# and one more line\n")
        return compiled

    monkeypatch.setattr(shop_module, "compile_all", edited_meanwhile)
    assert not shop.reload_if_changed()
    assert _home(client) == "/a/"  # what was read is not what is on disk: not taken
    monkeypatch.setattr(shop_module, "compile_all", real)
    assert shop.reload_if_changed()
    assert _home(client) == "/b/"
