"""examples/nginx driven for real: nginx in front of two shopwindow nodes and the shop's origin.

The shoppers connect from their own loopback addresses (127.0.0.3, 127.0.0.5)
while nginx reaches shopwindow from 127.0.0.1, the only trusted proxy; a GeoIP
file written for the test places 127.0.0.3 in Spain and 127.0.0.4 in Italy, so
the redirect shopwindow answers tells which address and country it believed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shopwindow.serve.nginx import Nginx, edge_site, find_binary, free_port
from shopwindow.visitor.geo import write_geoip_db
from tests.conftest import LiveServer, require
from tests.origin_site import Answer, OriginSite, Seen, html

pytestmark = pytest.mark.nginx

SHOPPER = "127.0.0.3"  # GeoIP: ES; no country from nginx's geo block
FRENCH_SHOPPER = "127.0.0.5"  # nginx's geo block: FR
ITALIAN_ADDRESS = "127.0.0.4"  # GeoIP: IT, the address a spoofer claims


def origin_page(seen: Seen) -> Answer:
    return html(f"<html><body><h1>origin {seen.path}</h1></body></html>", ("X-Origin", "yes"))


@pytest.fixture
def origin() -> Iterator[OriginSite]:
    site = OriginSite({}, default=origin_page)
    yield site
    site.close()


@pytest.fixture
def nodes(live_server: Callable[..., LiveServer], tmp_path: Path) -> list[LiveServer]:
    geo = tmp_path / "geo.mmdb"
    write_geoip_db(geo, {f"{SHOPPER}/32": "ES", f"{ITALIAN_ADDRESS}/32": "IT"})
    args = ("--trusted-proxy", "127.0.0.1", "--geoip", str(geo))
    env = {"SHOPWINDOW_COUNTRY_HEADERS": "x-country-code"}
    return [live_server(*args, env=env) for _ in range(2)]


@pytest.fixture
def start_edge(
    tmp_path: Path, nodes: list[LiveServer], origin: OriginSite
) -> Iterator[Callable[[str], Nginx]]:
    binary = require(find_binary() or "nginx")
    started: list[Nginx] = []

    def start(name: str) -> Nginx:
        port = free_port()
        files = edge_site(
            port,
            [f"127.0.0.1:{node.port}" for node in nodes],
            f"127.0.0.1:{origin.port}",
            countries={f"{FRENCH_SHOPPER}/32": "FR"},
        )
        edge = Nginx(tmp_path / name, files, port, binary=binary)
        started.append(edge)
        return edge

    yield start
    for edge in started:
        edge.stop()


def shopper(address: str) -> httpx.Client:
    return httpx.Client(
        transport=httpx.HTTPTransport(local_address=address), follow_redirects=False, timeout=10
    )


def test_nginx_routes_forwards_and_only_believes_itself(
    start_edge: Callable[[str], Nginx], nodes: list[LiveServer], origin: OriginSite
) -> None:
    edge = start_edge("edge")
    with shopper(SHOPPER) as client:
        # "/" is shopwindow's: the homepage decision, for the address nginx saw
        # (not the one the shopper wrote) and no country but nginx's.
        spoofed = {"X-Forwarded-For": ITALIAN_ADDRESS, "X-Country-Code": "IT", "CF-IPCountry": "IT"}
        home = client.get(edge.url + "/", headers=spoofed)
        assert home.status_code == 302
        assert home.headers["location"] == "/es/"
        assert home.headers["x-shopwindow-rules"] == "country-home"
        assert origin.hits("/") == 0

        # Every other page is the origin's, told who the shopper is.
        page = client.get(edge.url + "/es/?sort=new", headers=spoofed)
        assert page.headers["x-origin"] == "yes"
        seen = origin.last("/es/")
        assert seen.path == "/es/?sort=new"
        assert seen.header("x-forwarded-for") == SHOPPER
        assert seen.header("x-forwarded-proto") == "http"
        assert seen.header("x-forwarded-host") == "127.0.0.1"
        assert seen.header("x-country-code") is None
        assert seen.header("cf-ipcountry") is None
        assert client.get(edge.url + "/p/m-jkt-002").headers["x-origin"] == "yes"

        # Landing pages and /_sw/ are shopwindow's, whichever node answers.
        landing = client.get(edge.url + "/lp/summer-sale")
        assert "x-origin" not in landing.headers
        assert origin.hits("/lp/summer-sale") == 0
        beacon = client.post(
            edge.url + "/_sw/events", json={"type": "view", "product_id": "m-jkt-002"}
        )
        assert beacon.status_code == 200
        cookie = {"cookie": f"sw={beacon.cookies['sw']}"}
        for _ in nodes:  # round robin: both nodes read the same cookie the same way
            strip = client.get(edge.url + "/_sw/fragments/recently-viewed", headers=cookie)
            assert 'data-product-id="m-jkt-002"' in strip.text
        assert origin.hits("/_sw/events") == 0

    with shopper(FRENCH_SHOPPER) as client:
        assert client.get(edge.url + "/").headers["location"] == "/fr/"
        client.get(edge.url + "/fr/")
        assert origin.last("/fr/").header("x-country-code") == "FR"

    # Straight to a node, past nginx: the shopper's own claims count for nothing...
    node = nodes[0]
    with shopper(SHOPPER) as client:
        direct = client.get(node.url + "/", headers={"X-Forwarded-For": ITALIAN_ADDRESS,
                                                       "X-Country-Code": "IT"})  # fmt: skip
        assert direct.headers["location"] == "/es/"
    # ...while the trusted proxy's address is believed.
    with shopper("127.0.0.1") as client:
        trusted = client.get(node.url + "/", headers={"X-Forwarded-For": ITALIAN_ADDRESS})
        assert trusted.headers["location"] == "/it/"


def assert_origin_answers(edge: Nginx, origin: OriginSite) -> None:
    with shopper(SHOPPER) as client:
        for path in ("/", "/lp/summer-sale"):
            response = client.get(edge.url + path)
            assert response.status_code == 200, path
            assert response.headers["x-origin"] == "yes", path
            assert f"<h1>origin {path}</h1>" in response.text
            assert origin.last(path).header("x-forwarded-for") == SHOPPER
        # shopwindow's own paths answer empty, and the page around them carries on.
        assert client.get(edge.url + "/_sw/sw.js").status_code == 204
        assert client.get(edge.url + "/_sw/fragments/recently-viewed").status_code == 204


def test_shoppers_get_the_origin_when_both_nodes_hang_or_stop(
    start_edge: Callable[[str], Nginx], nodes: list[LiveServer], origin: OriginSite
) -> None:
    # Hung nodes accept connections and never answer: nginx's read timeout fires.
    for node in nodes:
        node.signal(signal.SIGSTOP)
    try:
        hung = start_edge("hung")
        assert_origin_answers(hung, origin)
        assert "timed out" in hung.log()
        hung.stop()
    finally:
        for node in nodes:
            node.signal(signal.SIGCONT)

    # Stopped nodes refuse connections: nginx tries the other one, then the origin.
    for node in nodes:
        node.stop()
    stopped = start_edge("stopped")
    assert_origin_answers(stopped, origin)
    assert "Connection refused" in stopped.log()
