"""The out-of-stock placement: recommendation lists on product pages, per rules/out-of-stock.yaml.

A sold-out page shows similar, premium, accessory and popular-now lists; an in-stock page
may use the same rules to cross-sell (`when: {product.in_stock: true}`). The lists are the
same for everyone who gets the same rule for the same product and gender, so they are
computed and rendered once per such segment; only a visitor's own cart and purchases are
taken out per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from shopwindow.catalog.feed import Catalog, Product
from shopwindow.catalog.popularity import PopularityStore, store_for
from shopwindow.catalog.recommendations import RecommendationList, list_specs, recommend
from shopwindow.hooks import Hooks
from shopwindow.pages.storefront import product_json
from shopwindow.rules.pairings import NO_PAIRINGS, merged
from shopwindow.rules.rules import Decision
from shopwindow.serve import metrics
from shopwindow.serve.request import query_of, shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import (
    HTML_TYPE,
    JSON_TYPE,
    JSONAnswer,
    RawAnswer,
    json_body,
    personalize,
    wants_json,
)
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import Visit, arms_of, product_context
from shopwindow.visitor.events import Event

log = logging.getLogger("shopwindow")

PLACEMENT: Final = "out-of-stock"
TEMPLATE: Final = "_recommendations.html"
SPARE: Final = 2  # extra products per list, so leaving out the visitor's cart keeps counts
GENDERS: Final = frozenset({"women", "men", "kids"})


def explain_product(visit: Visit, catalog: Catalog, path: str, query: Mapping[str, str]) -> None:
    """For `shopwindow explain`: the product.* keys of /p/{id} or ?product_id=ID, if known."""
    product_id = path[3:] if path.startswith("/p/") else query.get("product_id", "")
    product = catalog.get(product_id)
    if product is not None:
        visit.ctx.update(product_context(product))


@dataclass(slots=True)
class Segment:
    """One answer shared by a segment: its lists, rendered on first use."""

    product: Product
    title: str
    lists: tuple[RecommendationList, ...]
    candidates: frozenset[str]
    html: str | None = None
    body: bytes | None = None


@dataclass(slots=True)
class Answer:
    """What one visitor gets: the segment's answer, minus what they already have."""

    product: Product
    segment: Segment | None
    labels: list[str]
    drop: frozenset[str] = field(default_factory=frozenset)


class OutOfStock:
    """The placement as attached to a shop: its popularity store and its segment cache."""

    def __init__(self, shop: Shop, popularity: PopularityStore) -> None:
        self.shop = shop
        self.popularity = popularity
        self._sync_task: asyncio.Task[None] | None = None

    def decide(self, snap: Snapshot, visit: Visit, product: Product) -> Decision:
        visit.ctx.update(product_context(product))
        return snap.rules.decide(PLACEMENT, visit.ctx, visit.visitor.id, assigned=arms_of(visit))

    def answer(self, snap: Snapshot, visit: Visit, product: Product) -> Answer:
        decision = self.decide(snap, visit, product)
        rule = decision.rule
        if rule is None:
            return Answer(product, None, decision.labels)
        metrics.count_match(PLACEMENT, rule.id)
        # The lists worked out for this snapshot (a market's view has its own prices,
        # and so its own), dropped with it.
        derived = snap.derived
        specs = derived.list_specs.get((rule.id, decision.variant))
        if specs is None:
            specs = derived.list_specs[(rule.id, decision.variant)] = list_specs(decision.then)
        gender = visit.ctx.get("visitor.gender")
        gender = gender if gender in GENDERS else None
        ranking = None
        if any(spec.name == "popular" for spec in specs):
            ranking = self.popularity.ranking(time.time())
        key = (
            product.id,
            gender,
            rule.id,
            decision.variant,
            ranking.version if ranking else 0,
        )
        segment: Segment | None = derived.segments.get(key)
        if segment is None:
            lists = recommend(
                snap.catalog,
                product,
                specs,
                visitor_gender=gender,
                pairings=merged(snap.rules.data.get("pairings", NO_PAIRINGS), decision.then),
                popular_now=ranking.ids if ranking else (),
                spare=SPARE,
            )
            segment = Segment(
                product,
                str(decision.then.get("title") or ""),
                lists,
                frozenset(p.id for r in lists for p in r.products),
            )
            derived.segments[key] = segment
        owned = {line[0] for line in visit.cart}
        owned.update(visit.visitor.full_price)
        return Answer(product, segment, decision.labels, segment.candidates.intersection(owned))

    def html(self, answer: Answer) -> str:
        segment = answer.segment
        if segment is None:
            return ""
        if answer.drop:
            return self._render(segment, answer.drop)
        if segment.html is None:
            segment.html = self._render(segment, answer.drop)
        return segment.html

    def json(self, answer: Answer) -> bytes:
        segment = answer.segment
        if segment is None:
            product = answer.product
            return json_body(
                {"product_id": product.id, "in_stock": product.in_stock, "title": "", "lists": []}
            )
        if answer.drop:
            return self._json(segment, answer.drop)
        if segment.body is None:
            segment.body = self._json(segment, answer.drop)
        return segment.body

    def _render(self, segment: Segment, drop: frozenset[str]) -> str:
        lists = [(r, r.shown(drop)) for r in segment.lists]
        return self.shop.templates.get_template(TEMPLATE).render(
            product=segment.product,
            title=segment.title,
            lists=[
                {"name": r.name, "title": r.title, "products": shown} for r, shown in lists if shown
            ],
        )

    def _json(self, segment: Segment, drop: frozenset[str]) -> bytes:
        lists = [
            {"name": r.name, "title": r.title, "products": [product_json(p) for p in shown]}
            for r in segment.lists
            if (shown := r.shown(drop))
        ]
        return json_body(
            {
                "product_id": segment.product.id,
                "in_stock": segment.product.in_stock,
                "title": segment.title,
                "lists": lists,
            }
        )

    # --- popularity -------------------------------------------------------------

    def record(self, shop: Shop, visit: Visit, events: list[Event]) -> None:
        """Event sink: views, cart adds and purchases feed "popular now" (once per product per beacon)."""
        snap = shop.snapshot
        if visit.device == "bot" or snap is None:
            return
        weights = shop.weights
        best: dict[str, float] = {}
        for event in events:
            if event.type == "view" and event.product_id:
                pairs = [(event.product_id, weights.view)]
            elif event.type == "add_to_cart" and event.product_id:
                pairs = [(event.product_id, weights.cart)]
            elif event.type == "purchase":
                pairs = [(pid, weights.purchase) for pid, _, _ in event.items]
            else:
                continue
            for pid, weight in pairs:
                if pid in snap.catalog and weight > best.get(pid, 0.0):
                    best[pid] = weight
        now = time.time()
        for pid, weight in best.items():
            self.popularity.record(pid, weight, now)

    async def start(self, shop: Shop) -> None:
        if not shop.settings.redis:
            return
        await asyncio.to_thread(self.popularity.sync, time.time())
        self._sync_task = asyncio.create_task(
            self._sync_forever(shop.settings.popular_sync_seconds)
        )

    async def _sync_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.popularity.sync, time.time())
            except Exception:  # the loop must outlive any surprise; sync counts its own failures
                log.exception("popularity sync failed")

    async def stop(self, shop: Shop) -> None:
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(self.popularity.sync, time.time())
        self.popularity.close()


def placement_of(shop: Shop) -> OutOfStock:
    placement = shop.services.outofstock
    if placement is None:  # pragma: no cover - app.install_placements installs it
        raise RuntimeError("out-of-stock placement not installed")
    return placement


# --- HTTP ---------------------------------------------------------------------------


# A plain function: it waits on nothing, so it answers at once (entry.Endpoint).
def recommendations_fragment(request: Request) -> Response:
    """GET /_sw/fragments/recommendations?product_id=ID: HTML, or JSON with Accept: application/json."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    as_json = wants_json(request)
    product_id = query_of(request).get("product_id", "")
    if not product_id:
        return _error("product_id is required", 400, as_json)
    product = snap.catalog.get(product_id)
    if product is None:
        return _error("unknown product", 404, as_json)
    visit = visit_of(request, snap)
    placement = placement_of(shop)
    answer = placement.answer(snap, visit, product)
    if as_json:
        response = RawAnswer(200, [JSON_TYPE], placement.json(answer))
    else:
        response = RawAnswer(200, [HTML_TYPE], placement.html(answer).encode())
    return personalize(response, shop, visit, answer.labels)


def _error(message: str, status: int, as_json: bool) -> Response:
    if as_json:
        return JSONAnswer({"error": message}, status)
    return HTMLResponse(f"<p>{message}</p>", status)  # fixed text only, never the query


def product_recommendations(
    shop: Shop, snap: Snapshot, visit: Visit, product: Product
) -> tuple[Markup, list[str]]:
    """For the /p/{id} page: the recommendations block and the rules that decided it."""
    placement = placement_of(shop)
    answer = placement.answer(snap, visit, product)
    return Markup(placement.html(answer)), answer.labels


async def recommendations_slot(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The `recommendations` slot (origin proxy): the product of ?product_id=, else the
    product whose feed `url` is this page."""
    product_id = query_of(request).get("product_id")
    if product_id:
        product = snap.catalog.get(product_id)
    else:
        product = snap.catalog.at_path(request.scope["path"])
    if product is None:
        return "", []
    placement = placement_of(shop)
    answer = placement.answer(snap, visit, product)
    return placement.html(answer), answer.labels


def install(shop: Shop, hooks: Hooks) -> OutOfStock:
    settings = shop.settings
    placement = OutOfStock(shop, store_for(settings.redis, settings.popular_half_life_hours))
    hooks.product_recommendations = product_recommendations
    hooks.fragments["recommendations"] = recommendations_slot
    hooks.events.append(placement.record)
    hooks.on_start.append(placement.start)
    hooks.on_stop.append(placement.stop)
    return placement


routes = [
    Route("/_sw/fragments/recommendations", recommendations_fragment, methods=["GET"]),
]
