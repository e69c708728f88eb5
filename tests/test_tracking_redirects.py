"""Every redirect keeps the visitor's click ids and tracking parameters, listed or not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.testclient import TestClient

from shopwindow.visitor.channel import CAMPAIGN_PARAMS
from shopwindow.visitor.tracking import (
    CLICK_ID_PLATFORMS,
    TRACKING_PARAMETERS,
    UTM_PARAMETERS,
    carried_query,
    is_click_id,
    is_tracking_parameter,
    with_query,
)
from tests.conftest import LiveServer

# Parameters no list names: a redirect keeps them just the same.
UNKNOWN = ("partner_ref", "affid", "sub_id", "xyz_click", "variant", "q")
EVERY = (*sorted(TRACKING_PARAMETERS), *UNKNOWN)
# Values as trackers send them: encoded, double-encoded, with the odd characters linkers use.
VALUES = (
    "Cj0KCQiA4L67BhDUARIsADWrl7Ek",
    "red%20running+shoes",
    "Black%2520Friday",
    "1*1abcd2*_ga*MTIzNDU2Nzg5LjE3MDAw",
    "AL!1234!3!567890!e!!g!!shoes",
    "Cj0KCQ:G:s",
    "%E2%80%93",
)
CATCH_ALL_REDIRECT = """\
- id: every-click-to-the-store
  then:
    redirect: "/{country}/?promo=spring&utm_source=shopwindow"
"""


def test_the_list_names_at_least_thirty_click_ids_and_parameters() -> None:
    assert len(TRACKING_PARAMETERS) >= 30
    for name in ("gclid", "gbraid", "wbraid", "msclkid", "fbclid", "ttclid", "twclid", "epik"):
        assert is_click_id(name) and is_tracking_parameter(name)
    for name in ("awc", "_kx", "mc_cid", "li_fat_id", "ScCid", "yclid", "cjevent", "irclid"):
        assert is_click_id(name)
    for name in ("_gl", "srsltid", "utm_id", "utm_source_platform", "utm_anything_new"):
        assert is_tracking_parameter(name)
    assert not is_click_id("_gl") and not is_click_id("srsltid")
    assert is_tracking_parameter("UTM_Source") and is_tracking_parameter("GCLID")
    for name in ("q", "page", "size", "sw_country", "color"):
        assert not is_tracking_parameter(name)


def test_click_ids_and_utm_parameters_mark_an_ad_click() -> None:
    assert set(CLICK_ID_PLATFORMS) | set(UTM_PARAMETERS) == CAMPAIGN_PARAMS


@pytest.mark.parametrize(
    ("query", "carried"),
    [
        ("", ""),
        ("gclid=abc", "gclid=abc"),
        ("gclid=abc&sw_country=FR&utm_term=red+shoes", "gclid=abc&utm_term=red+shoes"),
        ("SW_Gender=men&x=1", "SW_Gender=men&x=1"),
        ("sw_device=mobile", ""),
        ("swatch=red&sw=1", "swatch=red&sw=1"),
        ("a=%2520&&sw_x=1&b", "a=%2520&b"),
    ],
)
def test_carried_query_drops_only_shopwindows_own(query: str, carried: str) -> None:
    assert carried_query(query) == carried


@pytest.mark.parametrize(
    ("target", "query", "location"),
    [
        ("/de/", "gclid=abc", "/de/?gclid=abc"),
        ("/de/", "", "/de/"),
        ("/de/?promo=1", "gclid=abc", "/de/?gclid=abc&promo=1"),
        ("/de/?utm_source=us&promo=1", "utm_source=google", "/de/?utm_source=google&promo=1"),
        ("/de/#top", "gclid=abc", "/de/?gclid=abc#top"),
        ("/de/?", "gclid=abc", "/de/?gclid=abc"),
    ],
)
def test_a_target_adds_parameters_and_never_removes_the_visitors(
    target: str, query: str, location: str
) -> None:
    assert with_query(target, query) == location


def _is_landing(response: httpx.Response) -> bool:
    return response.status_code == 200 and "x-shopwindow-landing" in response.headers


def test_homepage_redirect_keeps_every_parameter(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    redirected = set()
    for name in EVERY:
        for value in VALUES:
            query = f"{name}={value}"
            response = client.get(f"/?{query}")
            if _is_landing(response):
                # An ad click is answered at its own URL: nothing to carry.
                assert name in CAMPAIGN_PARAMS, query
                continue
            assert response.status_code == 302, query
            assert response.headers["location"] == f"/us/?{query}", query
            redirected.add(name)
    assert redirected == set(EVERY) - CAMPAIGN_PARAMS


def test_country_switch_keeps_every_parameter_but_its_own(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(dev=True)
    for name in sorted(set(EVERY) - CAMPAIGN_PARAMS):
        query = f"{name}=Cj0KCQiA4L67&sw_country=FR&sw_gender=men"
        response = client.get(f"/?{query}")
        assert response.status_code == 302, query
        assert response.headers["location"].startswith("/fr/"), query
        assert response.headers["location"].endswith(f"?{name}=Cj0KCQiA4L67"), query


def test_landing_redirect_keeps_every_parameter(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    (rules_dir / "landing-pages.yaml").write_text(CATCH_ALL_REDIRECT)
    client = make_client()
    for name in sorted(CAMPAIGN_PARAMS | set(UNKNOWN)):
        for value in VALUES:
            query = f"utm_source=google&{name}={value}&sw_country=FR"
            response = client.get(f"/?{query}")
            assert response.status_code == 302, query
            assert response.headers["x-shopwindow-landing"] == "redirect"
            location = response.headers["location"]
            path, _, sent = location.partition("?")
            assert path == "/us/", location
            visitor = f"utm_source=google&{name}={value}" if name != "utm_source" else query
            expected = carried_query(visitor)
            assert sent.startswith(expected), location
            # The rule's own parameter is added; its utm_source never replaces the visitor's.
            pairs = parse_qsl(sent, keep_blank_values=True)
            assert ("promo", "spring") in pairs, location
            assert ("utm_source", "shopwindow") not in pairs, location
            assert "sw_country" not in sent


def test_trailing_slash_redirect_keeps_every_parameter(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    for name in EVERY:
        query = f"{name}=Cj0KCQ:G:s&sw_gender=men"
        response = client.get(f"/de/women?{query}")
        assert response.status_code in (307, 308), query
        assert response.headers["location"] == f"/de/women/?{name}=Cj0KCQ:G:s", query


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("_gl=a%0d%0aSet-Cookie:x=1", "/us/?_gl=a%0d%0aSet-Cookie:x=1"),
        ("_gl=a\\b", "/us/?_gl=a%5Cb"),
        ("_gl=//evil.example", "/us/?_gl=//evil.example"),
        ("next=https://evil.example/", "/us/?next=https://evil.example/"),
        ("_gl=%C3%A0", "/us/?_gl=%C3%A0"),
    ],
)
def test_a_carried_query_cannot_leave_the_site_or_break_the_header(
    client: TestClient, query: str, location: str
) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 302
    assert response.headers["location"] == location
    assert "x" not in response.cookies


def test_every_parameter_is_documented_for_marketers_and_cdns() -> None:
    root = Path(__file__).resolve().parent.parent / "docs"
    landing = (root / "landing-pages.md").read_text()
    for name in TRACKING_PARAMETERS:
        assert f"`{name}`" in landing, name
    assert "#tracking-parameters-and-the-cache-key" in landing
    assert "## Tracking parameters and the cache key" in (root / "cdn.md").read_text()


def test_a_real_server_keeps_the_query_on_every_redirect(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as http:
        home = http.get("/?_gl=1*1abcd2*_ga*MTIz&srsltid=AfmB&sw_gender=men")
        assert home.status_code == 302
        assert home.headers["location"].endswith("/?_gl=1*1abcd2*_ga*MTIz&srsltid=AfmB")
        slash = http.get("/de/women?gclid=Cj0KCQ&utm_source=google&sw_device=mobile")
        assert slash.status_code in (307, 308)
        assert slash.headers["location"] == "/de/women/?gclid=Cj0KCQ&utm_source=google"
