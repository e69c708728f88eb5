"""The Starlette application: the request path starts here.

Each placement module contributes its routes (and may attach itself to the
shop at start); read them in the order listed in PLACEMENT_MODULES.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopwindow import heap, metrics, origin
from shopwindow import settings as settings_mod
from shopwindow.bodydeadline import BodyLimits
from shopwindow.fastlane import FastLane, ShopApp, lane_table
from shopwindow.lastgood import LastGoodRules
from shopwindow.limits import Guard, Limits
from shopwindow.responses import json_body
from shopwindow.settings import Settings
from shopwindow.shop import Shop

log = logging.getLogger("shopwindow")

# Order matters only for overlapping paths: the storefront's catch-all
# /{country}/ routes come from homepage, so it is listed last.
HOT_PATHS = [
    "/",
    "/_sw/events",
    "/_sw/popup",
    "/_sw/fragments/recently-viewed",
    "/_sw/fragments/recommendations",
]

# Pattern routes that take the fast lane too: the storefront's pages.
HOT_PATTERNS = ["/{country}/", "/{country}/{gender}/", "/{country}/{gender}/{category}/"]

PLACEMENT_MODULES = [
    "shopwindow.beacon",
    "shopwindow.outofstock",
    "shopwindow.product",
    "shopwindow.statsweb",
    "shopwindow.popups",
    "shopwindow.landing",
    "shopwindow.profiles",
    "shopwindow.shoppable",
    "shopwindow.staff",
    "shopwindow.devsignin",
    "shopwindow.shopassets",
    "shopwindow.reminders",
    "shopwindow.homepage",
    "shopwindow.origin",
    "shopwindow.apidoc",
]


async def healthz(request: Request) -> Response:
    """Alive; also the empty endpoint benchmarks compare every other answer with."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    shop: Shop = request.app.state.shop
    snap = shop.snapshot
    if snap is None:
        return JSONResponse({"ready": False, "reason": "rules and catalog not loaded"}, 503)
    body: dict[str, Any] = {
        "ready": True,
        "rules": len(snap.rules.all_rules()),
        "products": len(snap.catalog),
        "catalog_errors": len(snap.catalog_errors),
        "reload": shop.mode,
        "worker": os.getpid(),
    }
    if shop.reloading:
        body["reloading"] = True  # answered while files are read: they never hold requests up
    if snap.pending_errors:
        # Still serving the last good rules; the edit on disk is broken.
        body["rule_errors"] = [str(e) for e in snap.pending_errors]
    if snap.catalog_refused:
        body["catalog_refused"] = snap.catalog_refused  # the previous catalog is serving
    if snap.removed_rules:
        body["removed_rules"] = list(snap.removed_rules)
    if snap.rules_print.skipped:
        body["skipped_files"] = list(snap.rules_print.skipped)
    return Response(json_body(body), media_type="application/json")


async def metrics_endpoint(request: Request) -> Response:
    data, content_type = metrics.exposition()
    return Response(data, media_type=content_type)


class Telemetry:
    """Counts and times every request by route template (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "other"
            metrics.observe_request(name, status, time.perf_counter() - start)


def _heat(route: BaseRoute) -> int:
    path = getattr(route, "path", "")
    return HOT_PATHS.index(path) if path in HOT_PATHS else len(HOT_PATHS)


def request_handlers(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The routes, with each compiled endpoint given a plain function for Starlette to call.

    Starlette calls an endpoint with a Request when `inspect.isfunction` says it is a
    function; anything else it calls as an ASGI app. A function compiled with Cython
    (setup.py) is not one, so its route is rebuilt around a thin wrapper, with the
    same path, methods and name.
    """
    out: list[BaseRoute] = []
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        if type(route) is Route and endpoint is not None and getattr(endpoint, "immediate", False):
            handler = _immediate_handler(endpoint)  # web.immediate: never the thread pool
        elif (
            type(route) is Route
            and route.app is endpoint
            and not inspect.isfunction(endpoint)
            and inspect.iscoroutinefunction(endpoint)
        ):
            handler = _handler(endpoint)
        else:
            out.append(route)
            continue
        out.append(
            Route(
                route.path,
                handler,
                methods=route.methods,
                name=route.name,
                include_in_schema=route.include_in_schema,
            )
        )
    return out


def _handler(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    async def handle(request: Request) -> Response:
        response: Response = await endpoint(request)
        return response

    handle.compiled_endpoint = endpoint  # type: ignore[attr-defined]  # the fast lane calls it
    return handle


def _immediate_handler(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    async def handle(request: Request) -> Response:
        response: Response = endpoint(request)
        return response

    handle.immediate_endpoint = endpoint  # type: ignore[attr-defined]  # the fast lane calls it
    return handle


def create_app(
    settings: Settings, *, shop: Shop | None = None, watch: bool = True, settle: bool = False
) -> Starlette:
    """The application. `settle` (a served worker): what it loaded is frozen once started (heap.py)."""
    shop = shop or Shop(settings)
    if shop.snapshot is None:
        errors = shop.load()
        if errors:
            raise StartupError(errors)
    modules = [importlib.import_module(name) for name in PLACEMENT_MODULES]
    for module in modules:
        attach = getattr(module, "attach", None)
        if attach is not None:
            attach(shop)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    placed = [route for module in modules for route in module.routes]
    # Fixed paths first: the router tries routes in order, and `/` or
    # `/_sw/popup` should not be compared with every storefront pattern first.
    fixed = [r for r in placed if "{" not in getattr(r, "path", "{")]
    # `/` is most of the traffic, then the beacon and the popup: try them first.
    fixed.sort(key=_heat)
    routes.extend(fixed)
    static = Path(settings.templates) / "static"
    if static.is_dir():
        routes.append(Mount("/_sw/static", app=StaticFiles(directory=static), name="static"))
    routes.extend(r for r in placed if "{" in getattr(r, "path", "{"))
    if settings.origin:
        # Origin proxy mode: the site's own pages win over the demo storefront's routes.
        routes = origin.front_routes(routes, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if watch:
            shop.start_watching()
            _reload_on_sighup(shop)
        for start in shop.extensions.get("on_start", ()):
            await start(shop)
        if settle:
            heap.settle()
        try:
            yield
        finally:
            for stop in shop.extensions.get("on_stop", ()):
                await stop(shop)
            shop.stop()
            metrics.TALLY.flush()

    routes = request_handlers(routes)
    app = ShopApp(routes=routes, lifespan=lifespan)
    app.state.shop = shop
    app.shop = shop  # type: ignore[attr-defined]  # read per request; app.state costs a lookup
    limits = Limits.of(settings)
    app.add_middleware(Guard, limits=limits)
    app.add_middleware(Telemetry)
    # The hot routes' flat path: the same guard and telemetry, without the stack.
    app.body_limits = BodyLimits(settings.body_idle_seconds, settings.body_total_seconds)
    app.lane = FastLane(lane_table(routes, HOT_PATHS), limits, routes, HOT_PATTERNS)
    return app


def _reload_on_sighup(shop: Shop) -> None:
    """`kill -HUP <pid>` re-reads rules and catalog now (in watch mode the watcher also does)."""
    import asyncio
    import signal

    def reload() -> None:
        log.info("SIGHUP: reloading rules and catalog")
        asyncio.get_running_loop().run_in_executor(None, shop.reload_if_changed, True)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)


class StartupError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def from_environment() -> Starlette:
    """Factory for worker processes: settings travel in SHOPWINDOW_SETTINGS_JSON."""
    raw = os.environ.get("SHOPWINDOW_SETTINGS_JSON")
    if raw:
        settings = Settings(orjson.loads(raw))
    else:
        settings = settings_mod.load()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return create_app(settings, shop=Shop(settings, LastGoodRules.from_environment()), settle=True)
