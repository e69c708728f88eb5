"""A shopper taps a product tag on a post's page in real Chromium: the click is counted for the post."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, require
from tests.test_popups_browser import CHROMIUM, LAUNCH_ARGS

pytestmark = pytest.mark.browser

TOKEN = "browser-stats-token"
POST = "ig-trail-weekend"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def post_stats(server: LiveServer) -> dict[str, Any]:
    body = httpx.get(
        server.url + "/_sw/stats",
        params={"rule": f"post.{POST}"},
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).json()
    experiments = body["experiments"]
    return dict(experiments[0]["variants"][0]) if experiments else {}


def test_tapping_a_tag_opens_the_product_and_counts_a_click_for_the_post(
    live_server: Callable[..., LiveServer], browser: Any
) -> None:
    server = live_server(env={"SHOPWINDOW_STATS_TOKEN": TOKEN})
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(f"{server.url}/?utm_source=instagram&utm_medium=social&utm_content={POST}")
        tag = page.locator("a.post-tag").first
        product = tag.get_attribute("data-product-id")
        # Keyboard users reach the tags too, and see the product's name on focus.
        tag.focus()
        assert tag.locator(".post-tag-name").is_visible()
        with page.expect_response(lambda r: r.url.endswith("/_sw/events")) as sent:
            tag.click()
        assert sent.value.status == 200
        page.wait_for_url(f"**/p/{product}")
    finally:
        page.close()
    deadline = time.monotonic() + 10
    row = post_stats(server)
    while row.get("clicks") != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
        row = post_stats(server)
    assert (row["visitors"], row["clicks"]) == (1, 1)
