"""Origin proxy mode against a real local origin: routing, slots, failures, headers, cache safety."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from tests.conftest import LiveServer
from tests.origin_site import Answer, OriginSite, Seen, html

SLOTTED = (
    "<!doctype html><html><head><title>Women</title>"
    "<script>var tpl = '<div data-sw-slot=\"recently-viewed\"></div>';</script></head>"
    "<body><h1>Women</h1>"
    '<div class="rv" data-sw-slot="recently-viewed"><p>Nothing viewed yet</p></div>'
    '<section data-sw-slot="hero"><h2>Origin hero</h2></section>'
    '<!-- <div data-sw-slot="recently-viewed"></div> -->'
    "<footer>Footer</footer></body></html>"
)
PLAIN = "<!doctype html><html><body><h1>About us</h1></body></html>"
POPUP_SLOT = '<html><body><p>x</p><div data-sw-slot="popup-script"></div></body></html>'


def greeting(seen: Seen) -> Answer:
    """A page for one shopper only, named after their own session cookie."""
    cookie = seen.header("cookie") or ""
    user = re.search(r"user=(\w+)", cookie)
    return html(
        f"<html><body><p>Hello {user.group(1) if user else 'guest'}</p></body></html>",
        ("Cache-Control", "private"),
    )


def new_session(seen: Seen) -> Answer:
    token = f"s{len(seen.path)}{time.monotonic_ns()}"
    return html(f"<html><body>{token}</body></html>", ("Set-Cookie", f"shop_session={token}"))


def vary_cookie(seen: Seen) -> Answer:
    return html(f"<html><body>{seen.header('cookie')}</body></html>", ("Vary", "Cookie"))


def counted(seen: Seen) -> Answer:
    return html(
        f"<html><body>{seen.header('accept-language')} {time.monotonic_ns()}</body></html>",
        ("Cache-Control", "public, max-age=60"),
        ("Vary", "Accept-Language"),
    )


def echo(seen: Seen) -> Answer:
    return 201, [("Content-Type", "text/plain")], seen.method.encode() + b" " + seen.body


def slow(seen: Seen) -> Answer:
    time.sleep(2)
    return html(PLAIN)


PAGES: dict[str, Any] = {
    "/": html(SLOTTED.replace("Women", "Home"), ("Cache-Control", "public, max-age=60")),
    "/de/": html(
        SLOTTED,
        ("Cache-Control", "public, max-age=600"),
        ("Surrogate-Control", "max-age=3600"),
        ("CDN-Cache-Control", "max-age=3600"),
        ("X-Accel-Expires", "3600"),
        ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ("ETag", '"v1"'),
        ("Vary", "Accept-Language"),
        ("Set-Cookie", "a=1; Path=/"),
        ("Set-Cookie", "b=2; Path=/; HttpOnly"),
    ),
    "/us/": html(SLOTTED.replace("Women", "United States")),
    "/de/women/": html(SLOTTED),
    "/p/m-jkt-002": html(PLAIN.replace("About us", "Origin product page")),
    "/about/": html(PLAIN, ("Cache-Control", "public, max-age=60"), ("ETag", '"about1"')),
    "/popup/": html(POPUP_SLOT),
    "/broken": html(SLOTTED, status=500),
    "/slow": slow,
    "/account": greeting,
    "/welcome": new_session,
    "/vary-cookie": vary_cookie,
    "/counted": counted,
    "/cart": echo,
    "/old": (302, [("Location", "ORIGIN/de/?from=old")], b""),
    "/elsewhere": (302, [("Location", "https://payments.example/pay")], b""),
    "/latin1/": (
        200,
        [("Content-Type", "text/html; charset=iso-8859-1")],
        '<html><body><p>Grüße</p><div data-sw-slot="greeting"></div></body></html>'.encode(
            "latin-1"
        ),
    ),
    "/gz/": (
        200,
        [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        gzip.compress(SLOTTED.encode()),
    ),
    "/shop.css": (
        200,
        [("Content-Type", "text/css"), ("Content-Encoding", "gzip")],
        gzip.compress(b"body { color: black }" * 50),
    ),
    "/catalog.bin": (
        200,
        [("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked")],
        bytes(range(256)) * 4000,
    ),
    "/big/": html("<html><body>" + "<p>filler</p>" * 200_000 + "</body></html>"),
    "/hops": (
        200,
        [
            ("Content-Type", "text/plain"),
            ("Connection", "X-Internal"),
            ("X-Internal", "origin-secret"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authenticate", "Basic"),
            ("Set-Cookie", "one=1"),
            ("Set-Cookie", "two=2"),
        ],
        b"ok",
    ),
}


@pytest.fixture
def site() -> Iterator[OriginSite]:
    site = OriginSite(dict(PAGES))
    redirect = PAGES["/old"]
    site.pages["/old"] = (302, [("Location", f"{site.url}/de/?from=old")], redirect[2])
    yield site
    site.close()


@pytest.fixture
def proxy(make_client: Callable[..., TestClient], site: OriginSite) -> Callable[..., TestClient]:
    def make(peer: str = "203.0.113.9", **overrides: Any) -> TestClient:
        return make_client(peer=peer, origin=site.url, **overrides)

    return make


def view(client: TestClient, *product_ids: str) -> None:
    events = [{"type": "view", "product_id": pid} for pid in product_ids]
    assert client.post("/_sw/events", json=events).status_code == 200


def metric(client: TestClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- routing -----------------------------------------------------------------


def test_origin_pages_are_not_shadowed_by_the_demo_storefront(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    for path in ("/de/women/", "/p/m-jkt-002", "/about/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert site.hits(path) == 1, path
    assert "Origin product page" in client.get("/p/m-jkt-002").text


def test_shopwindow_keeps_its_own_paths(proxy: Callable[..., TestClient], site: OriginSite) -> None:
    client = proxy()
    assert client.get("/healthz").text == "ok"
    assert client.get("/readyz").status_code == 200
    assert client.get("/_sw/fragments/recently-viewed").status_code == 200
    assert client.get("/_sw/no-such-thing").status_code == 404
    assert site.seen == []


def test_homepage_decision_redirects_to_the_origin_page(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["location"] == "/us/"
    assert response.headers["x-shopwindow-rules"] == "country-home"
    assert site.seen == []
    assert "United States" in client.get("/us/").text


def test_homepage_without_a_matching_rule_is_the_origin_home(
    proxy: Callable[..., TestClient], site: OriginSite, rules_dir: Path
) -> None:
    (rules_dir / "homepage.yaml").write_text(
        "- id: gender-home\n  when:\n    visitor.gender: {exists: true}\n"
        "  then:\n    path: /{country}/{gender}/\n"
    )
    client = proxy()
    response = client.get("/")
    assert response.status_code == 200
    assert "<h1>Home</h1>" in response.text
    assert site.hits("/") == 1


def test_render_mode_serves_the_chosen_homepage_at_slash(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(homepage_mode="render")
    response = client.get("/")
    assert response.status_code == 200
    assert "United States" in response.text
    assert response.headers["x-shopwindow-rules"] == "country-home"
    assert response.headers["cache-control"] == "private, no-store"
    assert site.hits("/us/") == 1


def test_origin_paths_and_exclusions_narrow_what_is_proxied(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(origin_paths=["/de/", "/about/"], origin_exclude=["/de/women/"])
    assert client.get("/about/").status_code == 200
    assert client.get("/de/").status_code == 200
    assert client.get("/de/women/").status_code == 404
    assert client.get("/p/m-jkt-002").status_code == 404
    assert site.hits("/de/women/") == 0
    assert site.hits("/p/m-jkt-002") == 0


# --- slots -------------------------------------------------------------------


def test_slots_are_filled_with_the_visitors_fragments(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    view(client, "m-jkt-002")
    response = client.get("/de/women/")
    body = response.text
    assert response.status_code == 200
    strip = body.split('<div class="rv" data-sw-slot="recently-viewed">', 1)[1].split("</div>\n")[0]
    assert 'data-product-id="m-jkt-002"' in strip
    assert "Nothing viewed yet" not in body
    # An unknown slot keeps the origin's content; slots in scripts and comments are text.
    assert '<section data-sw-slot="hero"><h2>Origin hero</h2></section>' in body
    assert "var tpl = '<div data-sw-slot=\"recently-viewed\"></div>';" in body
    assert '<!-- <div data-sw-slot="recently-viewed"></div> -->' in body
    assert body.count('<script src="/_sw/sw.js" defer></script>') == 1
    assert body.endswith('<script src="/_sw/sw.js" defer></script></body></html>')
    assert response.headers["cache-control"] == "private, no-store"


def test_page_without_slots_gets_the_script_and_keeps_its_cache_headers(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()
    response = client.get("/about/")
    assert response.text == PLAIN.replace(
        "</body>", '<script src="/_sw/sw.js" defer></script></body>'
    )
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["etag"] == 'W/"about1"'
    assert "set-cookie" not in response.headers
    assert "x-shopwindow-rules" not in response.headers


def test_popup_script_slot_takes_the_place_of_the_injected_script(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()
    text = client.get("/popup/").text
    # the slot holds the script (from the popups placement), and nothing is added elsewhere
    assert text.count("/_sw/sw.js") == 1
    slot_open = '<div data-sw-slot="popup-script">'
    assert text.split(slot_open, 1)[1].startswith('<script src="/_sw/sw.js?v=')
    assert text.replace(text.split(slot_open, 1)[1].split("</div>", 1)[0], "") == POPUP_SLOT


def test_fragment_labels_name_the_rules_and_make_the_page_private(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()

    async def hero(*args: Any) -> tuple[str, list[str]]:
        return "<h2>Rain jackets for Hamburg</h2>", ["rainy-hero:b"]

    client.app.state.shop.hooks.fragments["hero"] = hero  # type: ignore[attr-defined]
    response = client.get("/de/women/")
    assert (
        '<section data-sw-slot="hero"><h2>Rain jackets for Hamburg</h2></section>' in response.text
    )
    assert response.headers["x-shopwindow-rules"] == "rainy-hero:b"
    assert response.headers["cache-control"] == "private, no-store"


def test_fragment_text_is_written_in_the_pages_charset(proxy: Callable[..., TestClient]) -> None:
    client = proxy()

    async def greeting(*args: Any) -> tuple[str, list[str]]:
        return "Schöne Grüße – 10 € off", []

    client.app.state.shop.hooks.fragments["greeting"] = greeting  # type: ignore[attr-defined]
    response = client.get("/latin1/")
    raw = response.content
    assert "Grüße".encode("latin-1") in raw
    assert "Schöne Grüße &#8211; 10 &#8364; off".encode("latin-1") in raw
    assert response.headers["content-type"] == "text/html; charset=iso-8859-1"


def test_compressed_page_is_decoded_filled_and_sent_plain(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    view(client, "m-jkt-002")
    response = client.get("/gz/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert 'data-product-id="m-jkt-002"' in response.text
    assert site.last("/gz/").header("accept-encoding") == "gzip"


# --- failures ------------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/broken", 500)])
def test_origin_errors_pass_through_untouched(
    proxy: Callable[..., TestClient], path: str, status: int
) -> None:
    client = proxy()
    view(client, "m-jkt-002")
    response = client.get(path)
    assert response.status_code == status
    if path == "/broken":
        assert response.text == SLOTTED
    else:
        assert response.text == "<h1>Not here</h1>"


def test_origin_timeout_is_a_quick_504(proxy: Callable[..., TestClient]) -> None:
    client = proxy(origin_timeout=0.3)
    before = metric(client, "shopwindow_origin_requests_total", outcome="timeout")
    response = client.get("/slow")
    assert response.status_code == 504
    assert response.headers["cache-control"] == "no-store"
    after = metric(client, "shopwindow_origin_requests_total", outcome="timeout")
    assert after == before + 1


def test_origin_down_is_a_502(make_client: Callable[..., TestClient]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(origin=f"http://127.0.0.1:{port}")
    assert client.get("/about/").status_code == 502
    assert client.get("/healthz").status_code == 200


def test_failing_fragment_serves_the_origin_page_untouched(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()

    async def broken(*args: Any) -> tuple[str, list[str]]:
        raise RuntimeError("recommendation store down")

    client.app.state.shop.hooks.fragments["hero"] = broken  # type: ignore[attr-defined]
    before = metric(client, "shopwindow_degraded_total", part="slots")
    response = client.get("/de/women/")
    assert response.status_code == 200
    assert response.text == SLOTTED
    assert metric(client, "shopwindow_degraded_total", part="slots") == before + 1


def test_late_fragment_serves_the_origin_page_untouched(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy(slot_timeout=0.05)

    outcome: list[str] = []

    async def late(*args: Any) -> tuple[str, list[str]]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.append("cancelled at the slot budget")
            raise
        outcome.append("finished")
        return "too late", []

    client.app.state.shop.hooks.fragments["hero"] = late  # type: ignore[attr-defined]
    before = metric(client, "shopwindow_degraded_total", part="slots")
    response = client.get("/de/women/")
    assert outcome == ["cancelled at the slot budget"]
    assert response.text == SLOTTED
    assert metric(client, "shopwindow_degraded_total", part="slots") == before + 1


def test_large_page_is_streamed_through_untouched(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    response = proxy().get("/big/")
    assert response.content == PAGES["/big/"][2]


def test_binary_and_compressed_assets_pass_byte_for_byte(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()
    response = client.get("/catalog.bin")
    assert response.content == PAGES["/catalog.bin"][2]
    css = client.get("/shop.css", headers={"accept-encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip"
    assert css.text == "body { color: black }" * 50


def test_origin_pointing_back_at_shopwindow_is_refused(proxy: Callable[..., TestClient]) -> None:
    assert proxy().get("/about/", headers={"via": "1.1 shopwindow"}).status_code == 508


def test_bad_origin_url_is_refused_at_start() -> None:
    result = CliRunner().invoke(main, ["serve", "--origin", "ftp://files.example"])
    assert result.exit_code != 0
    assert "origin: 'ftp://files.example' is not an http(s) URL" in result.output


# --- headers -------------------------------------------------------------------


def test_no_hop_by_hop_header_or_spoofed_forwarding_reaches_the_origin(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    client.get(
        "/about/",
        headers={
            "Connection": "keep-alive, X-Secret",
            "X-Secret": "internal",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "websocket",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Proxy-Connection": "keep-alive",
            "X-Forwarded-For": "192.0.2.1",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "Forwarded": "for=192.0.2.1",
            "X-Real-IP": "192.0.2.1",
            "CF-IPCountry": "DE",
            "Cookie": "sw=visitor-cookie; basket=3; theme=dark",
            "Accept-Language": "de-DE",
        },
    )
    seen = site.last("/about/")
    for name in (
        "connection",
        "x-secret",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "forwarded",
        "x-real-ip",
        "cf-ipcountry",
    ):
        assert seen.header(name) is None, name
    assert seen.header("x-forwarded-for") == "203.0.113.9"
    assert seen.header("x-forwarded-host") == "testserver"
    assert seen.header("x-forwarded-proto") == "http"
    assert seen.header("cookie") == "basket=3; theme=dark"
    assert seen.header("accept-language") == "de-DE"
    assert seen.header("host") == site.url.removeprefix("http://")


def test_a_trusted_proxy_extends_the_forwarding_chain(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(peer="10.0.0.7", trusted_proxies=["10.0.0.0/8"])
    client.get(
        "/about/",
        headers={
            "X-Forwarded-For": "198.51.100.20",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example",
            "CF-IPCountry": "FR",
        },
    )
    seen = site.last("/about/")
    assert seen.header("x-forwarded-for") == "198.51.100.20, 10.0.0.7"
    assert seen.header("x-forwarded-proto") == "https"
    assert seen.header("x-forwarded-host") == "shop.example"
    assert seen.header("cf-ipcountry") == "FR"


def test_origin_hop_by_hop_headers_are_dropped_and_its_cookies_kept(
    proxy: Callable[..., TestClient],
) -> None:
    response = proxy().get("/hops")
    assert response.headers.get_list("set-cookie") == ["one=1", "two=2"]
    for name in ("x-internal", "keep-alive", "proxy-authenticate"):
        assert name not in response.headers, name


def test_personalized_page_keeps_origin_cookies_beside_the_visitor_cookie(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()
    response = client.get("/de/")
    cookies = response.headers.get_list("set-cookie")
    assert "a=1; Path=/" in cookies
    assert "b=2; Path=/; HttpOnly" in cookies
    assert any(c.startswith("sw=") for c in cookies)


def test_origin_redirects_point_at_the_shop_not_the_origin(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()
    assert client.get("/old").headers["location"] == "/de/?from=old"
    assert client.get("/elsewhere").headers["location"] == "https://payments.example/pay"


def test_request_bodies_and_methods_reach_the_origin(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    response = client.post("/cart?add=1", content=b"product=m-jkt-002&qty=2")
    assert response.status_code == 201
    assert response.text == "POST product=m-jkt-002&qty=2"
    assert site.last("/cart").path == "/cart?add=1"
    assert client.delete("/cart").text == "DELETE "
    assert client.request("TRACE", "/cart").status_code == 405


# --- cache safety --------------------------------------------------------------


def test_personalized_page_is_never_cached_publicly(proxy: Callable[..., TestClient]) -> None:
    client = proxy()
    view(client, "m-jkt-002")
    response = client.get("/de/", headers={"accept-language": "de"})
    assert response.headers["cache-control"] == "private, no-store"
    for name in ("surrogate-control", "cdn-cache-control", "x-accel-expires", "expires", "etag"):
        assert name not in response.headers, name
    assert response.headers["vary"] == "accept-language, Cookie"


def test_shareable_page_is_fetched_once_for_many_shoppers(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    view(client, "m-jkt-002")
    returning = dict(client.cookies)
    client.cookies.clear()
    site.pages["/de/women/"] = html(SLOTTED, ("Cache-Control", "public, max-age=60"))
    newcomer = client.get("/de/women/")
    assert 'data-product-id="m-jkt-002"' not in newcomer.text
    client.cookies.clear()
    # shopwindow's own cookie never reaches the origin: it does not make the page personal.
    cookie = "; ".join(f"{k}={v}" for k, v in returning.items())
    known = client.get("/de/women/", headers={"cookie": cookie})
    assert 'data-product-id="m-jkt-002"' in known.text  # the shared page, this shopper's slots
    assert site.hits("/de/women/") == 1
    client.cookies.clear()
    # A cookie the operator has not declared impersonal: fetched for this shopper alone.
    client.get("/de/women/", headers={"cookie": "theme=dark"})
    assert site.hits("/de/women/") == 2


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/account", "Cache-Control: private"),
        ("/welcome", "Set-Cookie"),
        ("/vary-cookie", "Vary: Cookie"),
        ("/about/", "Authorization on the request"),
        ("/about/", "session cookie on the request"),
    ],
)
def test_a_shoppers_own_origin_page_never_reaches_another_shopper(
    proxy: Callable[..., TestClient], site: OriginSite, path: str, header: str
) -> None:
    client = proxy()
    alice = {"cookie": "user=alice"}
    bob = {"cookie": "user=bob"}
    if header == "Authorization on the request":
        alice["authorization"] = "Bearer alice"
        bob["authorization"] = "Bearer bob"
    if header == "session cookie on the request":
        alice["cookie"] = "PHPSESSID=alice"
        bob["cookie"] = "PHPSESSID=bob"
    first = client.get(path, headers=alice)
    client.cookies.clear()
    second = client.get(path, headers=bob)
    assert site.hits(path) == 2, header
    if path == "/account":
        assert "Hello alice" in first.text
        assert "Hello bob" in second.text
    if path == "/welcome":
        alice_cookie = first.headers["set-cookie"]
        assert second.headers["set-cookie"] != alice_cookie
        assert alice_cookie.split("=", 1)[1] not in second.text
    if path == "/vary-cookie":
        assert "user=bob" in second.text
        assert "alice" not in second.text


def test_a_page_asked_with_an_unlisted_cookie_is_fetched_per_request(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    client.get("/about/", headers={"cookie": "user=alice"})
    client.cookies.clear()
    client.get("/about/", headers={"cookie": "user=bob"})
    assert site.hits("/about/") == 2


def test_declared_impersonal_cookies_still_share_the_page(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(origin_shared_cookies=["_ga*", "consent"])
    client.get("/about/", headers={"cookie": "_ga=GA1.1.111; consent=all"})
    client.cookies.clear()
    client.get("/about/", headers={"cookie": "_ga_XYZ=GS1.1.222"})
    client.cookies.clear()
    client.get("/about/")
    assert site.hits("/about/") == 1
    client.get("/about/", headers={"cookie": "_ga=GA1.1.333; cart=9"})
    assert site.hits("/about/") == 2


def test_cache_keeps_variants_apart_by_vary_and_forwarded_host(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(peer="10.0.0.7", trusted_proxies=["10.0.0.0/8"])
    german = client.get("/counted", headers={"accept-language": "de"}).text
    assert client.get("/counted", headers={"accept-language": "de"}).text == german
    french = client.get("/counted", headers={"accept-language": "fr"}).text
    assert french != german and "fr" in french
    other_shop = client.get(
        "/counted", headers={"accept-language": "fr", "x-forwarded-host": "shop.example.fr"}
    )
    assert other_shop.text != french
    assert site.hits("/counted") == 3


def test_origin_cache_can_be_switched_off(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(origin_cache_seconds=0)
    client.get("/about/")
    client.get("/about/")
    assert site.hits("/about/") == 2


def test_head_requests_pass_through(proxy: Callable[..., TestClient], site: OriginSite) -> None:
    response = proxy().head("/about/")
    assert response.status_code == 200
    assert response.content == b""
    assert site.last("/about/").method == "HEAD"


def test_origin_mode_on_a_real_server(
    live_server: Callable[..., LiveServer], site: OriginSite
) -> None:
    server = live_server("--origin", site.url)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/de/", headers={"Connection": "keep-alive, X-Secret", "X-Secret": "1"})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200
    cookies = response.headers.get_all("Set-Cookie") or []
    assert cookies[:2] == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
    assert any(c.startswith("sw=") for c in cookies)
    assert response.getheader("Cache-Control") == "private, no-store"
    assert body.endswith(b'<script src="/_sw/sw.js" defer></script></body></html>')
    assert response.getheader("Content-Length") == str(len(body))
    assert site.last("/de/").header("x-secret") is None
    # An asset the origin streams (chunked, no length) is streamed on, byte for byte.
    conn.request("GET", "/catalog.bin")
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == PAGES["/catalog.bin"][2]
    # A chunked upload streams through to the origin on the same kept-alive connection.
    conn.request("POST", "/cart", body=iter([b"product=m-jkt-002", b"&qty=2"]), encode_chunked=True)
    response = conn.getresponse()
    assert (response.status, response.read()) == (201, b"POST product=m-jkt-002&qty=2")
    conn.close()
