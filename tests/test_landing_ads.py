"""Real-looking ad URLs land on the page their ad needs: over HTTP, in-process and on a real server."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import LiveServer
from tests.landing_support import (
    ADS,
    CATALOG,
    DEEP_LINKS,
    Ad,
    check_landing,
    expected_products,
    google,
    grid_ids,
    headline,
)


def test_the_table_is_big_enough() -> None:
    assert len(ADS) >= 30
    assert {ad.kind for ad in ADS} == {"rule", "category", "keyword", "best-sellers"}


@pytest.mark.parametrize("ad", ADS, ids=[ad.url[:90] for ad in ADS])
def test_ad_lands_on_its_page(make_client: Callable[..., TestClient], ad: Ad) -> None:
    response = make_client().get(ad.url)
    check_landing(ad, response.status_code, dict(response.headers), response.text)


def test_every_ad_over_a_real_server(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as http:
        for ad in ADS:
            response = http.get(ad.url)
            check_landing(ad, response.status_code, dict(response.headers), response.text)
        for url, text, _ in DEEP_LINKS:
            response = http.get(url)
            assert response.status_code == 200 and text in response.text
            assert "x-shopwindow-landing" not in response.headers


@pytest.mark.parametrize(("url", "text", "page"), DEEP_LINKS)
def test_deep_links_with_campaign_parameters_are_not_taken_over(
    client: TestClient, url: str, text: str, page: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert "x-shopwindow-landing" not in response.headers
    assert 'class="grid landing-products"' not in response.text
    assert text in response.text
    if page == "product":
        assert 'data-sw-view="w-run-001"' in response.text


def test_bare_homepage_is_still_the_homepage(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert "x-shopwindow-landing" not in response.headers


def test_headline_inserts_the_keyword_in_the_rules_case(client: TestClient) -> None:
    html = client.get(google("ladies running trainers")).text
    assert headline(html) == "Ladies Running Trainers"
    assert "<title>Ladies Running Trainers</title>" in html


def test_headline_falls_back_to_the_default_without_a_keyword(client: TestClient) -> None:
    html = client.get("/lp/womens-running-shoes?utm_source=google").text
    assert headline(html) == "Women&#39;s running shoes"


def test_headline_keyword_is_capped(client: TestClient) -> None:
    long = "womens running shoes extremely comfortable lightweight cushioned trail"
    html = client.get(google(long)).text
    assert headline(html) == "Womens Running Shoes Extremely"
    assert grid_ids(html)  # still the women's running shoes page


def test_unknown_landing_slug_is_a_page_not_an_error(client: TestClient) -> None:
    response = client.get("/lp/spring-preview")
    assert response.status_code == 200
    assert response.headers["x-shopwindow-landing"].startswith("best-sellers")


def test_landing_path_refuses_other_methods(client: TestClient) -> None:
    response = client.post("/lp/capsule")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_json_for_headless_storefronts(client: TestClient) -> None:
    response = client.get(google("womens running shoes"), headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["rule"] == "womens-running-shoes"
    assert body["headline"] == "Womens Running Shoes"
    assert body["filter"] == "gender=women; category=running-shoes"
    assert {(p["gender"], p["category"]) for p in body["products"]} == {("women", "running-shoes")}


def test_the_product_grid_as_a_slot_fragment(client: TestClient) -> None:
    page = client.get(google("mens running shoes"))
    fragment = client.get(
        "/_sw/fragments/landing-products?utm_source=google&utm_term=mens+running+shoes"
    )
    assert fragment.status_code == 200
    assert fragment.headers["x-shopwindow-rules"] == "mens-running-shoes"
    assert grid_ids(fragment.text) == grid_ids(page.text)


def test_same_segment_same_page_different_keyword(client: TestClient) -> None:
    """The cached segment page is shared, the keyword in its headline is not."""
    first = client.get(google("womens running shoes")).text
    second = client.get(google("running shoes for women")).text
    assert grid_ids(first) == grid_ids(second)
    assert headline(first) == "Womens Running Shoes"
    assert headline(second) == "Running Shoes For Women"


def test_relaxed_when_nothing_matches_exactly(client: TestClient) -> None:
    # The demo shop sells no women's Acme sneakers in black: the page says so and shows the range.
    response = client.get(google("black acme sneakers womens"))
    assert response.headers["x-shopwindow-landing"] == (
        "category; gender=women; category=sneakers; tags=brand:acme,color:black; relaxed"
    )
    assert "No exact match in stock right now" in response.text
    want = Ad("", "category", None, "women", "sneakers")
    assert grid_ids(response.text) == [p.id for p in expected_products(CATALOG, want)]


def test_returning_visitor_sees_their_recently_viewed_strip(client: TestClient) -> None:
    client.post("/_sw/events", json=[{"type": "view", "product_id": "m-boot-007"}])
    html = client.get(google("womens running shoes")).text
    assert "Continue shopping" in html
    assert "m-boot-007" in html
    assert "m-boot-007" not in grid_ids(html)
