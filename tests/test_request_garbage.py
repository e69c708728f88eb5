"""Answers leave no reference cycles behind: what a request allocates is freed when it ends.

A cycle per request is freed only by the garbage collector, whose full passes
over a shop's catalog and caches take tens of milliseconds: at thousands of
requests a second that is a pause in every p99. Closures inside compiled
coroutines were such cycles (limits.CheckedSend, popups.decide_popup).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from shopwindow.app import create_app
from shopwindow.settings import Settings

from .conftest import http_scope, steady_visitor_cookie

EVENTS = orjson.dumps(
    [
        {"type": "view", "product_id": "w-run-001"},
        {"type": "search", "query": "running shoes"},
        {"type": "add_to_cart", "product_id": "w-bag-001"},
    ]
)

REQUESTS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/"),
    ("GET", "/?utm_source=google&utm_campaign=spring&utm_term=womens+running+shoes"),
    ("POST", "/_sw/events"),
    ("GET", "/_sw/popup?trigger=exit"),
    ("GET", "/_sw/fragments/recently-viewed"),
    ("GET", "/_sw/fragments/recommendations?product_id=w-run-001"),
    ("GET", "/de/women/"),
    ("GET", "/de/women"),
    ("GET", "/lp/summer-sandals"),
    ("GET", "/p/w-run-001"),
    ("GET", "/no/such/page"),
    ("POST", "/de/women/"),
]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize(("method", "path"), REQUESTS, ids=[f"{m} {p}" for m, p in REQUESTS])
def test_an_answer_leaves_no_cycles(
    make_settings: object,
    loop: asyncio.AbstractEventLoop,
    method: str,
    path: str,
) -> None:
    settings: Settings = make_settings()  # type: ignore[operator]
    app = create_app(settings, watch=False)
    with TestClient(app) as client:  # the lifespan: the shop's workers started, as served
        answer = client.post(
            "/_sw/events",
            content=EVENTS,
            headers={"Cookie": f"sw={steady_visitor_cookie()}"},
        )
        cookie = answer.cookies["sw"]
        raw_path, _, query = path.partition("?")

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": EVENTS if method == "POST" else b""}

        statuses: list[int] = []

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))  # type: ignore[call-overload]

        async def requests(n: int) -> None:
            for _ in range(n):
                headers = [
                    (b"host", b"shop.example"),
                    (b"content-type", b"application/json"),
                    (b"cookie", f"sw={cookie}".encode()),
                ]
                scope = http_scope(method, raw_path, query.encode(), headers, "shop.example")
                await app(scope, receive, send)  # type: ignore[arg-type]

        loop.run_until_complete(requests(20))  # caches warmed
        gc.collect()
        gc.disable()
        try:
            loop.run_until_complete(requests(50))
            found = gc.collect()
        finally:
            gc.enable()
    assert statuses and all(status < 500 for status in statuses)
    assert found == 0, f"{found} objects in reference cycles after 50 × {method} {path}"
