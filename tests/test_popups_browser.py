"""Exit-intent popups in a real Chromium against the real server: desktop, returning visitor, mobile."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopwindow.settings import PROJECT_ROOT
from tests.conftest import LiveServer, require

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
# Short timers so a test need not wait seconds for a dwell time.
FAST = "window.shopwindowConfig = {dwell: 150, retry: 0};"
BAG = "w-bag-001"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    require(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    yield browser
    browser.close()


class Beacons:
    """Every event the page sends to POST /_sw/events, in order."""

    def __init__(self, page: Any) -> None:
        self.events: list[dict[str, Any]] = []
        page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/_sw/events"):
            self.events.extend(json.loads(request.post_data or "[]"))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"popup-{name}.png"))


def beacon_of(kind: str) -> Callable[[Any], bool]:
    def matches(response: Any) -> bool:
        request = response.request
        return response.url.endswith("/_sw/events") and kind in (request.post_data or "")

    return matches


def popup_answer(response: Any) -> bool:
    return "/_sw/popup?" in response.url


def leave_through_top(page: Any) -> Any:
    """Move the cursor out of the window through the top edge; the popup request it causes."""
    page.wait_for_timeout(200)  # past the (shortened) dwell time
    page.mouse.move(640, 300)
    with page.expect_response(popup_answer) as answer:
        page.mouse.move(640, 100, steps=4)
        page.mouse.move(640, -5)
    return answer.value


def desktop_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(FAST)
    return page


def test_bag_in_cart_then_exit_through_top_shows_bag_discount_once_per_session(
    browser: Any, live_server: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    server = live_server()
    page = desktop_page(browser)
    beacons = Beacons(page)
    page.goto(f"{server.url}/p/{BAG}")
    with page.expect_response(beacon_of("add_to_cart")):
        page.get_by_role("button", name="Add to cart").click()

    answer = leave_through_top(page)
    assert answer.status == 200
    assert answer.headers["x-shopwindow-rules"] == "bag-discount"
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog.get_by_role("heading")).to_have_text("Keep your bag: 10% off bags today")
    expect(dialog).to_contain_text("BAG10")
    assert page.evaluate("document.activeElement.closest('[role=dialog]') !== null")
    screenshot(page, "bag-discount")

    with page.expect_response(beacon_of("popup_dismissed")):
        page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    # Focus is back where it was: the add-to-cart button the shopper clicked.
    assert page.evaluate("document.activeElement.hasAttribute('data-sw-add-to-cart')")
    shown = beacons.of("popup_shown")
    assert shown == [{"type": "popup_shown", "rule": "bag-discount"}]
    assert beacons.of("popup_dismissed") == [{"type": "popup_dismissed", "rule": "bag-discount"}]

    # Same session, a new page: exit intent again, and the server has nothing to show.
    page.reload()
    answer = leave_through_top(page)
    assert answer.status == 204
    page.wait_for_timeout(200)
    expect(page.get_by_role("dialog")).to_have_count(0)
    screenshot(page, "bag-discount-after-dismissal")


def test_second_session_without_orders_gets_first_order_offer(
    browser: Any, live_server: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    # Every request more than a second after the last starts a new session here.
    server = live_server(env={"SHOPWINDOW_SESSION_IDLE_MINUTES": "0"})
    page = desktop_page(browser)
    beacons = Beacons(page)
    with page.expect_response(beacon_of('"view"')):
        page.goto(f"{server.url}/p/w-run-001")
    page.wait_for_timeout(1100)
    page.reload()  # the second session

    answer = leave_through_top(page)
    assert answer.status == 200
    rule, _, variant = answer.headers["x-shopwindow-rules"].partition(":")
    assert rule == "first-order" and variant in ("a", "b")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    title = {"a": "15% off your first order", "b": "Your first order? Take 15% off"}[variant]
    expect(dialog.get_by_role("heading")).to_have_text(title)
    expect(dialog).to_contain_text("WELCOME15")
    screenshot(page, "first-order")
    with page.expect_response(beacon_of("popup_dismissed")):
        page.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    assert {"type": "popup_shown", "rule": "first-order", "variant": variant} in beacons.events
    assert {"type": "popup_dismissed", "rule": "first-order", "variant": variant} in beacons.events


def test_fast_scroll_up_on_mobile_shows_popup_and_its_button_converts(
    browser: Any, playwright: Any, live_server: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    server = live_server()
    context = browser.new_context(**playwright.devices["Pixel 7"])
    page = context.new_page()
    page.add_init_script(FAST)
    beacons = Beacons(page)
    page.goto(f"{server.url}/p/{BAG}")
    with page.expect_response(beacon_of("add_to_cart")):
        page.get_by_role("button", name="Add to cart").tap()

    page.goto(f"{server.url}/de/women/bags/")  # a long page to scroll
    page.evaluate("window.scrollTo(0, 2500)")
    page.wait_for_timeout(400)
    assert page.evaluate("window.scrollY") > 1000
    with page.expect_response(popup_answer) as answer:
        page.mouse.wheel(0, -2400)
    assert answer.value.status == 200
    assert "signal=scroll" in answer.value.url
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Keep your bag: 10% off bags today")
    screenshot(page, "mobile-scroll-up")

    with page.expect_navigation():
        dialog.get_by_role("link", name="Shop bags").tap()
    assert page.url.endswith("/de/women/bags/")
    assert {"type": "popup_converted", "rule": "bag-discount"} in beacons.events


def test_idle_on_mobile_asks_for_the_popup(
    browser: Any, playwright: Any, live_server: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    server = live_server()
    context = browser.new_context(**playwright.devices["Pixel 7"])
    page = context.new_page()
    page.add_init_script("window.shopwindowConfig = {dwell: 100, idle: 800, retry: 0};")
    page.goto(f"{server.url}/p/{BAG}")

    def offer(response: Any) -> bool:
        return popup_answer(response) and response.status == 200

    with (
        page.expect_response(offer, timeout=5000) as answer,
        page.expect_response(beacon_of("add_to_cart")),
    ):
        page.get_by_role("button", name="Add to cart").tap()
        # then no touch, no scroll, no key: idle
    assert "signal=idle" in answer.value.url
    expect(page.get_by_role("dialog")).to_be_visible()
    screenshot(page, "mobile-idle")
