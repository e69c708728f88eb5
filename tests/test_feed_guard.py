"""The catalog has a last good version: unreadable, empty and gutted feeds never go live."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shopwindow.shop import Shop
from tests.conftest import DEMO_CATALOG, SECRET, LiveServer, build_settings
from tests.test_reload import wait_for

HTML_ERROR_PAGE = "<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n"


def _feed(path: Path, share: float = 1.0) -> int:
    lines = DEMO_CATALOG.read_text().splitlines()
    kept = lines[: int(len(lines) * share)]
    path.write_text("\n".join(kept) + "\n")
    return len(kept)


def _shopwindow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopwindow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SHOPWINDOW_SECRET": SECRET},
    )


def test_broken_feeds_are_refused_and_an_operator_can_accept_a_small_one(
    live_server: Callable[..., LiveServer], rules_dir: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.jsonl"
    full = _feed(catalog)
    server = live_server("--catalog", str(catalog))
    http = httpx.Client(base_url=server.url)

    def ready() -> dict[str, object]:
        body: dict[str, object] = http.get("/readyz").json()
        return body

    try:
        assert ready()["products"] == full
        refusals = 0
        for text, reason in [
            # An HTML error page is read as XML (the format is told from the content).
            (HTML_ERROR_PAGE, "has no products; 1 rows could not be read (first: line 1: XML root"),
            ("", "has no products"),
        ]:
            catalog.write_text(text)
            refusals += 1
            wait_for(lambda n=refusals: f'{{kind="catalog"}} {n}.0' in http.get("/metrics").text)
            body = ready()
            assert body["products"] == full  # the previous catalog keeps serving
            assert str(body["catalog_refused"]).startswith(f"product feed {catalog} {reason}")
        small = _feed(catalog, 0.4)
        wait_for(lambda: f'{{kind="catalog"}} {refusals + 1}.0' in http.get("/metrics").text)
        body = ready()
        assert body["products"] == full
        assert f"has {small:,} products, " in str(body["catalog_refused"])
        assert "catalog_max_loss is 50%" in str(body["catalog_refused"])
        assert http.get("/").status_code == 302

        accepted = _shopwindow("reload", "--rules", str(rules_dir), "--accept-catalog")
        assert accepted.returncode == 0, accepted.stderr
        wait_for(lambda: ready()["products"] == small)
        assert "catalog_refused" not in ready()
        assert 'shopwindow_last_load_timestamp_seconds{kind="catalog"}' in http.get("/metrics").text
    finally:
        http.close()
    log = server.log.read_text()
    assert "Traceback" not in log
    assert f"catalog not reloaded, the previous one keeps serving: product feed {catalog}" in log
    assert "(accepting the catalog)" in log


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("catalog.jsonl", HTML_ERROR_PAGE, "has no products"),
        ("catalog.xml", "<products/>", "has no products"),
    ],
)
def test_serve_and_check_refuse_an_unusable_feed_in_one_line(
    rules_dir: Path, tmp_path: Path, name: str, text: str, reason: str
) -> None:
    feed = tmp_path / name
    feed.write_text(text)
    served = _shopwindow("serve", "--rules", str(rules_dir), "--catalog", str(feed), "--port", "1")
    assert served.returncode == 1
    assert "Traceback" not in served.stderr
    lines = [line for line in served.stderr.splitlines() if line.startswith("refusing to start")]
    assert len(lines) == 1, served.stderr
    assert lines[0].startswith(f"refusing to start: product feed {feed} {reason}")
    checked = _shopwindow("check", str(rules_dir), "--catalog", str(feed))
    assert checked.returncode == 1
    assert f"product feed {feed} {reason}" in checked.stdout
    assert lines[0].removeprefix("refusing to start: ") in checked.stdout


def test_catalog_max_loss_at_100_takes_any_feed_but_an_empty_one(
    rules_dir: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.jsonl"
    _feed(catalog)
    shop = Shop(build_settings(rules_dir, catalog=str(catalog), catalog_max_loss=100))
    assert shop.load() == []
    small = _feed(catalog, 0.3)
    shop.reload_if_changed(force=True)
    assert shop.snapshot is not None and len(shop.snapshot.catalog) == small
    catalog.write_text("")
    shop.reload_if_changed(force=True)
    assert len(shop.snapshot.catalog) == small
    assert "has no products" in shop.snapshot.catalog_refused


def test_a_feed_losing_half_goes_live_and_one_more_is_refused(
    rules_dir: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.jsonl"
    full = _feed(catalog)
    shop = Shop(build_settings(rules_dir, catalog=str(catalog)))
    assert shop.load() == []
    lines = DEMO_CATALOG.read_text().splitlines()
    half = full // 2
    catalog.write_text("\n".join(lines[: half - 1]) + "\n")  # one more than half lost
    shop.reload_if_changed(force=True)
    snap = shop.snapshot
    assert snap is not None and len(snap.catalog) == full
    assert f"has {half - 1:,} products" in snap.catalog_refused
    catalog.write_text("\n".join(lines[:half]) + "\n")  # exactly half: not more than 50%
    shop.reload_if_changed(force=True)
    snap = shop.snapshot
    assert len(snap.catalog) == half and not snap.catalog_refused
