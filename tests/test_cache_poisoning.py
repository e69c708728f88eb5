"""Cache poisoning: unkeyed headers never change a cacheable answer; personal answers are never shared.

A CDN keys its cache on the URL (and the headers an answer's Vary names). A
header outside that key which still changes the answer lets one request poison
what everyone else gets: X-Forwarded-Host, X-Original-URL, X-Rewrite-URL,
Forwarded, X-Forwarded-Proto and their relatives, sent by anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.hostile import forged_cookie
from tests.origin_site import OriginSite, Seen, html

UNKEYED: dict[str, str] = {
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Scheme": "https",
    "X-Forwarded-Port": "8443",
    "X-Forwarded-Prefix": "/evil",
    "X-Forwarded-Server": "evil.example",
    "X-Original-URL": "/admin",
    "X-Rewrite-URL": "/admin",
    "X-Original-Host": "evil.example",
    "X-Host": "evil.example",
    "Forwarded": "for=1.2.3.4;host=evil.example;proto=https",
    "X-HTTP-Method-Override": "DELETE",
    "X-HTTP-Method": "DELETE",
    "X-Method-Override": "DELETE",
}
VOLATILE = {"date", "set-cookie"}


def comparable(response: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE)
    return response.status_code, response.content, headers


# --- shopwindow's own cacheable answers -----------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/_sw/sw.js", "/_sw/sw.js?v=anything", "/_sw/static/shop.css", "/healthz"]
)
def test_unkeyed_headers_never_change_a_cacheable_answer(client: TestClient, path: str) -> None:
    clean = client.get(path)
    assert clean.status_code == 200
    for name, value in UNKEYED.items():
        assert comparable(client.get(path, headers={name: value})) == comparable(clean), name
    assert comparable(client.get(path, headers=UNKEYED)) == comparable(clean)


def test_unkeyed_headers_never_change_a_redirect(client: TestClient) -> None:
    cookie = {"cookie": f"sw={forged_cookie(gender={'women': 9.0})}"}
    clean = client.get("/", headers=cookie).headers["location"]
    for name, value in UNKEYED.items():
        assert client.get("/", headers={**cookie, name: value}).headers["location"] == clean, name


# --- origin proxy: the pages it keeps for everyone ---------------------------------------------


def by_rewrite_headers(seen: Seen) -> Any:
    """An origin that honours rewrite and override headers (IIS, Symfony, some frameworks)."""
    target = seen.header("x-original-url") or seen.header("x-rewrite-url") or seen.path
    method = seen.header("x-http-method-override") or seen.method
    host = seen.header("x-forwarded-host") or "shop"
    scheme = seen.header("x-forwarded-scheme") or seen.header("x-forwarded-proto") or "http"
    body = f"<html><body><p>{method} {target} on {scheme}://{host}</p></body></html>"
    return html(body, ("Cache-Control", "public, max-age=600"))


@pytest.fixture
def origin() -> Iterator[OriginSite]:
    site = OriginSite({}, default=by_rewrite_headers)
    yield site
    site.close()


def test_rewrite_headers_from_a_visitor_cannot_poison_the_origin_cache(
    make_client: Callable[..., TestClient], origin: OriginSite
) -> None:
    """X-Original-URL and X-Rewrite-URL used to reach the origin from anyone, and the page it
    answered was kept under the requested URL: one request replaced /about/ for everyone."""
    client = make_client(origin=origin.url)
    for name, value in UNKEYED.items():
        path = f"/about-{name.lower()}/"
        genuine = f"GET {path} on http://testserver"
        poisoned = client.get(path, headers={name: value})
        assert poisoned.status_code == 200
        assert genuine in poisoned.text, (name, poisoned.text)  # the header never reached it
        assert genuine in client.get(path).text, name  # and everyone else gets the real page


def test_a_trusted_proxys_rewrite_headers_reach_the_origin_but_are_never_shared(
    make_client: Callable[..., TestClient], origin: OriginSite
) -> None:
    client = make_client(peer="10.0.0.7", origin=origin.url, trusted_proxies=["10.0.0.0/8"])
    rewritten = client.get("/about/", headers={"X-Original-URL": "/admin"})
    assert "GET /admin" in rewritten.text  # the proxy in front of us asked for it
    plain = client.get("/about/")
    assert "GET /about/ " in plain.text  # and nobody else got that page from the cache
    assert origin.hits("/about/") == 2


def test_forwarded_host_from_a_trusted_proxy_is_part_of_the_key(
    make_client: Callable[..., TestClient], origin: OriginSite
) -> None:
    client = make_client(peer="10.0.0.7", origin=origin.url, trusted_proxies=["10.0.0.0/8"])
    shop_fr = client.get("/page/", headers={"X-Forwarded-Host": "shop.example.fr"})
    shop_de = client.get("/page/", headers={"X-Forwarded-Host": "shop.example.de"})
    assert "shop.example.fr" in shop_fr.text and "shop.example.de" in shop_de.text


# --- personal answers are never shared ----------------------------------------------------------

VISITORS = {
    "women runner": forged_cookie(
        "visitor-a",
        viewed=["w-run-001", "w-run-004"],
        gender={"women": 9.0},
        category={"running-shoes": 9.0},
        cart=[["w-run-001", 1, 92.95]],
        searches=["trail shoes"],
        sessions=3,
    ),
    "men jackets": forged_cookie(
        "visitor-b",
        viewed=["m-jkt-002"],
        gender={"men": 9.0},
        category={"jackets": 9.0},
        full_price=["m-jkt-002"],
        orders=1,
        sessions=2,
    ),
}
URLS = [
    "/",
    "/?utm_source=google&utm_term=running+shoes",
    "/lp/running-shoes",
    "/de/",
    "/de/women/",
    "/de/women/running-shoes/",
    "/p/w-run-001",
    "/p/w-run-004",
    "/_sw/popup?trigger=exit",
    "/_sw/fragments/recently-viewed",
    "/_sw/fragments/recommendations?product_id=w-run-004",
    "/_sw/fragments/landing-products?utm_term=running+shoes",
    "/_sw/sw.js",
    "/healthz",
]


def shared_by_a_cdn(response: Any) -> bool:
    control = response.headers.get("cache-control", "").lower()
    if "private" in control or "no-store" in control:
        return False
    return "public" in control or "max-age" in control or "s-maxage" in control


def test_no_personal_answer_is_public_without_a_segment_key_and_vary(client: TestClient) -> None:
    for url in URLS:
        for accept in ("text/html", "application/json"):
            seen: dict[str, Any] = {}
            for name, cookie in VISITORS.items():
                client.cookies.clear()
                seen[name] = client.get(url, headers={"cookie": f"sw={cookie}", "accept": accept})
            client.cookies.clear()
            seen["new visitor"] = client.get(url, headers={"accept": accept})
            for name, response in seen.items():
                personal = (
                    "x-shopwindow-rules" in response.headers
                    or "set-cookie" in response.headers
                    or any(comparable(response) != comparable(r) for r in seen.values())
                )
                if not shared_by_a_cdn(response):
                    continue
                assert not personal or "x-shopwindow-segment" in response.headers, (url, name)
                if "x-shopwindow-segment" in response.headers:
                    vary = response.headers.get("vary", "").lower()
                    assert "x-shopwindow-segment" in vary, (url, name)
                    assert "set-cookie" not in response.headers, (url, name)
