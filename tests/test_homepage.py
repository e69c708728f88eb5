"""The homepage placement over HTTP: geo, affinity, recently viewed, bots, consent, cache safety."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from shopwindow.visitor.geo import write_geoip_db
from tests.conftest import steady_visitor_cookie

CDN = "10.1.2.3"  # a trusted proxy in these tests


@pytest.fixture
def geoip(tmp_path: Path) -> str:
    path = tmp_path / "geo.mmdb"
    write_geoip_db(path, {"81.0.0.0/8": "DE", "90.0.0.0/8": "FR", "2a00::/16": "GB"})
    return str(path)


def women_running_shoes(client: TestClient, n: int = 3) -> list[str]:
    if "sw" not in client.cookies:
        client.cookies.set("sw", steady_visitor_cookie())
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    picks = [p.id for p in catalog.in_category("women", "running-shoes") if p.gender == "women"][:n]
    r = client.post("/_sw/events", json=[{"type": "view", "product_id": pid} for pid in picks])
    assert r.status_code == 200, r.text
    return picks


def test_first_visit_is_geo_only(make_client: Callable[..., TestClient], geoip: str) -> None:
    client = make_client(peer="81.2.3.4", geoip=geoip)
    r = client.get("/")
    assert r.status_code == 302
    assert r.headers["location"] == "/de/"
    assert r.headers["x-shopwindow-rules"] == "country-home"
    assert r.headers["cache-control"].startswith("private")
    assert "sw=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


def test_journey_three_running_shoes_to_women_home(
    make_client: Callable[..., TestClient], geoip: str
) -> None:
    client = make_client(peer="81.2.3.4", geoip=geoip)
    picks = women_running_shoes(client)
    r = client.get("/")
    assert r.status_code == 302
    assert r.headers["location"] == "/de/women/"
    assert r.headers["x-shopwindow-rules"] in ("gender-home:a", "gender-home:b")
    page = client.get("/de/women/")
    assert page.status_code == 200
    html = page.text
    assert 'data-category="running-shoes"' in html  # highlighted
    strip = html.split('class="strip recently-viewed"', 1)[1].split("</section>", 1)[0]
    positions = [strip.index(f'data-product-id="{pid}"') for pid in reversed(picks)]
    assert positions == sorted(positions), "newest first"


def test_strong_category_goes_to_category_home(
    make_client: Callable[..., TestClient], geoip: str
) -> None:
    client = make_client(peer="81.2.3.4", geoip=geoip)
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    bag = next(
        p for p in catalog.in_category("women", "bags") if p.in_stock and p.gender == "women"
    )
    client.post("/_sw/events", json=[{"type": "view", "product_id": bag.id}] * 3)
    client.post("/_sw/events", json={"type": "add_to_cart", "product_id": bag.id})
    client.post("/_sw/events", json={"type": "add_to_cart", "product_id": bag.id})
    r = client.get("/")
    assert r.headers["location"] == "/de/women/bags/"
    assert r.headers["x-shopwindow-rules"] == "category-home"


def test_affinity_switches_gender(make_client: Callable[..., TestClient], geoip: str) -> None:
    client = make_client(peer="90.1.1.1", geoip=geoip)
    women_running_shoes(client, 2)
    assert client.get("/").headers["location"] == "/fr/women/"
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    men = [p.id for p in catalog.in_gender("men") if p.gender == "men"][:6]
    client.post("/_sw/events", json=[{"type": "view", "product_id": pid} for pid in men])
    client.post("/_sw/events", json=[{"type": "add_to_cart", "product_id": men[0]}])
    assert client.get("/").headers["location"] == "/fr/men/"


def test_cdn_header_only_from_trusted_proxy(
    make_client: Callable[..., TestClient], geoip: str
) -> None:
    trusted = make_client(peer=CDN, geoip=geoip, trusted_proxies=["10.0.0.0/8"])
    r = trusted.get("/", headers={"CF-IPCountry": "AT", "X-Forwarded-For": "81.1.1.1"})
    assert r.headers["location"] == "/at/"
    r = trusted.get("/", headers={"X-Forwarded-For": "90.1.1.1"})
    assert r.headers["location"] == "/fr/"  # client IP from XFF via the trusted proxy, then GeoIP
    spoofer = make_client(peer="81.9.9.9", geoip=geoip, trusted_proxies=["10.0.0.0/8"])
    r = spoofer.get("/", headers={"CF-IPCountry": "US", "X-Forwarded-For": "90.1.1.1"})
    assert r.headers["location"] == "/de/"  # neither header believed from an untrusted peer


def test_default_country_without_geo(make_client: Callable[..., TestClient]) -> None:
    client = make_client(peer="192.168.1.1", geoip="", default_country="NL")
    assert client.get("/").headers["location"] == "/nl/"


def test_bots_are_never_redirected(make_client: Callable[..., TestClient], geoip: str) -> None:
    client = make_client(peer="81.2.3.4", geoip=geoip)
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    r = client.get("/", headers={"User-Agent": bot})
    assert r.status_code == 200
    assert "<html" in r.text


def test_render_mode_renders_instead_of_redirecting(
    make_client: Callable[..., TestClient], geoip: str
) -> None:
    client = make_client(peer="81.2.3.4", geoip=geoip, homepage_mode="render")
    women_running_shoes(client)
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["x-shopwindow-rules"] in ("gender-home:a", "gender-home:b")
    assert 'data-category="running-shoes"' in r.text


def test_recently_viewed_fragment_order_dedupe_cap(client: TestClient) -> None:
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    ids = [p.id for p in catalog if p.in_stock][:20]
    for pid in [*ids, ids[3]]:  # ids[3] viewed again: moves to the front
        client.post("/_sw/events", json={"type": "view", "product_id": pid})
    r = client.get("/_sw/fragments/recently-viewed", headers={"Accept": "application/json"})
    items = [i["id"] for i in r.json()["items"]]
    assert items[0] == ids[3]
    assert len(items) == 12 and len(set(items)) == 12
    assert items[1:] == [ids[n] for n in range(19, 8, -1)]
    html = client.get("/_sw/fragments/recently-viewed").text
    assert html.count("data-product-id=") == 12


def test_sold_out_item_is_swapped_for_similar(client: TestClient) -> None:
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    sold = next(p for p in catalog if not p.in_stock)
    client.post("/_sw/events", json={"type": "view", "product_id": sold.id})
    items = client.get(
        "/_sw/fragments/recently-viewed", headers={"Accept": "application/json"}
    ).json()["items"]
    assert len(items) == 1
    assert items[0]["in_stock"] is True and items[0]["id"] != sold.id
    assert items[0]["instead_of"] == sold.name
    assert items[0]["category"] == sold.category


def test_consent_declined_stores_nothing(
    make_client: Callable[..., TestClient], geoip: str
) -> None:
    client = make_client(peer="81.2.3.4", geoip=geoip, consent_cookie="consent")
    client.cookies.set("consent", "denied")
    r = client.post("/_sw/events", json={"type": "view", "product_id": "w-run-001"})
    assert r.status_code == 200
    assert "set-cookie" not in r.headers
    r = client.get("/")
    assert "set-cookie" not in r.headers
    assert r.headers["location"] == "/de/"
    gpc = make_client(peer="81.2.3.4", geoip=geoip)
    r = gpc.get("/", headers={"Sec-GPC": "1"})
    assert "set-cookie" not in r.headers


def test_events_bad_entries_get_reasons_and_valid_ones_apply(client: TestClient) -> None:
    r = client.post(
        "/_sw/events",
        json=[
            {"type": "view", "product_id": "w-run-001"},
            {"type": "teleport"},
            {"type": "view", "product_id": "nope"},
            {"type": "search"},
            "not an object",
        ],
    )
    assert r.status_code == 400
    body = r.json()
    assert body["accepted"] == 1
    assert [e["index"] for e in body["errors"]] == [1, 2, 3, 4]
    assert "unknown type" in body["errors"][0]["error"]
    assert "set-cookie" in r.headers
    items = client.get(
        "/_sw/fragments/recently-viewed", headers={"Accept": "application/json"}
    ).json()
    assert [i["id"] for i in items["items"]] == ["w-run-001"]


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"", 400), (b"[]", 400), (b"null", 400), (b"x" * 70_000, 413)],
)
def test_events_bad_bodies(client: TestClient, body: bytes, status: int) -> None:
    r = client.post("/_sw/events", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    assert "error" in r.json()


def test_too_many_events(client: TestClient) -> None:
    r = client.post("/_sw/events", json=[{"type": "view", "product_id": "w-run-001"}] * 51)
    assert r.status_code == 413


def test_concurrent_beacons_merge_not_lose(client: TestClient) -> None:
    """Each answer's cookie is the cookie it received plus its events (the script sends one at a time)."""

    def send(cookie: str | None, event: dict[str, object]) -> str:
        client.cookies.clear()
        if cookie:
            client.cookies.set("sw", cookie)
        r = client.post("/_sw/events", json=event)
        assert r.status_code == 200
        return r.cookies["sw"]

    def viewed(cookie: str) -> list[str]:
        client.cookies.clear()
        client.cookies.set("sw", cookie)
        r = client.get("/_sw/fragments/recently-viewed", headers={"Accept": "application/json"})
        return [i["id"] for i in r.json()["items"]]

    first = send(None, {"type": "view", "product_id": "w-run-001"})
    a = send(first, {"type": "view", "product_id": "w-run-002"})
    b = send(first, {"type": "view", "product_id": "w-run-003"})  # left before `a` came back
    assert viewed(a) == ["w-run-002", "w-run-001"]
    assert viewed(b) == ["w-run-003", "w-run-001"]
    chained = send(a, {"type": "view", "product_id": "w-run-003"})  # one at a time: nothing lost
    assert viewed(chained) == ["w-run-003", "w-run-002", "w-run-001"]


def test_storefront_404s(client: TestClient) -> None:
    assert client.get("/deu/").status_code == 404
    assert client.get("/de/aliens/").status_code == 404
    assert client.get("/de/women/spaceships/").status_code == 404
    assert client.get("/p/nope").status_code == 404


def test_healthz_readyz_metrics(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok"
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["products"] >= 300
    client.get("/")
    text = client.get("/metrics").text
    assert 'shopwindow_requests_total{route="/",status="302"}' in text
    assert "shopwindow_request_seconds_bucket" in text
    assert 'shopwindow_rule_matches_total{placement="homepage",rule="country-home"}' in text


def test_live_server_journey(live_server: Callable[..., object], tmp_path: Path) -> None:
    """The end-to-end journey against the real server, as a CDN in front of it would drive it."""
    geo = tmp_path / "geo.mmdb"
    write_geoip_db(geo, {"81.0.0.0/8": "DE"})
    server = live_server("--geoip", str(geo), "--trusted-proxy", "127.0.0.1")
    url = server.url  # type: ignore[attr-defined]
    with httpx.Client(base_url=url, headers={"X-Forwarded-For": "81.2.3.4"}) as http:
        http.cookies.set("sw", steady_visitor_cookie())
        r = http.get("/")
        assert r.headers["location"] == "/de/"
        for pid in ("w-run-001", "w-run-002", "w-run-003"):
            assert (
                http.post("/_sw/events", json={"type": "view", "product_id": pid}).status_code
                == 200
            )
        r = http.get("/")
        assert r.status_code == 302 and r.headers["location"] == "/de/women/"
        page = http.get("/de/women/").text
        assert 'data-category="running-shoes"' in page
        for pid in ("w-run-001", "w-run-002", "w-run-003"):
            assert f'data-product-id="{pid}"' in page


def test_preview_switch_only_in_dev(make_client: Callable[..., TestClient], geoip: str) -> None:
    dev = make_client(peer="81.2.3.4", geoip=geoip, dev=True)
    dev.cookies.set("sw", steady_visitor_cookie())
    r = dev.get("/", params={"sw_country": "fr", "sw_gender": "men", "sw_device": "mobile"})
    assert r.headers["location"] == "/fr/men/"
    assert any(c.startswith("sw_preview=") for c in r.headers.get_list("set-cookie"))
    assert dev.get("/").headers["location"] == "/fr/men/"  # sticks through its cookie
    page = dev.get("/fr/men/")
    assert 'name="sw_country"' in page.text and 'value="FR"' in page.text
    prod = make_client(peer="81.2.3.4", geoip=geoip)
    r = prod.get("/", params={"sw_country": "fr", "sw_gender": "men"})
    assert r.headers["location"] == "/de/"
    assert "sw_country" not in prod.get("/de/").text


def test_production_refuses_dev_secret_and_preview(rules_dir: Path) -> None:
    from shopwindow import settings as settings_mod

    with pytest.raises(settings_mod.SettingsError, match="SHOPWINDOW_SECRET"):
        settings_mod.load({"rules": str(rules_dir)}, environ={"SHOPWINDOW_ENV": "production"})
    with pytest.raises(settings_mod.SettingsError, match="refused in production"):
        settings_mod.load(
            {"rules": str(rules_dir), "dev": True},
            environ={"SHOPWINDOW_ENV": "production", "SHOPWINDOW_SECRET": "s" * 32},
        )
