"""The way in (serve/entry.py): the router's remembered routes answer exactly as its walk over the routes does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from shopwindow.app import HOT_PATHS
from shopwindow.serve.entry import Endpoint

EVENTS = [
    {"type": "view", "product_id": "w-run-001"},
    {"type": "add_to_cart", "product_id": "w-bag-001"},
]

# (method, path, body) for every hot path, as a shop's pages call them.
REQUESTS = [
    ("GET", "/", None),
    ("GET", "/?utm_source=google&utm_campaign=spring&utm_term=womens+running+shoes", None),
    ("POST", "/_sw/events", EVENTS),
    ("GET", "/_sw/popup?trigger=exit", None),
    ("GET", "/_sw/fragments/recently-viewed", None),
    ("GET", "/_sw/fragments/recommendations?product_id=w-run-001", None),
    ("GET", "/_sw/popup?trigger=%ZZ&x=%E2%82%AC", None),
    ("GET", "/_sw/events", None),  # wrong method: the router's 405
    # The storefront's pattern routes are remembered too; whatever else a path is takes the walk.
    ("GET", "/de/", None),
    ("GET", "/de/women/", None),
    ("GET", "/de/women/running-shoes/", None),
    ("HEAD", "/fr/men/", None),
    ("GET", "/de/robots/", None),  # not a gender: 404
    ("GET", "/de/women", None),  # the router's trailing-slash redirect
    ("POST", "/de/women/", None),  # 405
    ("GET", "/lp/summer-sandals", None),  # a landing path, not a country
    ("GET", "/p/w-run-001", None),
]


def _full_stack(client: TestClient) -> TestClient:
    """The same app with nothing remembered: every request walks the router's routes."""
    client.app.router.route_for = lambda scope: None  # type: ignore[attr-defined]
    return client


def _answer(client: TestClient, method: str, path: str, body: Any, cookie: str) -> Any:
    client.cookies.clear()
    response = client.request(method, path, json=body, headers={"Cookie": f"sw={cookie}"})
    headers = {
        k: v for k, v in response.headers.items() if k not in ("set-cookie", "date", "x-request-id")
    }
    return response.status_code, headers, response.content


def test_every_hot_path_is_remembered_and_the_rest_walks_the_router(
    client: TestClient,
) -> None:
    router = client.app.router  # type: ignore[attr-defined]
    probe = {"type": "http", "method": "GET", "root_path": "", "app": client.app}
    for path in HOT_PATHS:
        found = router.route_for({**probe, "path": path})
        assert found is not None and found[0].path == path, path
    assert router.route_for({**probe, "path": "/de/women/"})[1] == {
        "country": "de",
        "gender": "women",
    }
    # A landing path, the static files and an unknown path are not plain routes: the walk.
    for path in ("/lp/summer-sandals", "/_sw/static/x.js", "/de/women"):
        assert router.route_for({**probe, "path": path}) is None, path


def test_remembered_paths_are_bounded(client: TestClient) -> None:
    from shopwindow.serve.entry import MAX_PATHS

    router = client.app.router  # type: ignore[attr-defined]
    probe = {"type": "http", "method": "GET", "root_path": "", "app": client.app}
    for n in range(MAX_PATHS + 10):
        router.route_for({**probe, "path": f"/x{n}/"})
    assert len(router.found) <= MAX_PATHS


def test_each_endpoint_record_is_built_at_start(client: TestClient) -> None:
    """A plain function answers at once; a coroutine function is awaited."""
    records = {
        route.path: route.app
        for route in client.app.router.routes  # type: ignore[attr-defined]
        if isinstance(getattr(route, "app", None), Endpoint)
    }
    assert records["/_sw/popup"].immediate
    assert records["/_sw/fragments/recently-viewed"].immediate
    assert not records["/_sw/events"].immediate
    assert not records["/"].immediate
    assert client.get("/_sw/popup?trigger=exit").status_code in (200, 204)


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_remembered_routes_answer_as_the_walk_does(
    make_client: Callable[..., TestClient], method: str, path: str, body: Any
) -> None:
    from tests.conftest import steady_visitor_cookie

    fast = make_client()
    slow = _full_stack(make_client())
    # A visitor with a history (views, a bag in the cart), the same on both.
    fast.cookies.clear()
    fast.post("/_sw/events", json=EVENTS, headers={"Cookie": f"sw={steady_visitor_cookie()}"})
    cookie = fast.cookies["sw"]
    assert _answer(fast, method, path, body, cookie) == _answer(slow, method, path, body, cookie)


def test_a_failing_hot_endpoint_is_a_plain_500_and_is_counted(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()
    quiet = TestClient(client.app, raise_server_exceptions=False, follow_redirects=False)

    async def broken(request: Any) -> Any:
        raise RuntimeError("boom")

    # The popup's endpoint record: patched for this test only.
    (route,) = [r for r in client.app.router.routes if getattr(r, "path", "") == "/_sw/popup"]  # type: ignore[attr-defined]
    monkeypatch.setattr(route.app, "call", broken)
    monkeypatch.setattr(route.app, "immediate", False)
    response = quiet.get("/_sw/popup?trigger=exit")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["x-content-type-options"] == "nosniff"
    metrics = client.get("/metrics").text
    assert 'shopwindow_requests_total{route="/_sw/popup",status="500"}' in metrics


@pytest.mark.parametrize("remembered", [True, False])
def test_a_failing_immediate_endpoint_is_a_plain_500(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, remembered: bool
) -> None:
    """A plain-function endpoint that raises: a plain 500, remembered or through the walk."""
    client = make_client()
    if not remembered:
        _full_stack(client)
    quiet = TestClient(client.app, raise_server_exceptions=False, follow_redirects=False)

    def broken(request: Any) -> Any:
        raise RuntimeError("boom")

    for route in client.app.router.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", None) == "/_sw/popup":
            monkeypatch.setattr(route, "app", Endpoint(broken))
    response = quiet.get("/_sw/popup?trigger=exit")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "boom" not in response.text


def test_head_limits_hold_on_every_route(client: TestClient) -> None:
    response = client.get("/?" + "a=b&" * 5000)
    assert response.status_code == 414
    assert 'route="/",status="414"' in client.get("/metrics").text


# The endpoints read cookies and query strings with their own parsers (serve/request.py):
# hostile ones must get the same answers either way, and never a 500.
HOSTILE_COOKIES = [
    'sw="unbalanced',
    'sw="\\\\\\"quoted\\\\"; sw_preview="a\\\\b"',
    "sw=; =; ;;; sw",
    "sw=1.e30=.AAAA; sw=2.x.y",
    'shop_cart="%5B%7B%22product_id%22%3A1%7D%5D"; sw="\\303\\251"',
]
HOSTILE_QUERIES = [
    "trigger=exit&&&=&%&+=+",
    "utm_source=%ZZ&utm_term=%C3%28%FF&gclid=%00%0d%0a",
    "product_id=%2e%2e%2f&product_id=w-run-001&exclude=%3Cscript%3E",
    "utm_campaign=" + "x" * 3000,
]


@pytest.mark.parametrize("cookie", HOSTILE_COOKIES)
@pytest.mark.parametrize("query", HOSTILE_QUERIES)
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/_sw/popup",
        "/_sw/fragments/recommendations",
        "/_sw/fragments/recently-viewed",
        "/de/women/",
    ],
)
def test_hostile_cookies_and_queries_answer_as_the_full_stack(
    make_client: Callable[..., TestClient], path: str, query: str, cookie: str
) -> None:
    fast = make_client()
    slow = _full_stack(make_client())
    answers = []
    for client in (fast, slow):
        client.cookies.clear()
        response = client.get(f"{path}?{query}", headers={"Cookie": cookie})
        assert response.status_code < 500
        assert "<script>" not in response.text
        headers = {k: v for k, v in response.headers.items() if k not in ("set-cookie", "date")}
        answers.append((response.status_code, headers))
    assert answers[0] == answers[1]


def test_tallied_latencies_reach_the_histogram(client: TestClient) -> None:
    # Tally.flush adds to the histogram child's own sum and buckets: this holds it
    # to the installed prometheus_client. The metrics are the process's, so other
    # tests' requests are in them too: what counts is the difference.
    route = 'route="/_sw/fragments/recently-viewed"'

    def counts() -> tuple[float, float]:
        lines = client.get("/metrics").text.splitlines()
        count = next(
            (x for x in lines if x.startswith("shopwindow_request_seconds_count{") and route in x),
            "_ 0",
        )
        inf = next(
            (
                x
                for x in lines
                if x.startswith("shopwindow_request_seconds_bucket{")
                and route in x
                and 'le="+Inf"' in x
            ),
            "_ 0",
        )
        return float(count.rpartition(" ")[2]), float(inf.rpartition(" ")[2])

    before = counts()
    for _ in range(3):
        client.get("/_sw/fragments/recently-viewed")
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (3.0, 3.0)
