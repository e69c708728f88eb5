"""Cards, shells and picks belong to the snapshot they were rendered from, never to an address."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable

from starlette.testclient import TestClient

from shopwindow.catalog.feed import build_catalog
from shopwindow.pages.cards import card
from shopwindow.shop import Snapshot


def test_a_reused_snapshot_address_shows_the_new_catalogs_cards(
    make_client: Callable[..., TestClient],
) -> None:
    """CPython hands a freed object's address to the next one of its size: force that."""
    client = make_client()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    live = shop.snapshot
    product = next(iter(live.catalog))
    reused = False
    for attempt in range(50):
        renamed = dataclasses.replace(product, name=f"Edition {attempt}")
        old = Snapshot(live.rules, build_catalog([dataclasses.replace(product, name="Old")]))
        assert "Old" in card(shop, old, next(iter(old.catalog)))
        address = id(old)
        del old
        gc.collect()
        new = Snapshot(live.rules, build_catalog([renamed]))
        html = card(shop, new, next(iter(new.catalog)))
        assert f"Edition {attempt}" in html
        assert "Old" not in html
        if id(new) == address:
            reused = True
            break
    assert reused, "no snapshot address was reused: the test did not test what it says"


def test_a_replaced_snapshot_starts_with_empty_caches(client: TestClient) -> None:
    snap = client.app.state.shop.snapshot  # type: ignore[attr-defined]
    client.get("/de/women/")
    assert len(snap.derived.shells) > 0
    copy = dataclasses.replace(snap, catalog_mtime=snap.catalog_mtime + 1)
    assert copy.derived is not snap.derived
    assert len(copy.derived.shells) == 0
