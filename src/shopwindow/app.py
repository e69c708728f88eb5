"""The Starlette application: placements installed in a written order, one routes table."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from shopwindow import settings as settings_mod
from shopwindow.hooks import Hooks
from shopwindow.origin import proxy as origin
from shopwindow.placements import beacon, homepage, landing, outofstock, popups, product, shoppable
from shopwindow.profiles import devsignin, reminders, staff
from shopwindow.profiles import service as profiles
from shopwindow.rules.lastgood import LastGoodRules
from shopwindow.serve import apidoc, heap, metrics, shopassets
from shopwindow.serve.bodydeadline import BodyLimits
from shopwindow.serve.entry import ShopApp
from shopwindow.serve.limits import HeadLimits
from shopwindow.serve.responses import json_body
from shopwindow.settings import Settings
from shopwindow.shop import Shop
from shopwindow.stats import web as statsweb

log = logging.getLogger("shopwindow")

# The paths most of a shop's traffic asks for, tried first by the router: `/`,
# then the beacon and the popup.
HOT_PATHS = [
    "/",
    "/_sw/events",
    "/_sw/popup",
    "/_sw/fragments/recently-viewed",
    "/_sw/fragments/recommendations",
]


def install_placements(shop: Shop) -> Hooks:
    """Each placement's hooks and state, installed in this order (the reasons beside it).

    A new Hooks each time, so an app built again around the same shop does not
    call a hook twice; the services a placement keeps open are handed back to it.
    """
    hooks = Hooks()
    services = shop.services
    # Hooks run in the order installed. Out-of-stock first: its event sink records
    # a product view before the stats and the profile hear of the same events.
    services.outofstock = outofstock.install(shop, hooks)
    services.stats = statsweb.install(shop, hooks)
    # Popups before profiles: a closed popup is remembered on the visitor first.
    services.popups = popups.install(shop, hooks)
    # Landing before shoppable: shoppable wraps the explainer landing registered,
    # and answers first (hooks.landing_first) inside landing's answer.
    services.landing = landing.install(shop, hooks)
    services.profiles = profiles.install(shop, hooks)
    shoppable.install(shop, hooks)
    services.staff = staff.install(shop, hooks)
    homepage.install(shop, hooks)
    # Origin last: it only opens and closes its connection pool.
    services.origin = origin.install(shop, hooks)
    shop.hooks = hooks
    return hooks


def placement_routes() -> list[BaseRoute]:
    """Every placement's routes; the order only matters among overlapping paths (see create_app)."""
    return [
        *beacon.routes,
        *outofstock.routes,
        *product.routes,
        *statsweb.routes,
        *popups.routes,
        *landing.routes,
        *profiles.routes,
        *shoppable.routes,
        *staff.routes,
        *devsignin.routes,
        *shopassets.routes,
        *reminders.routes,
        # The storefront's catch-all /{country}/ patterns: after every fixed path.
        *homepage.routes,
        *origin.routes,
        *apidoc.routes,
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


def _heat(route: BaseRoute) -> int:
    path = getattr(route, "path", "")
    return HOT_PATHS.index(path) if path in HOT_PATHS else len(HOT_PATHS)


def create_app(
    settings: Settings, *, shop: Shop | None = None, watch: bool = True, settle: bool = False
) -> Starlette:
    """The application. `settle` (a served worker): what it loaded is frozen once started (serve/heap.py)."""
    shop = shop or Shop(settings)
    if shop.snapshot is None:
        errors = shop.load()
        if errors:
            raise StartupError(errors)
    hooks = install_placements(shop)
    placed = placement_routes()
    # Fixed paths first: the router tries routes in order, and `/` or
    # `/_sw/popup` should not be compared with every storefront pattern first.
    fixed = [r for r in placed if "{" not in getattr(r, "path", "{")]
    # `/` is most of the traffic, then the beacon and the popup: try them first.
    fixed.sort(key=_heat)
    routes: list[BaseRoute] = [
        *fixed,
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
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
        for start in hooks.on_start:
            await start(shop)
        if settle:
            heap.settle()
        try:
            yield
        finally:
            for stop in hooks.on_stop:
                await stop(shop)
            shop.stop()
            metrics.TALLY.flush()

    app = ShopApp(
        routes,
        lifespan,
        HeadLimits.of(settings),
        BodyLimits(settings.body_idle_seconds, settings.body_total_seconds),
    )
    app.state.shop = shop
    app.shop = shop
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
