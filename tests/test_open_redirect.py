"""Open redirects: every place a redirect target or link can come from stays on the site.

Homepage rule paths (placeholders filled from the cookie, Accept-Language, a CDN
country header, the dev preview switch), landing `redirect` rules (keyword and
cookie placeholders), popup call-to-action links ({search}), origin-proxy
redirect rewriting and the router's own trailing-slash redirects — each fed the
payload list of tests/hostile.py and checked with an independent browser model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from shopwindow.serve.responses import safe_path
from tests.hostile import OFF_SITE, forged_cookie, hrefs, lands_on, stays_on_site
from tests.origin_site import OriginSite, html

REDIRECTS = (301, 302, 303, 307, 308)


def test_the_browser_model_sees_what_browsers_see() -> None:
    assert lands_on("//evil.example") == "evil.example"
    assert lands_on("///evil.example") == "evil.example"
    assert lands_on("/\\evil.example") == "evil.example"
    assert lands_on("https:evil.example") == "evil.example"
    assert lands_on("\t//evil.example") == "evil.example"
    assert lands_on("https://shop.example@evil.example/") == "evil.example"
    assert lands_on("/%2F%2Fevil.example") == "testserver"
    assert lands_on("/de/") == "testserver"
    assert lands_on("javascript:alert(1)") == "<javascript>"


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_path_never_lets_a_payload_leave(target: str) -> None:
    assert stays_on_site(safe_path(target, {"shop.example"}))


def test_safe_paths_remembered_never_change_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """safe_path remembers the plain paths it passed: that memory, full or emptied,
    never lets a payload through, nor turns a plain path away."""
    monkeypatch.setattr("shopwindow.serve.responses.MAX_PLAIN_PATHS", 8)
    plain = [f"/de/women/{n}/" for n in range(20)]
    for _ in range(2):  # the second time round, from memory (and past its bound)
        for path in plain:
            assert safe_path(path, {"shop.example"}) == path
            for target in OFF_SITE:
                assert stays_on_site(safe_path(target, {"shop.example"}))


def redirected_to(response: Any) -> str:
    assert response.status_code in REDIRECTS, (response.status_code, response.text[:200])
    location: str = response.headers["location"]
    return location


# --- homepage rule paths -------------------------------------------------------------------

TEMPLATES = ["/{category}/", "/{gender}/", "/{country}/{gender}/{category}/", "/{language}/"]


@pytest.fixture
def homepage_client(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> Callable[..., TestClient]:
    def make(template: str, **settings: Any) -> TestClient:
        (rules_dir / "homepage.yaml").write_text(
            f'- id: home\n  then: {{path: "{template}"}}\n- id: fallback\n  then: {{path: /x/}}\n'
        )
        return make_client(**settings)

    return make


@pytest.mark.parametrize("template", TEMPLATES)
def test_homepage_paths_filled_from_the_cookie_stay_on_site(
    homepage_client: Callable[..., TestClient], template: str
) -> None:
    client = homepage_client(template, allowed_hosts=["shop.example"])
    for payload in OFF_SITE:
        cookie = forged_cookie(category={payload: 9.0}, gender={payload: 9.0})
        response = client.get("/", headers={"cookie": f"sw={cookie}"})
        assert stays_on_site(redirected_to(response)), (template, payload, response.headers)


def test_homepage_language_from_the_header_stays_on_site(
    homepage_client: Callable[..., TestClient],
) -> None:
    client = homepage_client("/{language}/")
    for payload in OFF_SITE:
        if "\n" in payload or "\r" in payload:
            continue  # not sendable as a header value
        value = (payload + ",de;q=0.5").encode()
        response = client.get("/", headers={"accept-language": value})
        assert stays_on_site(redirected_to(response)), payload


def test_homepage_country_from_a_cdn_header_stays_on_site(
    homepage_client: Callable[..., TestClient],
) -> None:
    client = homepage_client("/{country}/", trusted_proxies=["203.0.113.0/24"])
    for payload in OFF_SITE:
        if "\n" in payload or "\r" in payload:
            continue
        response = client.get("/", headers={"cf-ipcountry": payload.encode()})
        assert stays_on_site(redirected_to(response)), payload


def test_homepage_country_from_the_dev_preview_stays_on_site(
    homepage_client: Callable[..., TestClient],
) -> None:
    client = homepage_client("/{country}/{gender}/", dev=True)
    for payload in OFF_SITE:
        for request in (
            {"params": {"sw_country": payload, "sw_gender": payload}},
            {"headers": {"cookie": "sw_preview=" + json.dumps(f"sw_country={payload}")}},
        ):
            client.cookies.clear()
            response = client.get("/", **request)  # type: ignore[arg-type]
            assert stays_on_site(redirected_to(response)), (payload, request)


def test_homepage_in_origin_mode_stays_on_site(
    homepage_client: Callable[..., TestClient], origin: OriginSite
) -> None:
    client = homepage_client("/{category}/", origin=origin.url)
    for payload in OFF_SITE:
        cookie = forged_cookie(category={payload: 9.0})
        response = client.get("/", headers={"cookie": f"sw={cookie}"})
        if response.status_code in REDIRECTS:
            assert stays_on_site(response.headers["location"]), payload


# --- landing redirect rules -------------------------------------------------------------------


@pytest.mark.parametrize("template", [*TEMPLATES, "/lp/{category}/"])
def test_landing_redirects_stay_on_site(
    make_client: Callable[..., TestClient], rules_dir: Path, template: str
) -> None:
    (rules_dir / "landing-pages.yaml").write_text(f'- id: go\n  then: {{redirect: "{template}"}}\n')
    client = make_client()
    for payload in OFF_SITE:
        cookie = forged_cookie(category={payload: 9.0}, gender={payload: 9.0})
        for params in (
            {"utm_source": "google", "utm_term": payload},
            {"utm_campaign": payload, "utm_content": payload, "gclid": payload},
        ):
            if not any(value.strip() for value in params.values()):
                continue  # no campaign at all: the homepage, tested above
            response = client.get("/", params=params, headers={"cookie": f"sw={cookie}"})
            assert response.headers.get("x-shopwindow-rules") == "go"
            assert stays_on_site(redirected_to(response)), (template, payload)


# --- popup call-to-action links ------------------------------------------------------------------

CTA_URLS = ["/{search}", "/s?q={search}", "/{category}/{search}/", "/{country}/{gender}/"]


@pytest.mark.parametrize("cta_url", CTA_URLS)
def test_popup_cta_link_never_leaves_the_site_whatever_fills_it(
    make_client: Callable[..., TestClient], rules_dir: Path, cta_url: str
) -> None:
    (rules_dir / "popups.yaml").write_text(
        "- id: nudge\n  then:\n    title: 'Still looking for {search}?'\n"
        f"    cta: Go\n    cta_url: '{cta_url}'\n"
    )
    client = make_client()
    for payload in OFF_SITE:
        cookie = forged_cookie(
            category={payload: 9.0}, gender={payload: 9.0}, searches=[payload[:60] or "x"]
        )
        client.cookies.clear()
        headers = {"cookie": f"sw={cookie}"}
        page = client.get("/_sw/popup?trigger=exit", headers=headers)
        assert page.status_code == 200, page.text
        for link in hrefs(page.text):
            assert stays_on_site(link), (cta_url, payload, link)
        as_json = client.get(
            "/_sw/popup?trigger=exit", headers={**headers, "accept": "application/json"}
        ).json()
        link = as_json["cta_url"]
        assert link is None or stays_on_site(link), (cta_url, payload, link)


def test_popup_cta_link_from_a_real_search_event_stays_on_site(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    (rules_dir / "popups.yaml").write_text(
        "- id: nudge\n  then: {title: Hi, cta: Go, cta_url: '/{search}'}\n"
    )
    client = make_client()
    for payload in OFF_SITE:
        if not payload.strip():
            continue
        client.cookies.clear()
        assert client.post("/_sw/events", json={"type": "search", "query": payload}).is_success
        answer = client.get("/_sw/popup?trigger=exit", headers={"accept": "application/json"})
        assert stays_on_site(answer.json()["cta_url"]), payload


# --- origin proxy redirect rewriting -------------------------------------------------------------


@pytest.fixture
def origin() -> Iterator[OriginSite]:
    site = OriginSite({"/": html("<html><body>home</body></html>")})
    yield site
    site.close()


ORIGIN_PATHS = [
    "//evil.example",
    "//evil.example/x?y=1",
    "///evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/./evil.example",
    "",
    "?next=//evil.example",
    "#//evil.example",
]


def test_origin_redirect_rewriting_never_leaves_the_site(
    make_client: Callable[..., TestClient], origin: OriginSite
) -> None:
    """An origin redirect to its own //evil path used to be rewritten to //evil: off the site."""
    for n, path in enumerate(ORIGIN_PATHS):
        origin.pages[f"/r{n}"] = (302, [("Location", origin.url + path)], b"")
    client = make_client(origin=origin.url)
    for n, path in enumerate(ORIGIN_PATHS):
        location = redirected_to(client.get(f"/r{n}"))
        assert not location.startswith(origin.url), location  # the shop's address, not the origin's
        assert stays_on_site(location), (path, location)


def test_origin_redirects_elsewhere_pass_as_the_origin_sent_them(
    make_client: Callable[..., TestClient], origin: OriginSite
) -> None:
    # The origin may send shoppers to a payment provider: its choice, not a rewrite of ours.
    origin.pages["/pay"] = (302, [("Location", "https://payments.example/pay")], b"")
    client = make_client(origin=origin.url)
    assert client.get("/pay").headers["location"] == "https://payments.example/pay"


# --- the router's trailing-slash redirects ------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "shop.example@evil.example", "evil.example/x"])
def test_slash_redirects_never_name_a_hostile_host(client: TestClient, host: str) -> None:
    for path in ("/de/women", "/de", "/de/women/running-shoes", "/lp/a/b", "/_sw/fragments"):
        response = client.get(path, headers={"host": host})
        if response.status_code in REDIRECTS:
            location = response.headers["location"]
            assert stays_on_site(location, "http://shop.example/de/women"), (path, location)


def test_slash_redirects_from_double_slash_paths_stay_on_site(client: TestClient) -> None:
    for path in ("//evil.example", "//evil.example/", "/\\evil.example", "//de/women"):
        response = client.get(path)
        if response.status_code in REDIRECTS:
            assert stays_on_site(response.headers["location"]), (path, response.headers)
