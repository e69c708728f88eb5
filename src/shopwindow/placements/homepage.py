"""The homepage placement: which country/gender/category homepage, the storefront, recently viewed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from shopwindow.catalog.feed import Catalog, Product
from shopwindow.hooks import Hooks
from shopwindow.pages.cards import cards
from shopwindow.pages.recentlyviewed import (
    recently_viewed,
    recently_viewed_cards,
    render_recently_viewed,
)
from shopwindow.pages.storefront import GENDERS, decide_homepage
from shopwindow.rules.markets import Markets
from shopwindow.rules.rules import Decision
from shopwindow.serve import metrics
from shopwindow.serve.request import query_of, shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import (
    HTML_TYPE,
    JSONAnswer,
    RawAnswer,
    personalize,
    redirect,
    wants_json,
)
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import Visit

_COUNTRY = re.compile(r"^[a-z]{2}$")
STRIP_MARK = "<!--sw:personal-->"


async def root(request: Request) -> Response:
    """GET /: an ad click (campaign parameters) is a landing page; otherwise the homepage."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    if visit.campaign.present and (landing := shop.hooks.landing) is not None:
        response: Response = await landing(request, shop, snap, visit)
        return response
    decision, path = decide_homepage(snap, visit)
    if decision.rule is not None:
        metrics.count_match("homepage", decision.rule.id)
    if visit.device == "bot" or shop.settings.homepage_mode == "render":
        # Crawlers get the page itself at a stable URL, never a visitor-specific redirect.
        page = storefront_for_path(shop, snap, visit, path, decision) or storefront(
            shop, snap, visit, None, None, None
        )
        return personalize(page, shop, visit, decision.labels)
    query = request.scope["query_string"]
    return personalize(redirect(shop, path, query=query), shop, visit, decision.labels)


def storefront_for_path(
    shop: Shop, snap: Snapshot, visit: Visit, path: str, decision: Decision | None = None
) -> Response | None:
    parts = [p for p in path.split("/") if p]
    if not parts or not is_store(snap, parts[0]):
        return None
    gender = parts[1] if len(parts) > 1 and parts[1] in GENDERS else None
    category = parts[2] if len(parts) > 2 and parts[2] in snap.catalog.categories else None
    return storefront(shop, snap, visit, parts[0], gender, category, decision)


async def store_page(request: Request) -> Response:
    """The demo storefront: /de/, /de/women/, /de/women/running-shoes/."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    params = request.path_params
    country = params["country"]
    gender = params.get("gender")
    category = params.get("category")
    if not is_store(snap, country) or (gender is not None and gender not in GENDERS):
        return HTMLResponse("Not found", status_code=404)
    if category is not None and category not in snap.catalog.categories:
        return HTMLResponse("Not found", status_code=404)
    visit = visit_of(request, snap)
    # The homepage a rule sends a visitor to shows that rule's headline and hero (its
    # split's variant, when it has one), and names the rule like the redirect did.
    decision, target = decide_homepage(snap, visit)
    shown = decision if target == request.scope["path"] else None
    page = storefront(shop, snap, visit, country, gender, category, shown)
    return personalize(page, shop, visit, shown.labels if shown else ())


def is_store(snap: Snapshot, segment: str) -> bool:
    """A path's first segment names a store: a market's prefix, or (no markets) a country."""
    markets: Markets | None = snap.rules.data.get("markets")
    if markets is not None:
        return segment in markets.by_prefix
    return _COUNTRY.match(segment) is not None


def storefront(
    shop: Shop,
    snap: Snapshot,
    visit: Visit,
    country: str | None,
    gender: str | None,
    category: str | None,
    decision: Decision | None = None,
) -> Response:
    """A homepage variant: the segment's shell (cached) plus the visitor's own parts."""
    catalog = snap.catalog
    country = (country or visit.ctx.get("market") or visit.country).lower()
    markets: Markets | None = snap.rules.data.get("markets")
    market = markets.by_prefix.get(country) if markets is not None else None
    then = decision.then if decision is not None and decision.rule is not None else {}
    rule_id = decision.rule.id if decision is not None and decision.rule is not None else None
    headline, hero = then.get("headline"), then.get("hero")
    preview = tuple(sorted(visit.preview.items()))
    derived = snap.derived
    key = (country, gender, category, preview, rule_id, headline, hero)
    split = derived.shells.get(key)
    if split is None:
        if category:
            products = catalog.in_category(gender, category)
        elif gender:
            products = catalog.in_gender(gender)
        else:
            products = catalog.best_sellers()
        shell = shop.templates.get_template("storefront.html").render(
            country=country,
            market=market,
            gender=gender,
            category=category,
            products=cards(shop, snap, list(products[:24])),
            tiles=_category_tiles(catalog, gender),
            personal=Markup(STRIP_MARK),
            dev=shop.settings.dev,
            preview=visit.preview,
            genders=GENDERS,
            headline=headline,
            hero=hero,
            rule=rule_id,
        )
        head, _, tail = shell.partition(STRIP_MARK)
        split = derived.shells[key] = (head.encode(), tail.encode())
    top = tuple(visit.ctx.get("visitor.categories", ())[:3])
    picks_key = (gender, top)
    picks = derived.picks.get(picks_key)
    if picks is None:
        # Highlights and premium picks are the same for everyone with these top categories.
        picks = shop.templates.get_template("_picks.html").render(
            highlights=[
                {"category": cat, "cards": cards(shop, snap, ps)}
                for cat, ps in highlights(catalog, top, gender)
            ],
            upsell=cards(shop, snap, upsell(catalog, top, gender)),
        )
        derived.picks[picks_key] = picks
    personal = shop.templates.get_template("_personal.html").render(
        recently_viewed=recently_viewed_cards(shop, snap, visit.visitor.viewed),
        picks=Markup(picks),
        cross_sell=cards(shop, snap, cross_sell(catalog, visit)),
        cross_sell_title=cross_sell_title(catalog, visit),
        preferred_store=visit.ctx.get("profile.preferred_store"),
    )
    return RawAnswer(200, [HTML_TYPE], b"".join((split[0], personal.encode(), split[1])))


def _category_tiles(catalog: Catalog, gender: str | None) -> list[str]:
    return sorted(c for c in catalog.categories if catalog.in_category(gender, c))


def highlights(
    catalog: Catalog, top: Sequence[str], gender: str | None
) -> list[tuple[str, list[Product]]]:
    """The visitor's top categories, each with its best in-stock picks."""
    out = []
    for cat in top:
        picks = [p for p in catalog.in_category(gender, cat) if p.in_stock][:4]
        if picks:
            out.append((cat, picks))
    return out


def upsell(catalog: Catalog, top: Sequence[str], gender: str | None) -> list[Product]:
    """Premium tier in the visitor's preferred categories."""
    picks = [
        p
        for cat in top[:2]
        for p in catalog.in_category(gender, cat)
        if p.in_stock and p.tier == "premium"
    ]
    return picks[:4]


def cross_sell(catalog: Catalog, visit: Visit) -> list[Product]:
    """Accessories of what the visitor bought (or has in the cart)."""
    seen: set[str] = set()
    out: list[Product] = []
    sources = [*visit.visitor.full_price, *(line[0] for line in visit.cart)]
    for pid in sources:
        for acc in catalog.accessories_for(pid):
            if acc.in_stock and acc.id not in seen and acc.id not in sources:
                seen.add(acc.id)
                out.append(acc)
    return out[:4]


def cross_sell_title(catalog: Catalog, visit: Visit) -> str:
    """The cross-sell strip's heading for what this shopper has: bought, or only in the cart."""
    if visit.visitor.full_price:
        return "Goes well with what you bought"
    named: list[str] = []
    for line in reversed(visit.cart):
        product = catalog.get(line[0])
        # Only what the strip's picks go with: a bag with no accessories is not named.
        if product is None or product.category in named:
            continue
        if any(p.in_stock for p in catalog.accessories_for(product.id)):
            named.append(product.category)
    if not named:
        return "Goes well with your cart"
    words = " and ".join(category_words(c) for c in named[:2])
    return f"Goes well with the {words} in your cart"


def category_words(category: str) -> str:
    """'running-shoes' -> 'running shoes'; 't-shirts' stays as it is spelled."""
    parts = category.split("-")
    out = parts[0]
    for part in parts[1:]:
        out += ("-" if len(out.rsplit(" ", 1)[-1]) == 1 else " ") + part
    return out


# A plain function: it waits on nothing, so it answers at once (entry.Endpoint).
def recently_viewed_fragment(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    exclude = query_of(request).get("exclude")
    if wants_json(request):
        items = recently_viewed(snap.catalog, visit.visitor.viewed, exclude)
        return personalize(JSONAnswer({"items": items}), shop, visit)
    html = render_recently_viewed(
        shop, recently_viewed_cards(shop, snap, visit.visitor.viewed, exclude)
    )
    return personalize(HTMLResponse(html), shop, visit)


async def recently_viewed_slot(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The recently-viewed strip as a slot fragment (origin proxy, edge includes)."""
    exclude = query_of(request).get("exclude")
    return render_recently_viewed(
        shop, recently_viewed_cards(shop, snap, visit.visitor.viewed, exclude)
    ), []


def install(shop: Shop, hooks: Hooks) -> None:
    hooks.fragments["recently-viewed"] = recently_viewed_slot


routes = [
    Route("/", root, methods=["GET", "HEAD"]),
    Route("/_sw/fragments/recently-viewed", recently_viewed_fragment, methods=["GET"]),
    Route("/{country}/", store_page, methods=["GET", "HEAD"]),
    Route("/{country}/{gender}/", store_page, methods=["GET", "HEAD"]),
    Route("/{country}/{gender}/{category}/", store_page, methods=["GET", "HEAD"]),
]
