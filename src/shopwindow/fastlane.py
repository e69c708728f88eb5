"""Hot routes by exact path, ahead of Starlette's router.

`/`, the beacon, the popup and the fragments are most of a shop's traffic. The
router would try them against each route in turn, then wrap each call in its
exception-handling layers and Request/Response plumbing. The fast lane looks the
path up in a dict and calls the same endpoint with the same Request, so the
answer is byte for byte what the router would give; only the detour is gone.
Anything else (another method, a pattern route, a websocket) goes on to the
router unchanged, which keeps its 404/405 answers and redirects.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


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
    """Calls an exact-path route's endpoint directly (see the module's docstring)."""

    def __init__(self, app: ASGIApp, table: dict[str, Route]) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.table.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] not in route.methods:  # type: ignore[operator]
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        response = await route.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)
