"""GET /_sw/sw.js: one small, cacheable, dependency-free script; and the popup-script fragment."""

from __future__ import annotations

import asyncio
import gzip
import re
from importlib import resources

from starlette.testclient import TestClient

from shopwindow.pages.clientscript import SCRIPT

SOURCE = resources.files("shopwindow").joinpath("static/sw.js").read_bytes()
BUDGET = 8 * 1024  # bytes, gzipped


def test_script_is_served_gzipped_within_budget(client: TestClient) -> None:
    r = client.get("/_sw/sw.js", headers={"Accept-Encoding": "gzip, br"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) <= BUDGET
    assert r.content == SOURCE  # the client undid the gzip
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_script_is_the_same_for_everyone_and_cacheable(client: TestClient) -> None:
    r = client.get("/_sw/sw.js", headers={"Accept-Encoding": "identity"})
    assert r.content == SOURCE
    assert "content-encoding" not in r.headers
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert "set-cookie" not in r.headers
    assert "cookie" not in r.headers["vary"].lower()
    assert re.fullmatch(r'"[0-9a-f]{16}"', r.headers["etag"])


def test_script_revalidates_with_its_etag(client: TestClient) -> None:
    first = client.get("/_sw/sw.js")
    again = client.get("/_sw/sw.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    other = client.get("/_sw/sw.js", headers={"If-None-Match": '"0000000000000000"'})
    assert other.status_code == 200


def test_versioned_script_url_may_be_kept_a_year(client: TestClient) -> None:
    r = client.get(f"/_sw/sw.js?v={SCRIPT.version}")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = client.get("/_sw/sw.js?v=old")
    assert stale.headers["cache-control"] == "public, max-age=3600"


def test_script_has_no_dependencies_and_fits_the_budget() -> None:
    text = SOURCE.decode()
    assert len(gzip.compress(SOURCE, 9)) <= BUDGET
    assert not re.search(r"^\s*(import|export)\s", text, re.M)
    assert "require(" not in text
    assert not re.search(r"https?://", text.split("*/", 1)[1])  # nothing loaded from elsewhere


def test_script_speaks_the_documented_api() -> None:
    text = SOURCE.decode()
    for needle in (
        "data-sw-view",
        "data-sw-add-to-cart",
        "popup?trigger=exit",
        "X-Shopwindow-Rules",
        '"aria-modal"',
        '"dialog"',
        'credentials: "same-origin"',
        "visibilitychange",
        "shopwindowConfig",
    ):
        assert needle in text, needle


def test_popup_script_fragment_is_the_versioned_tag(client: TestClient) -> None:
    shop = client.app.state.shop  # type: ignore[attr-defined]
    fragment = shop.hooks.fragments["popup-script"]
    html, labels = asyncio.run(fragment(None, shop, shop.snapshot, None))
    assert html == f'<script src="/_sw/sw.js?v={SCRIPT.version}" defer></script>'
    assert labels == []
    src = re.search(r'src="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert client.get(src).status_code == 200


def test_demo_pages_load_the_script(client: TestClient) -> None:
    page = client.get("/p/w-bag-001")
    assert '<script src="/_sw/sw.js" defer></script>' in page.text
    assert 'data-sw-add-to-cart="w-bag-001"' in page.text
