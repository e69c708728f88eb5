"""Rule edits under load, short: the real server answers every request while its files change.

`make loadtest` runs the same script for 60 s with 100 edits (loadtests/rule_edits.py).
Both run the development reload mode ("watch"), where each saved file goes live on
its own; production's mode ("trigger") is held by tests/test_deploy_model.py.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from loadtests.rule_edits import BROKEN, run

from tests.conftest import DEMO_CATALOG, LiveServer


def test_ten_edits_and_a_catalog_edit_under_load_lose_no_request(
    live_server: Callable[..., LiveServer], rules_dir: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.jsonl"
    shutil.copyfile(DEMO_CATALOG, catalog)
    server = live_server("--catalog", str(catalog))
    report = asyncio.run(run(server.url, rules_dir, catalog, edits=10, seconds=4, shoppers=6))
    assert report.failed == [], report.failed[:10]
    assert report.problems == [], report.problems
    assert report.valid_edits == 5 and report.valid_live == 5
    assert report.broken_edits == 5 and report.broken_reported == 5
    assert report.catalog_edits == 1 and report.catalog_live == 1
    assert report.requests > 100
    assert report.ok
    log = server.log.read_text()
    assert "Traceback" not in log
    for _file, _text, expected in BROKEN:
        assert expected in log  # each broken edit is in the server's log as well


def test_a_catalog_update_goes_live_while_a_broken_rule_edit_is_pending(
    rules_dir: Path, tmp_path: Path
) -> None:
    """A broken rule file used to hold back every catalog update (stock, prices) until the
    marketer fixed it: the new catalog was only ever compiled with the broken rules."""
    from shopwindow.shop import Shop
    from tests.conftest import build_settings

    catalog = tmp_path / "catalog.jsonl"
    lines = DEMO_CATALOG.read_text().splitlines()
    catalog.write_text("\n".join(lines) + "\n")
    shop = Shop(build_settings(rules_dir, catalog=str(catalog)))
    assert shop.load() == []
    name, text, expected = BROKEN[0]
    (rules_dir / name).write_text(text)
    assert shop.reload_if_changed() is False
    good_rules = shop.snapshot.rules  # type: ignore[union-attr]
    catalog.write_text("\n".join(lines[:-7]) + "\n")
    shop.reload_if_changed()
    snap = shop.snapshot
    assert snap is not None
    assert len(snap.catalog) == len(lines) - 7  # the new catalog is live ...
    assert any(expected in str(e) for e in snap.pending_errors)  # ... the edit still reported
    assert {r.id for r in snap.rules.all_rules()} == {r.id for r in good_rules.all_rules()}
