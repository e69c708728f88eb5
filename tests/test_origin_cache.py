"""The origin proxy never mixes shoppers: no cookie jar, a shared cache that follows HTTP, faithful relays."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from shopwindow.settings import SettingsError, load
from tests.origin_site import Answer, OriginSite, Seen, html

_serial = itertools.count()


def fresh(seen: Seen) -> str:
    """Something no two origin answers share, so a test can tell a stored copy from a new one."""
    return f"n{next(_serial)}"


def with_headers(*headers: tuple[str, str]) -> Callable[[Seen], Answer]:
    def page(seen: Seen) -> Answer:
        return html(f"<html><body>{fresh(seen)} {seen.header('cookie')}</body></html>", *headers)

    return page


def login(seen: Seen) -> Answer:
    return html("<html><body>Welcome back</body></html>", ("Set-Cookie", "PHPSESSID=alice-42"))


def currency(seen: Seen) -> Answer:
    """A page that depends on a cookie and says nothing about it (no Vary, public)."""
    match = re.search(r"currency=(\w+)", seen.header("cookie") or "")
    return html(
        f"<html><body>Prices in {match.group(1) if match else 'EUR'}</body></html>",
        ("Cache-Control", "public, max-age=60"),
    )


def click_echo(seen: Seen) -> Answer:
    return html(
        f"<html><body><a href='{seen.path}'>here</a></body></html>",
        ("Cache-Control", "public, max-age=60"),
    )


PUBLIC = ("Cache-Control", "public, max-age=60")
PAGES: dict[str, Any] = {
    "/login": login,
    "/account": with_headers(),
    "/no-cache-control": with_headers(),
    "/expires-only": with_headers(("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")),
    "/public": with_headers(PUBLIC),
    "/public-bare": with_headers(("Cache-Control", "public")),
    "/max-age": with_headers(("Cache-Control", "max-age=60")),
    "/s-maxage": with_headers(("Cache-Control", "s-maxage=60")),
    "/max-age-zero": with_headers(("Cache-Control", "public, max-age=0")),
    "/no-cache": with_headers(("Cache-Control", "public, no-cache")),
    "/private": with_headers(("Cache-Control", "private, max-age=60")),
    "/no-store": with_headers(("Cache-Control", "no-store, max-age=60")),
    "/set-cookie": with_headers(PUBLIC, ("Set-Cookie", "recent=1")),
    "/vary-star": with_headers(PUBLIC, ("Vary", "*")),
    "/vary-cookie": with_headers(PUBLIC, ("Vary", "Cookie")),
    "/vary-language": with_headers(PUBLIC, ("Vary", "Accept-Language")),
    "/currency": currency,
    "/click": click_echo,
    "/bad-location": (302, [("Location", "http://exa mple.test:port/[x")], b""),
    "/odd-location": (301, [("Location", "/sale/ summer?x=[1]")], b""),
}


@pytest.fixture
def site() -> Iterator[OriginSite]:
    site = OriginSite(dict(PAGES))
    yield site
    site.close()


@pytest.fixture
def proxy(make_client: Callable[..., TestClient], site: OriginSite) -> Callable[..., TestClient]:
    def make(**overrides: Any) -> TestClient:
        return make_client(origin=site.url, **overrides)

    return make


def anonymous(client: TestClient, path: str, **headers: str) -> str:
    client.cookies.clear()
    return client.get(path, headers=headers).text


# --- no state shared on the way to the origin ----------------------------------


def test_a_shopper_without_cookies_reaches_the_origin_without_cookies(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    logged_in = client.get("/login", headers={"cookie": "cart=alice"})
    assert logged_in.headers["set-cookie"] == "PHPSESSID=alice-42"
    client.cookies.clear()
    client.get("/account")
    assert site.last("/account").header("cookie") is None
    client.get("/account", headers={"cookie": "cart=bob"})
    assert site.last("/account").header("cookie") == "cart=bob"


# --- what is stored, what is not ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "shared"),
    [
        ("/no-cache-control", False),
        ("/expires-only", False),
        ("/max-age-zero", False),
        ("/no-cache", False),
        ("/private", False),
        ("/no-store", False),
        ("/set-cookie", False),
        ("/vary-star", False),
        ("/public", True),
        ("/public-bare", True),
        ("/max-age", True),
        ("/s-maxage", True),
    ],
)
def test_only_answers_the_origin_marked_shareable_are_served_to_another_shopper(
    proxy: Callable[..., TestClient], site: OriginSite, path: str, shared: bool
) -> None:
    client = proxy()
    first = anonymous(client, path)
    second = anonymous(client, path)
    assert (first == second) is shared
    assert site.hits(path) == (1 if shared else 2)


def test_only_get_answers_are_stored(proxy: Callable[..., TestClient], site: OriginSite) -> None:
    client = proxy()
    client.head("/public")
    client.post("/public", content=b"q=1")
    client.get("/public")
    client.get("/public")
    assert [s.method for s in site.seen] == ["HEAD", "POST", "GET"]


@pytest.mark.parametrize(
    "cookie", ["auth_token=t1", "_app_session=abc", "remember_user_token=x", "theme=dark"]
)
def test_an_unknown_session_cookie_name_is_never_shared(
    proxy: Callable[..., TestClient], site: OriginSite, cookie: str
) -> None:
    client = proxy()
    mine = anonymous(client, "/public", cookie=cookie)
    assert cookie in mine
    assert cookie not in anonymous(client, "/public")
    assert site.hits("/public") == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"cookie": "PHPSESSID=alice"},
        {"cookie": "_ga=GA1.1.7; session=alice"},
        {"authorization": "Bearer alice"},
    ],
    ids=["session-cookie", "listed-and-session-cookie", "authorization"],
)
def test_a_request_with_its_own_session_is_never_answered_from_the_shared_cache(
    proxy: Callable[..., TestClient], site: OriginSite, headers: dict[str, str]
) -> None:
    client = proxy(origin_shared_cookies=["_ga*"])
    stored = anonymous(client, "/public")
    assert anonymous(client, "/public") == stored
    own = anonymous(client, "/public", **headers)
    assert own != stored
    assert site.hits("/public") == 2
    # ... and its answer is not stored for the anonymous shoppers either.
    assert anonymous(client, "/public") == stored


def test_a_page_that_depends_on_a_cookie_is_not_served_across_shoppers(
    proxy: Callable[..., TestClient],
) -> None:
    client = proxy()
    assert "Prices in USD" in anonymous(client, "/currency", cookie="currency=USD")
    assert "Prices in EUR" in anonymous(client, "/currency", cookie="currency=EUR")
    assert "Prices in EUR" in anonymous(client, "/currency")
    assert "Prices in USD" in anonymous(client, "/currency", cookie="currency=USD")


def test_vary_cookie_keeps_the_listed_cookies_variants_apart(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy(origin_shared_cookies=["consent"])
    allowed = anonymous(client, "/vary-cookie", cookie="consent=all")
    refused = anonymous(client, "/vary-cookie", cookie="consent=none")
    assert "consent=all" in allowed and "consent=none" in refused
    assert anonymous(client, "/vary-cookie", cookie="consent=all") == allowed
    assert anonymous(client, "/vary-cookie", cookie="consent=none") == refused
    assert site.hits("/vary-cookie") == 2


def test_vary_accept_language_keeps_each_variant_stored(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    german = anonymous(client, "/vary-language", **{"accept-language": "de"})
    french = anonymous(client, "/vary-language", **{"accept-language": "fr"})
    assert german != french
    assert anonymous(client, "/vary-language", **{"accept-language": "de"}) == german
    assert anonymous(client, "/vary-language", **{"accept-language": "fr"}) == french
    assert anonymous(client, "/vary-language") not in (german, french)
    assert site.hits("/vary-language") == 3


def test_tracking_parameters_are_left_out_of_the_cache_key(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    plain = anonymous(client, "/public?page=2")
    assert anonymous(client, "/public?page=2&gclid=abc&utm_source=news") == plain
    assert anonymous(client, "/public?fbclid=xyz&page=2") == plain
    assert anonymous(client, "/public?page=3&gclid=abc") != plain
    assert site.hits("/public") == 2
    # The origin still sees every parameter the shopper's URL had.
    assert site.last("/public").path == "/public?page=3&gclid=abc"


def test_a_page_that_repeats_a_click_id_is_not_stored(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    first = anonymous(client, "/click?gclid=click-one")
    assert "click-one" in first
    second = anonymous(client, "/click?gclid=click-two")
    assert "click-one" not in second and "click-two" in second
    assert site.hits("/click") == 2


def test_a_reload_with_no_cache_is_fetched_again(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    stored = anonymous(client, "/public")
    reloaded = anonymous(client, "/public", **{"cache-control": "no-cache"})
    assert reloaded != stored
    assert site.hits("/public") == 2


# --- the old setting ------------------------------------------------------------


def test_the_replaced_cookie_setting_is_refused_naming_the_new_one(rules_dir: Path) -> None:
    with pytest.raises(SettingsError, match="origin_shared_cookies"):
        load(
            {"rules": str(rules_dir)},
            environ={"SHOPWINDOW_ORIGIN_PRIVATE_COOKIES": "PHPSESSID"},
        )
    toml = rules_dir / "shopwindow.toml"
    toml.write_text(toml.read_text() + '\norigin_private_cookies = ["PHPSESSID"]\n')
    result = CliRunner().invoke(main, ["check", str(rules_dir)])
    assert result.exit_code != 0
    assert "origin_shared_cookies" in result.output


# --- relayed as the origin sent it ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/bad-location", 302, "http://exa mple.test:port/[x"),
        ("/odd-location", 301, "/sale/ summer?x=[1]"),
    ],
)
def test_a_location_the_proxy_cannot_parse_is_relayed_as_sent(
    proxy: Callable[..., TestClient], path: str, status: int, location: str
) -> None:
    response = proxy().get(path)
    assert response.status_code == status
    assert response.headers["location"] == location


def test_an_origin_redirect_to_its_own_address_never_leaves_the_shop(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    site.pages["/twice"] = (302, [("Location", f"{site.url}//evil.example/%5c")], b"")
    site.pages["/bad-own"] = (302, [("Location", f"{site.url}/de/ [sale]")], b"")
    client = proxy()
    assert client.get("/twice").headers["location"].startswith("/")
    assert not client.get("/twice").headers["location"].startswith("//")
    # A path of the origin's that the shop cannot vouch for becomes the shop's home.
    assert client.get("/bad-own").headers["location"] == "/"


# --- logs ---------------------------------------------------------------------------


@pytest.mark.parametrize("log_queries", [False, True])
def test_proxied_requests_are_logged_at_debug_without_query_strings(
    proxy: Callable[..., TestClient], caplog: pytest.LogCaptureFixture, log_queries: bool
) -> None:
    client = proxy(origin_log_queries=log_queries)
    with caplog.at_level(logging.DEBUG, logger="shopwindow.origin"):
        client.get("/public?email=alice@example.com")
        client.get("/public?email=alice@example.com")
    lines = [r for r in caplog.records if r.name == "shopwindow.origin"]
    assert len(lines) == 2
    assert all(r.levelno == logging.DEBUG for r in lines)
    assert all("/public" in r.getMessage() for r in lines)
    assert any("alice@example.com" in r.getMessage() for r in lines) is log_queries


# --- the property -------------------------------------------------------------------

# Weighted towards answers the cache may keep: those are where a leak could happen.
CACHE_CONTROLS = [
    "public, max-age=60",
    "public",
    "max-age=60",
    "s-maxage=60",
    None,
    "private",
    "no-store",
    "public, no-cache",
]
VARY = [None, None, "Accept-Language", "Cookie", "*"]
COOKIE_NAMES = ["PHPSESSID", "auth_token", "_app_session", "sid", "cart", "currency"]

page_behaviour = st.fixed_dictionaries(
    {
        "cache_control": st.sampled_from(CACHE_CONTROLS),
        "vary": st.sampled_from(VARY),
        "echo": st.sampled_from([True, True, False]),  # the body repeats the Cookie it was sent
        "refresh": st.booleans(),  # a Set-Cookie that renews the shopper's session value
    }
)
shopper = st.one_of(st.sampled_from(COOKIE_NAMES), st.none())
visit = st.tuples(
    st.integers(0, 2),  # which shopper
    st.integers(0, 1),  # which page
    st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"]),
    st.sampled_from(["", "?gclid=x", "?utm_source=a&page=2"]),
)


def test_no_shopper_ever_receives_another_shoppers_cookie_value(
    proxy: Callable[..., TestClient], site: OriginSite
) -> None:
    client = proxy()
    origin = client.app.state.shop.services.origin  # type: ignore[attr-defined]
    rounds = itertools.count()

    def behaving(rule: dict[str, Any]) -> Callable[[Seen], Answer]:
        def page(seen: Seen) -> Answer:
            cookie = seen.header("cookie") or ""
            headers: list[tuple[str, str]] = []
            if rule["cache_control"]:
                headers.append(("Cache-Control", rule["cache_control"]))
            if rule["vary"]:
                headers.append(("Vary", rule["vary"]))
            if rule["refresh"] and "=" in cookie:
                name, value = cookie.split(";")[0].split("=", 1)
                headers.append(("Set-Cookie", f"{name}={value}; Path=/"))
            text = cookie if rule["echo"] else "no cookie shown"
            return html(f"<html><body><p>{text}</p></body></html>", *headers)

        return page

    @settings(max_examples=30, deadline=None, database=None)
    @given(
        pages=st.lists(page_behaviour, min_size=2, max_size=2),
        shoppers=st.lists(shopper, min_size=3, max_size=3),
        visits=st.lists(visit, min_size=1, max_size=6),
    )
    def run(
        pages: list[dict[str, Any]],
        shoppers: list[str | None],
        visits: list[tuple[int, int, str, str]],
    ) -> None:
        round_ = next(rounds)
        origin.cache.clear()
        origin.variants.clear()
        for index, rule in enumerate(pages):
            site.pages[f"/p{index}"] = behaving(rule)
        secrets = [f"zq{round_}s{n}secret" for n in range(len(shoppers))]
        # Then every shopper asks for every page, so whatever was stored is seen by all.
        sweep = [(who, page, "GET", "") for page in range(len(pages)) for who in (2, 1, 0)]
        for who, page, method, query in [*visits, *sweep]:
            client.cookies.clear()
            headers = {"accept-language": "de" if who % 2 else "fr"}
            if shoppers[who] is not None:
                headers["cookie"] = f"{shoppers[who]}={secrets[who]}"
            response = client.request(method, f"/p{page}{query}", headers=headers)
            received = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
            for other, secret in enumerate(secrets):
                if other != who:
                    assert secret not in received, (who, other, method, page)

    run()
