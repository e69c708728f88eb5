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
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from shopwindow import metrics
from shopwindow.bodydeadline import BodyLimits, carries_body, read_with_deadline
from shopwindow.limits import CheckedSend, Limits, outgoing, refusal_response

_ERROR_HEAD: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"21"),
    ],
}


def _winner(routes: list[BaseRoute], probe: Scope) -> tuple[BaseRoute, Match, Scope] | None:
    """The first route that matches the probe at all, as Starlette's router tries them."""
    for route in routes:
        match, child = route.matches(probe)
        if match is not Match.NONE:
            return route, match, child
    return None


def lane_table(routes: Iterable[BaseRoute], paths: Iterable[str]) -> dict[str, Route]:
    """For each path, the route the router would pick, when it is a plain exact-path endpoint."""
    routes = list(routes)
    table: dict[str, Route] = {}
    for path in paths:
        found = _winner(routes, {"type": "http", "path": path, "method": "GET", "root_path": ""})
        first = found[0] if found else None
        if isinstance(first, Route) and first.path == path and first.methods:
            table[path] = first
    return table


MAX_FOUND = 4096  # pattern paths remembered (the storefront's /de/women/ and such)
_NO_PARAMS: dict[str, Any] = {}


class FastLane:
    """One hot route's whole request (see the module's docstring).

    `table` holds the exact paths. `patterns` are pattern routes (the
    storefront's pages) that may take the lane too: which route wins for a path
    is asked of the routes themselves, in the router's order, once per path.
    """

    def __init__(
        self,
        table: dict[str, Route],
        limits: Limits,
        routes: Iterable[BaseRoute] = (),
        patterns: Iterable[str] = (),
    ) -> None:
        self.table = table
        self.limits = limits
        self.routes = list(routes)
        wanted = set(patterns)
        # By identity: Starlette's routes compare equal by path, endpoint and methods.
        self.patterns = frozenset(
            id(r) for r in self.routes if isinstance(r, Route) and r.path in wanted
        )
        self._found: dict[tuple[str, str], tuple[Route, dict[str, Any]] | None] = {}

    def route_for(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        route = self.table.get(scope["path"])
        params = _NO_PARAMS
        if route is None:
            if not self.patterns:
                return None
            key = (scope.get("root_path", ""), scope["path"])
            if key in self._found:
                found = self._found[key]
            else:
                found = self._match(scope)
                if len(self._found) >= MAX_FOUND:
                    self._found.clear()
                self._found[key] = found
            if found is None:
                return None
            route, params = found
        if scope["method"] not in route.methods:  # type: ignore[operator]
            return None
        return route, params

    def _match(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        """The route the router would pick for this path, if it is one of the patterns."""
        probe: Scope = {
            "type": "http",
            "path": scope["path"],
            "method": "GET",
            "root_path": scope.get("root_path", ""),
            "app": scope.get("app"),  # some routes read the shop from it to match
        }
        found = _winner(self.routes, probe)
        if found is None:
            return None
        route, match, child = found
        if match is Match.FULL and id(route) in self.patterns and isinstance(route, Route):
            return route, dict(child["path_params"])
        return None

    async def __call__(
        self,
        route: Route,
        scope: Scope,
        receive: Receive,
        send: Send,
        params: dict[str, Any] = _NO_PARAMS,
    ) -> None:
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
            endpoint = route.endpoint
            scope["endpoint"] = endpoint
            scope["path_params"] = dict(params)
            # A compiled or immediate endpoint is called directly, not through the
            # wrapper its route has for Starlette (app.request_handlers); any other
            # decorator still runs. An immediate one (web.immediate) needs no coroutine.
            immediate = getattr(endpoint, "immediate_endpoint", None)
            try:
                if immediate is not None:
                    response = immediate(Request(scope, receive, send))
                else:
                    endpoint = getattr(endpoint, "compiled_endpoint", endpoint)
                    response = await endpoint(Request(scope, receive, send))
            except Exception:
                # As Starlette's ServerErrorMiddleware: a plain 500, then the server logs it.
                await send(outgoing(scope, dict(_ERROR_HEAD)))
                await send({"type": "http.response.body", "body": b"Internal Server Error"})
                raise
            status = response.status_code
            if type(response).__call__ is not Response.__call__:
                # A streamed or proxied answer sends itself; its head is still checked.
                checked = CheckedSend(scope, send)
                try:
                    await response(scope, receive, checked)
                finally:
                    status = checked.status
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
    body_limits = BodyLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and carries_body(scope):
            # Every endpoint, fast lane or not, reads its body under the same deadlines.
            await read_with_deadline(
                self._dispatch, scope, receive, send, self.body_limits, time.monotonic
            )
            return
        await self._dispatch(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lane
        if lane is not None and scope["type"] == "http":
            scope["app"] = self
            found = lane.route_for(scope)
            if found is not None:
                await lane(found[0], scope, receive, send, found[1])
                return
        await super().__call__(scope, receive, send)
