"""The demo shop behaves like a shop: cart count, copy that fits the shopper, the drop teaser and its reminder."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from shopwindow.placements.homepage import category_words
from tests.conftest import identify_event

TEASER = "/lp/capsule"
CROSS_SELL = re.compile(r'<section class="strip cross-sell"><h2>([^<]*)</h2>')


def events(client: TestClient, *sent: dict[str, object]) -> None:
    answer = client.post("/_sw/events", json=list(sent))
    assert answer.status_code == 200, answer.text


def sign_in(client: TestClient, customer: str) -> None:
    """The site tells shopwindow who the shopper is (the `identify` event)."""
    events(client, identify_event(customer))


def test_the_cart_count_follows_adds_and_removes(client: TestClient) -> None:
    assert client.get("/_sw/cart").json() == {"count": 0, "lines": []}
    events(
        client,
        {"type": "add_to_cart", "product_id": "w-run-001"},
        {"type": "add_to_cart", "product_id": "w-run-001"},
        {"type": "add_to_cart", "product_id": "w-bag-001", "quantity": 3},
    )
    answer = client.get("/_sw/cart")
    assert answer.json()["count"] == 5
    assert answer.headers["cache-control"] == "private, no-store"
    events(client, {"type": "remove_from_cart", "product_id": "w-bag-001"})
    assert client.get("/_sw/cart").json() == {
        "count": 2,
        "lines": [{"product_id": "w-run-001", "quantity": 2}],
    }


def test_every_page_has_the_cart_count_and_the_favicon(client: TestClient) -> None:
    for path in ("/de/", "/p/w-run-001", TEASER, "/lp/running-shoes"):
        html = client.get(path).text
        assert "data-cart-count" in html, path
        assert '<link rel="icon" href="/favicon.ico"' in html, path
        assert '<script src="/_sw/static/shop.js" defer></script>' in html, path


def cross_sell_heading(client: TestClient) -> str | None:
    found = CROSS_SELL.search(client.get("/de/").text)
    return found.group(1) if found else None


def test_goes_well_with_what_you_bought_only_after_buying(
    make_client: Callable[..., TestClient],
) -> None:
    browser = make_client()
    assert cross_sell_heading(browser) is None
    carting = make_client()
    events(carting, {"type": "add_to_cart", "product_id": "w-run-001"})
    assert cross_sell_heading(carting) == "Goes well with the running shoes in your cart"
    buyer = make_client()
    events(buyer, {"type": "purchase", "items": [{"product_id": "w-run-001", "price": 90}]})
    assert cross_sell_heading(buyer) == "Goes well with what you bought"


def test_category_words() -> None:
    assert category_words("running-shoes") == "running shoes"
    assert category_words("t-shirts") == "t-shirts"
    assert category_words("bags") == "bags"


def test_a_sold_out_page_names_what_is_in_the_cart(make_client: Callable[..., TestClient]) -> None:
    fragment = "/_sw/fragments/recommendations"
    json_answer = {"accept": "application/json"}
    expected = {
        "w-bag-001": ("sold-out-cart-bag", "Sold out, but these go with your bag"),
        "w-run-001": ("sold-out-cart-shoes", "Sold out, but these go with your shoes"),
        "u-sock-002": ("sold-out-cart", "Sold out, but these go with what is in your cart"),
    }
    for in_cart, (rule, title) in expected.items():
        shopper = make_client()
        events(shopper, {"type": "add_to_cart", "product_id": in_cart})
        answer = shopper.get(fragment, params={"product_id": "w-run-020"}, headers=json_answer)
        assert answer.headers["x-shopwindow-rules"] == rule
        assert answer.json()["title"] == title


def test_the_teaser_shows_the_drop_as_silhouettes_and_what_is_in_stock(
    client: TestClient,
) -> None:
    page = client.get(TEASER)
    assert page.headers["x-shopwindow-rules"] == "capsule-teaser"
    html = page.text
    assert html.count('<figure class="silhouette">') == 8
    drop = html.split('class="drop-preview"', 1)[1].split("</section>", 1)[0]
    pictures = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', drop)
    assert len(pictures) == 8 and "/p/" not in drop
    for picture in pictures:
        svg = base64.b64decode(picture)
        assert b"PREMIUM" not in svg and b"<title>" not in svg  # nothing given away
    related = html.split('class="strip drop-related"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'href="(/p/[^"]+)"', related)
    assert 1 <= len(links) <= 4
    for link in links:
        product = client.get(link).text
        assert "Add to cart" in product, link  # in stock


def test_remind_me_only_for_a_known_customer_and_it_is_kept(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    stranger = make_client()
    assert "data-remind-drop" not in stranger.get(TEASER).text
    refused = stranger.post("/_sw/drops/reminders", json={"drop": "capsule-drop"})
    assert refused.status_code == 403

    customer = make_client()
    sign_in(customer, "c-77")
    assert 'data-remind-drop="capsule-drop"' in customer.get(TEASER).text
    assert customer.post("/_sw/drops/reminders", json={"drop": "nope"}).status_code == 404
    assert customer.post("/_sw/drops/reminders", json={"drop": "capsule-teaser"}).status_code == 404
    assert (
        customer.post(
            "/_sw/drops/reminders",
            content=b"drop=capsule-drop",
            headers={"content-type": "text/plain"},
        ).status_code
        == 415
    )
    kept = customer.post("/_sw/drops/reminders", json={"drop": "capsule-drop"})
    assert kept.status_code == 200 and kept.json() == {"drop": "capsule-drop", "reminded": True}

    listed = CliRunner().invoke(main, ["drops", "reminders", "--json", "--rules", str(rules_dir)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.endswith("\n")
    rows = json.loads(listed.output)["reminders"]
    assert [(r["drop"], r["customer_id"]) for r in rows] == [("capsule-drop", "c-77")]
    text = CliRunner().invoke(main, ["drops", "reminders", "--rules", str(rules_dir)])
    assert text.output.startswith("capsule-drop  c-77  asked ")


def test_an_empty_preview_field_clears_what_the_preview_held(
    make_client: Callable[..., TestClient],
) -> None:
    dev = make_client(dev=True)
    assert dev.get("/?sw_country=gb").headers["location"].startswith("/gb/")
    assert dev.get("/").headers["location"].startswith("/gb/")  # it sticks
    # Back to the country of the address (203.0.113.9 is the demo GeoIP's US).
    assert dev.get("/?sw_country=").headers["location"].startswith("/us/")
    assert dev.get("/").headers["location"].startswith("/us/")


def test_the_cart_is_named_only_for_what_the_picks_go_with(
    make_client: Callable[..., TestClient],
) -> None:
    shopper = make_client()
    events(
        shopper,
        {"type": "add_to_cart", "product_id": "w-run-001"},
        {"type": "add_to_cart", "product_id": "w-bag-001"},
    )
    assert cross_sell_heading(shopper) == "Goes well with the running shoes in your cart"
