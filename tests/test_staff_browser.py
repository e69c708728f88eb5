"""The staff search in a real Chromium: type the customer's email, press Find, see the customer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, require
from tests.profile_fixtures import import_store_csv

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
TOKEN = "staff-token-" + "9" * 24


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def test_an_associate_finds_a_customer_by_email_in_a_browser(
    browser: Any, live_server: Callable[..., LiveServer], rules_dir: Path, tmp_path: Path
) -> None:
    import_store_csv(tmp_path, rules_dir)
    server = live_server(env={"SHOPWINDOW_STAFF_TOKEN": TOKEN})
    context = browser.new_context(http_credentials={"username": "anna.k", "password": TOKEN})
    try:
        page = context.new_page()
        page.goto(server.url + "/_sw/staff")
        page.fill("input[name=email]", "anna@example.com")
        with page.expect_response(lambda r: r.url.endswith("/_sw/staff/search")) as answer:
            page.get_by_role("button", name="Find").click()
        assert answer.value.status == 200, answer.value.text()
        page.wait_for_load_state()
        text = page.inner_text("body")
        assert "c1" in text
        assert "Berlin Mitte" in text
    finally:
        context.close()
