"""The cache-safety contract: a personal answer is private; a segment answer never carries a cookie."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.testclient import TestClient

from shopwindow.serve.request import visit_of
from shopwindow.serve.responses import personalize


def answers(client: TestClient, segment: str | None) -> HTMLResponse:
    app = client.app
    shop = app.state.shop  # type: ignore[attr-defined]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"shop.example")],
        "client": ("203.0.113.9", 5000),
        "app": app,
        "scheme": "https",
    }
    request = Request(scope)
    visit = visit_of(request, shop.snapshot)
    assert visit.visitor.changed  # a new visitor: the cookie would be written
    response = personalize(HTMLResponse("<p>hi</p>"), shop, visit, ["rule-a"], segment=segment)
    return response


def test_a_personal_answer_is_private_and_carries_the_cookie(
    make_client: Callable[..., TestClient],
) -> None:
    response = answers(make_client(), None)
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["vary"] == "Cookie"
    assert response.headers["set-cookie"].startswith("sw=")


def test_a_segment_answer_is_shareable_and_never_carries_a_cookie(
    make_client: Callable[..., TestClient],
) -> None:
    response = answers(make_client(), "DE:mobile")
    assert response.headers["x-shopwindow-segment"] == "DE:mobile"
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["vary"] == "X-Shopwindow-Segment"
    assert "set-cookie" not in response.headers
    assert response.headers["x-shopwindow-rules"] == "rule-a"
