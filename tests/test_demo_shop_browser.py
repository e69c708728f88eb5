"""The demo shop in a real Chromium: the header's cart count, and a 390 px phone with the dev preview bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.test_popups_browser import FAST, beacon_of, browser, playwright  # noqa: F401

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    ),
}


def cart_loaded(response: Any) -> bool:
    return response.url.endswith("/_sw/cart")


def test_the_header_counts_what_is_added_and_removed(
    browser: Any,  # noqa: F811
    live_server: Callable[..., LiveServer],
) -> None:
    from playwright.sync_api import expect

    server = live_server()
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    count = page.locator("header [data-cart-count]")
    toast = page.get_by_role("status").filter(has_text="cart")
    with page.expect_response(cart_loaded):
        page.goto(f"{server.url}/p/w-run-001")
    expect(count).to_have_text("0")
    expect(page.get_by_role("button", name="Remove from cart")).to_be_hidden()

    with page.expect_response(beacon_of("add_to_cart")):
        page.get_by_role("button", name="Add to cart").click()
    expect(count).to_have_text("1")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Added to your cart")
    expect(toast).to_contain_text("1 item.")
    with page.expect_response(beacon_of("add_to_cart")):
        page.get_by_role("button", name="Add to cart").click()
    expect(count).to_have_text("2")
    expect(toast).to_contain_text("2 items.")

    # Another page: the count comes from the server's record of the cart.
    with page.expect_response(cart_loaded):
        page.goto(f"{server.url}/de/women/")
    expect(count).to_have_text("2")

    with page.expect_response(cart_loaded):
        page.goto(f"{server.url}/p/w-run-001")
    with page.expect_response(beacon_of("remove_from_cart")):
        page.get_by_role("button", name="Remove from cart").click()
    expect(count).to_have_text("0")
    expect(toast).to_contain_text("Removed from your cart")
    with page.expect_response(cart_loaded):
        page.reload()
    expect(count).to_have_text("0")


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the screen (0: nothing to scroll sideways)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def test_a_390px_phone_with_the_preview_bar_scrolls_only_down_and_the_popup_closes(
    browser: Any,  # noqa: F811
    live_server: Callable[..., LiveServer],
) -> None:
    from playwright.sync_api import expect

    server = live_server("--dev")
    page = browser.new_context(**PHONE).new_page()
    page.add_init_script(FAST)
    for path in ("/de/?sw_country=fr", "/lp/capsule", "/p/w-bag-001"):
        page.goto(f"{server.url}{path}")
        expect(page.locator("form.preview")).to_be_visible()
        assert overflow(page) == 0, path
        header = page.locator("header.top").bounding_box()
        assert header is not None and header["x"] + header["width"] <= 390, path
        cart = page.locator("header [data-cart-count]").bounding_box()
        assert cart is not None and cart["x"] + cart["width"] <= 390, path

    with page.expect_response(beacon_of("add_to_cart")):
        page.get_by_role("button", name="Add to cart").tap()
    page.goto(f"{server.url}/de/women/bags/")
    with page.expect_response(lambda r: "/_sw/popup?" in r.url):
        page.evaluate("window.shopwindow.popup()")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    close = dialog.get_by_role("button", name="Close")
    box = close.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844
    close.tap()
    expect(dialog).to_have_count(0)
