"""The visitor cookie under attack, over HTTP: a new visitor or the right one, never a 500, never a mix.

The cookie is a bearer token: whoever holds it is that visitor (docs/security.md).
HttpOnly keeps it from page scripts, SameSite=Lax from other sites' requests, and
Secure from plain-HTTP connections; replaying a stolen one gives its holder that
one visitor's browsing, never anyone else's.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import orjson
from starlette.testclient import TestClient

from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET
from tests.hostile import forged_cookie

A_VIEWS = ["w-run-001", "w-run-002", "w-dress-001"]
B_VIEWS = ["m-jkt-002", "m-jkt-001"]


def browse(client: TestClient, products: list[str]) -> str:
    """A real visitor: views products through the beacon; returns their cookie."""
    client.cookies.clear()
    events = [{"type": "view", "product_id": pid} for pid in products]
    response = client.post("/_sw/events", json=events)
    assert response.status_code == 200
    cookie = response.cookies["sw"]
    client.cookies.clear()
    return cookie


def strip_of(client: TestClient, cookie_header: str) -> tuple[list[str], Any]:
    client.cookies.clear()
    response = client.get(
        "/_sw/fragments/recently-viewed",
        headers={"cookie": cookie_header, "accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]], response


def visitor_id_of(response: Any) -> str | None:
    value = response.cookies.get("sw")
    if value is None:
        return None
    visitor = CookieCodec(SECRET, 365).decode(value)
    return visitor.id if visitor else None


def test_tampered_cookies_are_new_visitors(client: TestClient) -> None:
    real = browse(client, A_VIEWS)
    assert strip_of(client, f"sw={real}")[0] == list(reversed(A_VIEWS))
    version, payload, tag = real.split(".")
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    tampered = [
        f"{version}.{flipped}.{tag}",
        f"{version}.{payload}.{tag[::-1]}",
        f"{version}.{payload}.",
        f"{version}.{payload}",
        f"2.{payload}.{tag}",
        f"{version}.{payload}.{tag}x",
        real[:-1],
        real + real,
        "." * 50,
        "1." + "A" * 5000 + ".x",
        real.replace(".", ".."),
    ]
    for value in tampered:
        items, response = strip_of(client, f"sw={value}")
        assert items == [], value
        assert response.headers["set-cookie"].startswith("sw="), value  # a fresh visitor


def test_replayed_cookie_gives_that_visitors_data_only_to_its_holder(client: TestClient) -> None:
    a = browse(client, A_VIEWS)
    b = browse(client, B_VIEWS)
    # Someone who copied A's cookie is A (a bearer token) ...
    items, response = strip_of(client, f"sw={a}")
    assert items == list(reversed(A_VIEWS))
    assert visitor_id_of(response) in (None, CookieCodec(SECRET, 365).decode(a).id)  # type: ignore[union-attr]
    # ... and nothing of B's ever reaches them, nor anything of A's reaches B.
    assert not set(items) & set(B_VIEWS)
    assert strip_of(client, f"sw={b}")[0] == list(reversed(B_VIEWS))


def test_concurrent_visitors_never_get_each_others_pages(client: TestClient) -> None:
    """Many visitors through one shop at once: every cache on the way keeps them apart."""
    cookies = {
        n: forged_cookie(f"visitor-{n}", viewed=[A_VIEWS[n % 3], B_VIEWS[n % 2]], sessions=2)
        for n in range(12)
    }
    expected = {n: [A_VIEWS[n % 3], B_VIEWS[n % 2]] for n in cookies}
    wrong: list[Any] = []

    def shopper(n: int) -> None:
        for _ in range(15):
            for path in ("/_sw/fragments/recently-viewed", "/de/women/"):
                response = client.get(
                    path, headers={"cookie": f"sw={cookies[n]}", "accept": "application/json"}
                )
                if path.endswith("recently-viewed"):
                    got = [item["id"] for item in response.json()["items"]]
                    if got != expected[n]:
                        wrong.append((n, got))
                elif response.status_code != 200:
                    wrong.append((n, response.status_code))

    threads = [threading.Thread(target=shopper, args=(n,)) for n in cookies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_old_format_cookies_are_new_visitors(client: TestClient) -> None:
    visitor = {"i": "old-visitor", "s": 3, "t": 1, "r": A_VIEWS}
    plain = base64.urlsafe_b64encode(orjson.dumps(visitor)).rstrip(b"=").decode()
    other_secret = CookieCodec("a-secret-rotated-away", 365).encode(
        Visitor(id="rotated", new=False, viewed=list(A_VIEWS), seen=10**10 // 10)
    )
    for value in (
        orjson.dumps(visitor).decode(),  # a JSON cookie from before signing
        plain,  # unsigned base64
        f"0.{plain}.AAAA",  # a version that no longer exists
        other_secret,  # signed with a secret that was rotated away
        '"1.abc.def"',
    ):
        items, response = strip_of(client, f"sw={value}")
        assert items == [], value
        assert response.status_code == 200


def test_oversize_and_many_cookies_are_served(client: TestClient) -> None:
    a = browse(client, A_VIEWS)
    assert strip_of(client, "sw=" + "A" * 9000)[0] == []
    many = "; ".join(f"c{n}=value{n}" for n in range(300))
    assert strip_of(client, f"{many}; sw={a}")[0] == list(reversed(A_VIEWS))
    assert strip_of(client, f"sw={a}; {many}")[0] == list(reversed(A_VIEWS))
    assert client.get("/", headers={"cookie": "sw=" + "A" * 15000}).status_code == 302


def test_duplicate_visitor_cookies_never_mix_two_visitors(client: TestClient) -> None:
    a = browse(client, A_VIEWS)
    b = browse(client, B_VIEWS)
    for header in (f"sw={a}; sw={b}", f"sw={b}; sw={a}", f"sw={a}; sw=garbage; sw={b}"):
        items, _response = strip_of(client, header)
        assert items in (list(reversed(A_VIEWS)), list(reversed(B_VIEWS))), (header, items)
    for header in (f"sw=garbage; sw={a}", f"sw={a}; sw=garbage"):
        items, _response = strip_of(client, header)
        assert items in ([], list(reversed(A_VIEWS))), (header, items)


def test_cookie_flags_limit_where_the_token_travels(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    cookie = client.get("/").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in this test: a Secure cookie would not return
    secure = make_client(cookie_secure="always").get("/").headers["set-cookie"]
    assert "; Secure" in secure


def test_secure_flag_follows_a_trusted_proxys_https(
    make_client: Callable[..., TestClient],
) -> None:
    """Behind a TLS-terminating CDN the connection to shopwindow is plain HTTP: the cookie
    used to go out without Secure, so a browser would also send it over plain HTTP."""
    behind_cdn = make_client(peer="10.0.0.7", trusted_proxies=["10.0.0.0/8"])
    cookie = behind_cdn.get("/", headers={"x-forwarded-proto": "https"}).headers["set-cookie"]
    assert "; Secure" in cookie
    spoofing = make_client(peer="203.0.113.9", trusted_proxies=["10.0.0.0/8"])
    cookie = spoofing.get("/", headers={"x-forwarded-proto": "https"}).headers["set-cookie"]
    assert "Secure" not in cookie  # a visitor's own claim changes nothing
