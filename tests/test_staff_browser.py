"""The staff search in a real Chromium: type the customer's email, press Find, see the customer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.profile_fixtures import import_store_csv
from tests.test_popups_browser import browser, playwright  # noqa: F401

pytestmark = pytest.mark.browser

TOKEN = "staff-token-" + "9" * 24


def test_an_associate_finds_a_customer_by_email_in_a_browser(
    browser: Any,  # noqa: F811
    live_server: Callable[..., LiveServer],
    rules_dir: Path,
    tmp_path: Path,
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
