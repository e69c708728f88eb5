"""The way in: one guard, telemetry and error wrapper around Starlette's router, for every request.

`ShopApp.__call__` is the ASGI entry. For an HTTP request it puts a body under
its read deadlines (serve/bodydeadline.py), refuses an oversize head (serve/limits.py), lets the router match and dispatch, checks the answer's head
on its way out (limits.outgoing), answers a plain 500 when an endpoint fails,
and counts and times the request by route template. Starlette's own middleware
stack is not used: each of its layers would wrap `send` once more per request.

Each route's endpoint is an `Endpoint` record, built once at start: a plain
function answers at once on the event loop (it waits on nothing, so it needs
neither a coroutine nor the thread pool), a coroutine function is awaited.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from lru import LRU
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Lifespan, Message, Receive, Scope, Send

from shopwindow.serve import metrics
from shopwindow.serve.bodydeadline import BodyLimits, carries_body, read_with_deadline
from shopwindow.serve.limits import CheckedSend, HeadLimits, outgoing, refusal_response

_ERROR_HEAD: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"21"),
    ],
}

Answer = Callable[[Request], Awaitable[Response]] | Callable[[Request], Response]


class Endpoint:
    """One route's endpoint, as the router calls it (an ASGI app)."""

    __slots__ = ("call", "immediate")

    def __init__(self, call: Answer) -> None:
        self.call = call
        # A plain function answers at once: only endpoints without I/O are written so.
        self.immediate = not inspect.iscoroutinefunction(call)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Starlette's router calls it (ShopApp passes it a CheckedSend)."""
        checked = send if isinstance(send, CheckedSend) else CheckedSend(scope, send)
        await self.answer(scope, receive, checked)

    async def answer(self, scope: Scope, receive: Receive, checked: CheckedSend) -> None:
        """Call the endpoint and send its answer, its head checked on the way out.

        A plain answer is sent on the server's own `send` after `outgoing`, with
        `checked` told its status; a streamed or proxied one sends itself through
        `checked`.
        """
        request = Request(scope, receive, checked)
        if self.immediate:
            response: Response = self.call(request)  # type: ignore[assignment]
        else:
            response = await self.call(request)  # type: ignore[misc]
        if type(response).__call__ is not Response.__call__:
            await response(scope, receive, checked)
            return
        checked.status = status = response.status_code
        checked.started = True
        head: Message = {
            "type": "http.response.start",
            "status": status,
            "headers": response.raw_headers,
        }
        send = checked.send
        await send(outgoing(scope, head))
        await send({"type": "http.response.body", "body": response.body})
        if response.background is not None:
            await response.background()


def endpoint_routes(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """The routes, each plain Route's endpoint made an Endpoint record (same path, methods, name)."""
    out: list[BaseRoute] = []
    for route in routes:
        if type(route) is Route and inspect.isfunction(route.endpoint):
            route = Route(
                route.path,
                Endpoint(route.endpoint),
                methods=sorted(route.methods or ()),
                name=route.name,
                include_in_schema=route.include_in_schema,
            )
        out.append(route)
    return out


def route_name(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The template of the route a request was (or would be) answered by; "other" for none."""
    route = scope.get("route")
    if route is None:
        # A refused request never reached the router: name the route it asked for.
        for candidate in routes:
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None) or "other"


MAX_PATHS = 4096  # paths whose route the router remembers (the storefront's /de/women/ and such)


class ShopRouter(Router):
    """Starlette's router, remembering which route answers a path.

    The router tries its routes in order for every request; for the same path
    the answer is always the same route, since every route here matches by path
    alone and by method only after that. So the first route a path matches is
    remembered (bounded); ShopApp sends a request with a method that route takes
    straight to its endpoint, anything else (another method, no route, a slash
    to add) through the router's own walk (`app`).
    """

    def __init__(self, routes: Sequence[BaseRoute], lifespan: Lifespan[Any]) -> None:
        super().__init__(routes=list(routes), lifespan=lifespan)
        self.found: LRU[tuple[str, str], tuple[Route, dict[str, Any]] | None] = LRU(MAX_PATHS)

    def route_for(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        """The route for this path, when it is a plain one; None sends the request the long way."""
        key = (scope.get("root_path", ""), scope["path"])
        found: tuple[Route, dict[str, Any]] | None
        try:
            found = self.found[key]
        except KeyError:
            found = self.found[key] = self._first(scope)
        return found

    def _first(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        probe: Scope = {
            "type": "http",
            "path": scope["path"],
            "method": "GET",
            "root_path": scope.get("root_path", ""),
            "app": scope.get("app"),  # a route may read the shop's settings to match
        }
        for route in self.routes:
            match, child = route.matches(probe)
            if match is Match.NONE:
                continue
            if type(route) is Route and isinstance(route.app, Endpoint):
                return route, child["path_params"]
            return None
        return None


class ShopApp(Starlette):
    """The application: Starlette's router, lifespan and state; one wrapper in front (see above)."""

    def __init__(
        self,
        routes: Sequence[BaseRoute],
        lifespan: Lifespan[Any],
        limits: HeadLimits,
        body_limits: BodyLimits | None = None,
    ) -> None:
        super().__init__(lifespan=lifespan)
        self.router: ShopRouter = ShopRouter(endpoint_routes(routes), lifespan)
        self.limits = limits
        self.body_limits = body_limits or BodyLimits()
        self.shop: Any = None  # read per request (request.shop_of); app.state costs a lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        if scope["type"] != "http":  # lifespan (and websockets, which no route takes)
            await self.router(scope, receive, send)
            return
        if carries_body(scope):
            # Every endpoint reads its body under the same deadlines (serve/bodydeadline.py).
            await read_with_deadline(
                self.answer, scope, receive, send, self.body_limits, time.monotonic
            )
            return
        await self.answer(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard, route, answer, count: one HTTP request."""
        start = time.perf_counter()
        checked = CheckedSend(scope, send)
        try:
            refused = self.limits.refusal(scope)
            if refused is not None:
                checked.status = refused[0]
                for message in refusal_response(*refused):
                    await send(message)
                return
            try:
                router = self.router
                found = router.route_for(scope)
                if found is not None and scope["method"] in found[0].methods:  # type: ignore[operator]
                    # The remembered route: what the router's walk would pick (ShopRouter).
                    route = found[0]
                    scope["router"] = router
                    scope["route"] = route
                    scope["endpoint"] = route.endpoint
                    scope["path_params"] = dict(found[1])
                    await route.app.answer(scope, receive, checked)  # type: ignore[attr-defined]
                else:
                    await router.app(scope, receive, checked)
            except HTTPException as exc:  # the router's 404 and 405, as Starlette answers them
                if checked.started:
                    raise
                answer = PlainTextResponse(exc.detail, exc.status_code, exc.headers)
                await answer(scope, receive, checked)
            except Exception:
                # As Starlette's ServerErrorMiddleware: a plain 500, then the server logs it.
                if not checked.started:
                    await checked(dict(_ERROR_HEAD))
                    await checked({"type": "http.response.body", "body": b"Internal Server Error"})
                raise
        finally:
            metrics.observe_request(
                route_name(scope, self.router.routes), checked.status, time.perf_counter() - start
            )
