"""Hot routes by exact path, ahead of Starlette's middleware stack and router.

`/`, the beacon, the popup and the fragments are most of a shop's traffic. Through
the full stack each of them would pass the error middleware, telemetry, the
guard and the exception middleware (each wrapping `send`), then be tried
against each route in turn. The fast lane looks the path up in a dict and does
the same work in one flat function: the guard's head limits and outgoing checks
(limits.py), the endpoint with the same Request, the same 500 answer when it
fails, and the same request metrics. The answer is what the full stack would
give. Anything else (another method, a pattern route, `/healthz`, a websocket,
lifespan) takes the full stack unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from shopwindow import metrics
from shopwindow.limits import Limits, outgoing, refusal_response

_ERROR_HEAD: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"21"),
    ],
}


def lane_table(routes: Iterable[BaseRoute], paths: Iterable[str]) -> dict[str, Route]:
    """For each path, the route the router would pick, when it is a plain exact-path endpoint."""
    routes = list(routes)
    table: dict[str, Route] = {}
    for path in paths:
        probe: Scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
        first = next((r for r in routes if r.matches(probe)[0] is not Match.NONE), None)
        if isinstance(first, Route) and first.path == path and first.methods:
            table[path] = first
    return table


class FastLane:
    """One hot route's whole request (see the module's docstring)."""

    def __init__(self, table: dict[str, Route], limits: Limits) -> None:
        self.table = table
        self.limits = limits

    def route_for(self, scope: Scope) -> Route | None:
        route = self.table.get(scope["path"])
        if route is None or scope["method"] not in route.methods:  # type: ignore[operator]
            return None
        return route

    async def __call__(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500
        try:
            refused = self.limits.refusal(scope)
            if refused is not None:
                status = refused[0]
                for message in refusal_response(*refused):
                    await send(message)
                return
            scope["route"] = route
            scope["endpoint"] = route.endpoint
            scope["path_params"] = {}
            try:
                response = await route.endpoint(Request(scope, receive, send))
            except Exception:
                # As Starlette's ServerErrorMiddleware: a plain 500, then the server logs it.
                await send(outgoing(scope, dict(_ERROR_HEAD)))
                await send({"type": "http.response.body", "body": b"Internal Server Error"})
                raise
            status = response.status_code
            if type(response).__call__ is not Response.__call__:
                # A streamed or proxied answer sends itself; its head is still checked.
                async def checked(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        message = outgoing(scope, message)
                    await send(message)

                await response(scope, receive, checked)
                return
            head: Message = {
                "type": "http.response.start",
                "status": status,
                "headers": response.raw_headers,
            }
            await send(outgoing(scope, head))
            await send({"type": "http.response.body", "body": response.body})
            if response.background is not None:
                await response.background()
        finally:
            metrics.observe_request(route.path, status, time.perf_counter() - start)


class ShopApp(Starlette):
    """The Starlette application, with the fast lane in front of its middleware stack."""

    lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lane
        if lane is not None and scope["type"] == "http":
            route = lane.route_for(scope)
            if route is not None:
                scope["app"] = self
                await lane(route, scope, receive, send)
                return
        await super().__call__(scope, receive, send)
