"""The homepage placement: which country/gender/category homepage, the storefront, recently viewed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cachetools import LRUCache
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from shopwindow import metrics
from shopwindow.catalog import Catalog, Product
from shopwindow.context import Visit
from shopwindow.responses import personalize, redirect, wants_json
from shopwindow.rules import Decision, Rule
from shopwindow.shop import Shop, Snapshot
from shopwindow.web import shop_of, snapshot_of, visit_of

GENDERS = ("women", "men", "kids")
_PLACEHOLDER = re.compile(r"\{(country|gender|category|language)\}")
_COUNTRY = re.compile(r"^[a-z]{2}$")
STRIP_MARK = "<!--sw:personal-->"
_shells: LRUCache[tuple[Any, ...], str] = LRUCache(maxsize=2048)


def fill_path(template: str, ctx: Mapping[str, Any]) -> str | None:
    """A homepage path with its placeholders filled, or None when one is unknown."""
    values = {
        "country": (ctx.get("country") or "").lower(),
        "gender": ctx.get("visitor.gender"),
        "category": ctx.get("visitor.category"),
        "language": ctx.get("language"),
    }
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(m.group(1))
        if not value:
            missing = True
            return ""
        return str(value)

    out = _PLACEHOLDER.sub(sub, template)
    return None if missing else out


def decide_homepage(snap: Snapshot, visit: Visit) -> tuple[Decision, str]:
    ctx = visit.ctx

    def fillable(rule: Rule) -> bool:
        return fill_path(str(rule.then.get("path", "/")), ctx) is not None

    decision = snap.rules.decide(
        "homepage", ctx, visit.visitor.id, accept=fillable, assigned=visit.visitor.buckets
    )
    if decision.rule is None:
        return decision, f"/{visit.country.lower()}/"
    path = fill_path(str(decision.then.get("path", "/")), ctx) or "/"
    return decision, path


async def root(request: Request) -> Response:
    """GET /: an ad click (campaign parameters) is a landing page; otherwise the homepage."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    if visit.campaign.present and (landing := shop.extensions.get("landing")) is not None:
        response: Response = await landing(request, shop, snap, visit)
        return response
    decision, path = decide_homepage(snap, visit)
    if decision.rule is not None:
        metrics.MATCHES.labels("homepage", decision.rule.id).inc()
    if visit.device == "bot" or shop.settings.homepage_mode == "render":
        # Crawlers get the page itself at a stable URL, never a visitor-specific redirect.
        page = storefront_for_path(shop, snap, visit, path) or storefront(
            shop, snap, visit, None, None, None
        )
        return personalize(page, shop, visit, decision.labels)
    return personalize(redirect(shop, path), shop, visit, decision.labels)


def storefront_for_path(shop: Shop, snap: Snapshot, visit: Visit, path: str) -> HTMLResponse | None:
    parts = [p for p in path.split("/") if p]
    if not parts or not _COUNTRY.match(parts[0]):
        return None
    gender = parts[1] if len(parts) > 1 and parts[1] in GENDERS else None
    category = parts[2] if len(parts) > 2 and parts[2] in snap.catalog.categories else None
    return storefront(shop, snap, visit, parts[0], gender, category)


async def store_page(request: Request) -> Response:
    """The demo storefront: /de/, /de/women/, /de/women/running-shoes/."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    params = request.path_params
    country = params["country"]
    gender = params.get("gender")
    category = params.get("category")
    if not _COUNTRY.match(country) or (gender is not None and gender not in GENDERS):
        return HTMLResponse("Not found", status_code=404)
    if category is not None and category not in snap.catalog.categories:
        return HTMLResponse("Not found", status_code=404)
    visit = visit_of(request, snap)
    return personalize(storefront(shop, snap, visit, country, gender, category), shop, visit)


def storefront(
    shop: Shop,
    snap: Snapshot,
    visit: Visit,
    country: str | None,
    gender: str | None,
    category: str | None,
) -> HTMLResponse:
    """A homepage variant: the segment's shell (cached) plus the visitor's own parts."""
    catalog = snap.catalog
    country = (country or visit.country).lower()
    key = (id(snap), country, gender, category, visit.ctx.get("device"), bool(visit.preview))
    shell = _shells.get(key)
    if shell is None:
        if category:
            products = catalog.in_category(gender, category)
        elif gender:
            products = catalog.in_gender(gender)
        else:
            products = catalog.best_sellers()
        tiles = _category_tiles(catalog, gender)
        shell = shop.templates.get_template("storefront.html").render(
            country=country,
            gender=gender,
            category=category,
            products=[p.to_json() for p in products[:24]],
            tiles=tiles,
            personal=Markup(STRIP_MARK),
            dev=shop.settings.dev,
            preview=visit.preview,
            genders=GENDERS,
        )
        _shells[key] = shell
    personal = shop.templates.get_template("_personal.html").render(
        highlights=highlights(catalog, visit, gender),
        upsell=upsell(catalog, visit, gender),
        cross_sell=cross_sell(catalog, visit),
        recently_viewed=recently_viewed(catalog, visit.visitor.viewed),
        country=country,
        gender=gender,
        preferred_store=visit.ctx.get("profile.preferred_store"),
    )
    return HTMLResponse(shell.replace(STRIP_MARK, personal, 1))


def _category_tiles(catalog: Catalog, gender: str | None) -> list[str]:
    return sorted(c for c in catalog.categories if catalog.in_category(gender, c))


def highlights(catalog: Catalog, visit: Visit, gender: str | None) -> list[dict[str, Any]]:
    """The visitor's top categories, each with its best in-stock pick."""
    out = []
    for cat in visit.ctx.get("visitor.categories", [])[:3]:
        picks = [p for p in catalog.in_category(gender, cat) if p.in_stock][:4]
        if picks:
            out.append({"category": cat, "products": [p.to_json() for p in picks]})
    return out


def upsell(catalog: Catalog, visit: Visit, gender: str | None) -> list[dict[str, Any]]:
    """Premium tier in the visitor's preferred categories."""
    cats = visit.ctx.get("visitor.categories", [])[:2]
    picks = [
        p
        for cat in cats
        for p in catalog.in_category(gender, cat)
        if p.in_stock and p.tier == "premium"
    ]
    return [p.to_json() for p in picks[:4]]


def cross_sell(catalog: Catalog, visit: Visit) -> list[dict[str, Any]]:
    """Accessories of what the visitor bought (or has in the cart)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    sources = [*visit.visitor.full_price, *(line[0] for line in visit.cart)]
    for pid in sources:
        for acc in catalog.accessories_for(pid):
            if acc.in_stock and acc.id not in seen and acc.id not in sources:
                seen.add(acc.id)
                out.append(acc.to_json())
    return out[:4]


def recently_viewed(
    catalog: Catalog, viewed: Sequence[str], exclude: str | None = None
) -> list[dict[str, Any]]:
    """Newest first, no duplicates; a sold-out item is swapped for a similar one in stock."""
    out: list[dict[str, Any]] = []
    shown: set[str] = set()
    for pid in viewed:
        if pid == exclude or pid in shown:
            continue
        product = catalog.get(pid)
        if product is None:
            continue
        shown.add(pid)
        if product.in_stock:
            out.append({**product.to_json(), "sold_out": False})
            continue
        alt = _alternative(catalog, product, shown)
        if alt is not None:
            shown.add(alt.id)
            out.append({**alt.to_json(), "sold_out": False, "instead_of": product.name})
        else:
            out.append({**product.to_json(), "sold_out": True})
    return out


def _alternative(catalog: Catalog, product: Product, taken: set[str]) -> Product | None:
    for sid in catalog.similar_ids(product.id):
        alt = catalog.get(sid)
        if alt is not None and alt.in_stock and alt.id not in taken:
            return alt
    near = catalog.nearest_by_price(
        product.gender, product.category, product.price, limit=1, exclude=taken | {product.id}
    )
    return near[0] if near else None


async def recently_viewed_fragment(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    exclude = request.query_params.get("exclude")
    items = recently_viewed(snap.catalog, visit.visitor.viewed, exclude)
    if wants_json(request):
        return personalize(JSONResponse({"items": items}), shop, visit)
    return personalize(HTMLResponse(render_recently_viewed(shop, items)), shop, visit)


def render_recently_viewed(shop: Shop, items: list[dict[str, Any]]) -> str:
    return shop.templates.get_template("_recently_viewed.html").render(recently_viewed=items)


async def recently_viewed_slot(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The recently-viewed strip as a slot fragment (origin proxy, edge includes)."""
    items = recently_viewed(snap.catalog, visit.visitor.viewed, request.query_params.get("exclude"))
    return render_recently_viewed(shop, items), []


def attach(shop: Shop) -> None:
    shop.extensions.setdefault("fragments", {})["recently-viewed"] = recently_viewed_slot


routes = [
    Route("/", root, methods=["GET", "HEAD"]),
    Route("/_sw/fragments/recently-viewed", recently_viewed_fragment, methods=["GET"]),
    Route("/{country}/", store_page, methods=["GET", "HEAD"]),
    Route("/{country}/{gender}/", store_page, methods=["GET", "HEAD"]),
    Route("/{country}/{gender}/{category}/", store_page, methods=["GET", "HEAD"]),
]
