"""Shop the post: a social post's products on their own landing page, and a gallery of posts.

- GET {landing_prefix}post/{id}, and any landing URL whose `utm_content` names a post in
  rules/posts.yaml: the post's image with its product tags, the tagged products first
  (a sold-out one replaced by a similar product in stock), then "complete the look"
  picks. The post is checked before the landing rules: a visitor from a post always
  lands on that post's products.
- GET /_sw/fragments/shoppable?posts=a,b (or ?limit=N&channel=instagram for the newest
  posts): a gallery of posts with their tags, to embed on any page; JSON with
  `Accept: application/json`; the `shoppable` slot in origin mode.

Every answer names its posts as `post.<id>` in X-Shopwindow-Rules, so the stats count
exposures, clicks (the client script beacons clicks on `data-sw-click`) and conversions
per post as they do per rule. What a post shows depends only on the snapshot, so plans,
pages and galleries are computed once per snapshot and served from memory.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from cachetools import LRUCache
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from shopwindow.catalog.feed import Catalog, Product
from shopwindow.catalog.recommendations import ListSpec, recommend
from shopwindow.hooks import Hooks
from shopwindow.pages import cards
from shopwindow.pages.storefront import LANDING_HEADER, LANDING_PLACEMENT, product_json
from shopwindow.rules.pairings import NO_PAIRINGS, Pairings
from shopwindow.rules.posts import NO_POSTS, PLACEMENT, Post, Posts
from shopwindow.serve import metrics
from shopwindow.serve.prefixroutes import PrefixedPaths
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import personalize, wants_json
from shopwindow.settings import Settings
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import Visit

log = logging.getLogger("shopwindow")

PAGE_TEMPLATE: Final = "post.html"
GALLERY_TEMPLATE: Final = "_shoppable.html"
LANDING_KIND: Final = "post"
LOOK_COUNT: Final = 6
GALLERY_DEFAULT: Final = 6
GALLERY_MAX: Final = 12
MAX_POSTS_PARAM: Final = 1000  # characters of ?posts= read; more is cut
_SIMILAR: Final = (ListSpec("similar", 1, ""),)
_PREMIUM: Final = (ListSpec("premium", 1, ""),)
_ACCESSORIES: Final = (ListSpec("accessories", LOOK_COUNT, ""),)


@dataclass(frozen=True, slots=True)
class ShownTag:
    """A tag as a visitor sees it: the product it links to, and the sold-out one it stands in for."""

    product: Product
    replaces: Product | None
    left: float  # percent of the image's width
    top: float


@dataclass(frozen=True, slots=True)
class PostPlan:
    post: Post
    tags: tuple[ShownTag, ...]
    products: tuple[Product, ...]  # the tagged products first, in tag order, all in stock
    replaces: Mapping[str, Product]  # shown product id -> the sold-out product it replaces
    look: tuple[Product, ...]


def posts_of(snap: Snapshot) -> Posts:
    found = snap.rules.data.get("posts")
    return found if isinstance(found, Posts) else NO_POSTS


def pairings_of(snap: Snapshot) -> Pairings:
    found = snap.rules.data.get("pairings")
    return found if isinstance(found, Mapping) else NO_PAIRINGS


# --- what a post shows (pure) -----------------------------------------------------------


def plan_post(catalog: Catalog, post: Post, pairings: Pairings = NO_PAIRINGS) -> PostPlan:
    """The tagged products, each sold-out one replaced by a similar one in stock; then the look."""
    tagged = [p for tag in post.tags if (p := catalog.get(tag.product_id)) is not None]
    taken = {p.id for p in tagged if p.in_stock}
    tags: list[ShownTag] = []
    products: list[Product] = []
    replaces: dict[str, Product] = {}
    for tag in post.tags:
        product = catalog.get(tag.product_id)
        if product is None:  # left the feed since the posts were checked
            continue
        shown, replaced = product, None
        if not product.in_stock:
            found = replacement(catalog, product, taken)
            if found is None:
                continue  # nothing like it in stock: the tag is left out rather than lead nowhere
            shown, replaced = found, product
            taken.add(found.id)
            replaces[found.id] = product
        tags.append(ShownTag(shown, replaced, post.left(tag), post.top(tag)))
        if shown not in products:
            products.append(shown)
    look = complete_the_look(catalog, post, tagged, {p.id for p in products}, pairings)
    return PostPlan(post, tuple(tags), tuple(products), replaces, look)


def replacement(catalog: Catalog, product: Product, taken: set[str]) -> Product | None:
    """The in-stock product nearest to a sold-out one: similar first, else a premium one."""
    for specs in (_SIMILAR, _PREMIUM):
        for found in recommend(catalog, product, specs, spare=len(taken) + 2):
            for candidate in found.products:
                if candidate.id not in taken:
                    return candidate
    return None


def complete_the_look(
    catalog: Catalog,
    post: Post,
    tagged: Sequence[Product],
    shown: set[str],
    pairings: Pairings,
    count: int = LOOK_COUNT,
) -> tuple[Product, ...]:
    """The marketer's own picks (`look`), then what goes with the tagged products, in turn."""
    out: list[Product] = []
    seen = set(shown)
    for pid in post.look:
        p = catalog.get(pid)
        if p is not None and p.in_stock and p.id not in seen:
            out.append(p)
            seen.add(p.id)
    streams = [
        list(lists[0].products) if lists else []
        for product in tagged
        for lists in [recommend(catalog, product, _ACCESSORIES, pairings=pairings, spare=count)]
    ]
    depth = 0
    while len(out) < count and any(depth < len(s) for s in streams):
        for stream in streams:
            if depth < len(stream) and stream[depth].id not in seen and len(out) < count:
                out.append(stream[depth])
                seen.add(stream[depth].id)
        depth += 1
    return tuple(out[:count])


def post_path(prefix: str, post: Post) -> str:
    return f"{prefix.rstrip('/')}/post/{post.id}"


def tag_view(plan: PostPlan, tag: ShownTag) -> dict[str, Any]:
    p = tag.product
    price = f"{p.price:.2f} {p.currency}"
    if tag.replaces is not None:
        aria = f"{tag.replaces.name} is sold out: see {p.name}, {price}"
    else:
        aria = f"{p.name}, {price}"
    return {
        "product_id": p.id,
        "name": p.name,
        "url": p.url,
        "price": p.price,
        "currency": p.currency,
        "left": tag.left,
        "top": tag.top,
        "replaces": tag.replaces.id if tag.replaces is not None else None,
        "aria": aria,
    }


def post_view(plan: PostPlan, prefix: str) -> dict[str, Any]:
    """A post as templates and JSON clients see it."""
    post = plan.post
    return {
        "id": post.id,
        "label": post.label,
        "channel": post.channel,
        "channel_name": post.channel_name,
        "link": post_path(prefix, post),
        "network_url": post.url or None,
        "image": post.image,
        "width": post.width,
        "height": post.height,
        "alt": post.alt,
        "title": post.title,
        "caption": post.caption,
        "published": post.published or None,
        "tags": [tag_view(plan, tag) for tag in plan.tags],
    }


def product_view(product: Product, replaces: Product | None = None) -> dict[str, Any]:
    """A post's product as JSON: the recommendation card, plus the sold-out one it stands in for."""
    return {**product_json(product), "replaces": replaces.id if replaces is not None else None}


# --- per snapshot: plans, pages and galleries --------------------------------------------


class ShoppableState:
    """Everything posts show for one snapshot, worked out on first use and kept."""

    __slots__ = ("galleries", "pages", "plans", "posts", "snap")

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.posts = posts_of(snap)
        self.plans: dict[str, PostPlan] = {}
        self.pages: LRUCache[tuple[Any, ...], bytes | str] = LRUCache(maxsize=1024)
        self.galleries: LRUCache[tuple[Any, ...], bytes | str] = LRUCache(maxsize=1024)

    def plan(self, post: Post) -> PostPlan:
        found = self.plans.get(post.id)
        if found is None:
            catalog = self.snap.catalog
            found = plan_post(catalog, post, pairings_of(self.snap))
            self.plans[post.id] = found
            for tag in post.tags:
                if tag.product_id not in catalog:
                    log.warning(
                        "post %s: product %s is not in the feed; its tag is hidden (%s)",
                        post.id,
                        tag.product_id,
                        post.where,
                    )
        return found

    def page(self, shop: Shop, post: Post, visit: Visit, as_json: bool) -> bytes | str:
        country = visit.ctx.get("market") or visit.country.lower()  # the store's prefix
        key = (post.id, as_json, country, tuple(sorted(visit.preview.items())))
        body = self.pages.get(key)
        if body is None:
            body = self._render_page(shop, self.plan(post), country, visit, as_json)
            self.pages[key] = body
        return body

    def _render_page(
        self, shop: Shop, plan: PostPlan, country: str, visit: Visit, as_json: bool
    ) -> bytes | str:
        prefix = shop.settings.landing_prefix
        if as_json:
            return orjson.dumps(
                {
                    "kind": LANDING_KIND,
                    "post": post_view(plan, prefix),
                    "products": [product_view(p, plan.replaces.get(p.id)) for p in plan.products],
                    "look": [product_view(p) for p in plan.look],
                }
            )
        snap = self.snap

        def card(p: Product) -> Markup:
            replaced = plan.replaces.get(p.id)
            note = f"Instead of {replaced.name}, sold out" if replaced is not None else None
            return cards.card(shop, snap, p, note)

        return shop.templates.get_template(PAGE_TEMPLATE).render(
            post=post_view(plan, prefix),
            products=[card(p) for p in plan.products],
            look=[card(p) for p in plan.look],
            country=country,
            gender=None,
            dev=shop.settings.dev,
            preview=visit.preview,
        )

    def gallery(self, shop: Shop, chosen: Sequence[Post], as_json: bool) -> bytes | str:
        key = (tuple(p.id for p in chosen), as_json)
        body = self.galleries.get(key)
        if body is None:
            prefix = shop.settings.landing_prefix
            views = [post_view(self.plan(p), prefix) for p in chosen]
            if as_json:
                body = orjson.dumps({"posts": views})
            else:
                body = shop.templates.get_template(GALLERY_TEMPLATE).render(posts=views)
            self.galleries[key] = body
        return body


def state_of(shop: Shop, snap: Snapshot) -> ShoppableState:
    """The posts' state for this snapshot (snap.derived): made on first use, dropped with it."""
    state: ShoppableState | None = snap.derived.shoppable
    if state is None:
        state = snap.derived.shoppable = ShoppableState(snap)
    return state


# --- reading the visit --------------------------------------------------------------------


def read_post(shop: Shop, visit: Visit, snap: Snapshot) -> None:
    """Context hook: post.id and post.channel when the URL names a post (path, else utm_content)."""
    ctx = visit.ctx
    path: str = ctx["path"]
    content = visit.campaign.content
    if not content and "/post/" not in path:
        return  # most requests name no post
    posts = posts_of(snap)
    if not posts:
        return
    post = None
    if "/post/" in path:
        prefix = shop.settings.landing_prefix.rstrip("/") + "/post/"
        if path.startswith(prefix):
            post = posts.get(path[len(prefix) :].strip("/"))
    if post is None and content:
        post = posts.get(content)
    if post is not None:
        ctx["post.id"] = post.id
        ctx["post.channel"] = post.channel


def choose(posts: Posts, query: Mapping[str, str]) -> list[Post]:
    """The gallery's posts: ?posts=a,b in that order; else the newest (?limit=N, ?channel=)."""
    named = query.get("posts")
    if named:
        out: list[Post] = []
        for part in named[:MAX_POSTS_PARAM].split(","):
            post = posts.get(part)
            if post is not None and post not in out:
                out.append(post)
                if len(out) >= GALLERY_MAX:
                    break
        return out
    limit = GALLERY_DEFAULT
    raw = query.get("limit", "")
    if raw.isdigit() and len(raw) <= 3:
        limit = max(1, min(GALLERY_MAX, int(raw)))
    channel = query.get("channel")
    return [p for p in posts.recent if channel is None or p.channel == channel][:limit]


# --- answers ------------------------------------------------------------------------------


def answer_post(request: Request, shop: Shop, snap: Snapshot, visit: Visit, post: Post) -> Response:
    state = state_of(shop, snap)
    metrics.count_match(PLACEMENT, post.id)
    as_json = wants_json(request)
    body = state.page(shop, post, visit, as_json)
    response: Response
    if as_json:
        response = Response(body, media_type="application/json")
    else:
        response = HTMLResponse(body)
    response.headers[LANDING_HEADER] = f"{LANDING_KIND}; {post.id}"
    return personalize(response, shop, visit, [post.label])


async def post_landing(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> Response | None:
    """hooks.landing_first: a landing URL whose utm_content names a post."""
    post = posts_of(snap).get(visit.ctx.get("post.id"))
    if post is None:
        return None
    return answer_post(request, shop, snap, visit, post)


async def post_page(request: Request) -> Response:
    """GET {landing_prefix}post/{id}: a post taken down lands like any unknown campaign."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    post = posts_of(snap).get(visit.ctx.get("post.id"))
    if post is None:
        landing = shop.hooks.landing
        if landing is None:  # pragma: no cover - landing is installed before shoppable
            raise RuntimeError("landing pages not installed")
        return await landing(request, shop, snap, visit)
    return answer_post(request, shop, snap, visit, post)


async def shoppable_slot(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The gallery as a slot fragment (origin proxy mode): the page's own ?posts= or the newest."""
    chosen = choose(posts_of(snap), request.query_params)
    body = state_of(shop, snap).gallery(shop, chosen, False)
    return str(body), [p.label for p in chosen]


async def shoppable_fragment(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    chosen = choose(posts_of(snap), request.query_params)
    as_json = wants_json(request)
    body = state_of(shop, snap).gallery(shop, chosen, as_json)
    response: Response
    if as_json:
        response = Response(body, media_type="application/json")
    else:
        response = HTMLResponse(body)
    return personalize(response, shop, visit, [p.label for p in chosen])


def explain_post(shop: Shop, snap: Snapshot, visit: Visit) -> dict[str, Any] | None:
    """For `shopwindow explain`: what a URL naming a post shows (the post wins over the rules)."""
    post = posts_of(snap).get(visit.ctx.get("post.id"))
    if post is None:
        return None
    plan = state_of(shop, snap).plan(post)
    return {
        "landing": f"{LANDING_KIND}; {post.id} (a post wins over the landing rules)",
        "decided_by": [post.label],
        "products": [p.id for p in plan.products],
        "replaced": {p.id: shown for shown, p in plan.replaces.items()},
        "look": [p.id for p in plan.look],
    }


class PostPaths(PrefixedPaths):
    """{landing_prefix}post/{id}; the prefix is a setting, so it is matched against the shop's."""

    path = "/lp/post/{post_id}"  # the route's name in metrics, whatever the prefix
    param = "post_id"

    def prefix_of(self, settings: Settings) -> str:
        return str(settings.landing_prefix).rstrip("/") + "/post/"


def install(shop: Shop, hooks: Hooks) -> None:
    """After landing: a post's link is a landing URL, and its answer comes before the rules'."""
    hooks.context.append(read_post)
    hooks.landing_first.append(post_landing)
    hooks.fragments["shoppable"] = shoppable_slot
    explain = hooks.explain
    rules_only = explain.get(LANDING_PLACEMENT)

    def explain_landing(shop: Shop, snap: Snapshot, visit: Visit) -> dict[str, Any]:
        shows = explain_post(shop, snap, visit)
        if shows is not None:
            return shows
        return rules_only(shop, snap, visit) if rules_only is not None else {}

    explain[LANDING_PLACEMENT] = explain_landing


routes: list[BaseRoute] = [
    PostPaths(post_page),
    Route("/_sw/fragments/shoppable", shoppable_fragment, methods=["GET"]),
]
