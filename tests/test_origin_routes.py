"""Origin mode's routing: shopwindow's own paths, and everything else the origin's, at any depth."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from tests.origin_site import OriginSite, html


@pytest.fixture
def site() -> Iterator[OriginSite]:
    site = OriginSite({}, default=lambda seen: html(f"<p>origin page {seen.path}</p>"))
    yield site
    site.close()


def test_origin_paths_of_any_shape_reach_the_origin(
    make_client: Callable[..., TestClient], site: OriginSite
) -> None:
    client = make_client(origin=site.url)
    for path in ("/de/women/", "/p/w-run-001.html", "/healthz/extra", "/_swag", "/lpx"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert f"origin page {path}" in response.text, path
    assert [seen.path for seen in site.seen] == [
        "/de/women/",
        "/p/w-run-001.html",
        "/healthz/extra",
        "/_swag",
        "/lpx",
    ]


def test_a_path_under_shopwindows_prefixes_that_no_route_takes_still_reaches_the_origin(
    make_client: Callable[..., TestClient], site: OriginSite
) -> None:
    client = make_client(origin=site.url)
    response = client.get("/lp/summer/extra")  # landing pages are one segment: not one
    assert response.status_code == 200
    assert "origin page /lp/summer/extra" in response.text
    assert client.get("/_sw/popup").status_code != 404  # shopwindow's own, not the origin's
    assert client.get("/healthz").text == "ok"
    assert [seen.path for seen in site.seen] == ["/lp/summer/extra"]
