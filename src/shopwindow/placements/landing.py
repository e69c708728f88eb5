"""The landing-pages placement: an ad click gets a page whose headline and products fit the ad.

GET / with campaign parameters and GET {landing_prefix}{slug} are decided by
rules/landing-pages.yaml; a campaign no rule answers falls back to the closest
category page, or to best sellers, and is counted for `shopwindow campaigns
--unmatched`. The rendered page is cached per segment (everything decided by
the rule and filter); only the headline's keyword and the visitor's own strip
are filled in per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from shopwindow.catalog.feed import UNISEX, Catalog, Product
from shopwindow.catalog.pictures import silhouette_uri
from shopwindow.catalog.productfilter import ProductFilter, filter_products, index_for
from shopwindow.hooks import Hooks
from shopwindow.pages.recentlyviewed import recently_viewed_cards, render_recently_viewed
from shopwindow.pages.storefront import GENDERS, LANDING_HEADER, LANDING_PLACEMENT
from shopwindow.profiles.reminders import remind_form
from shopwindow.rules.drops import NextDrop, next_drop
from shopwindow.rules.keywords import (
    HEADLINE_PLACEHOLDER,
    NO_MATCH,
    NO_SYNONYMS,
    KeywordMatch,
    Synonyms,
    Vocabulary,
    descriptive,
    fill_headline,
    showable_keyword,
)
from shopwindow.rules.languages import packs_for
from shopwindow.rules.rules import Decision, Rule
from shopwindow.serve import metrics
from shopwindow.serve.prefixroutes import PrefixedPaths
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import (
    HTML_TYPE,
    RawAnswer,
    header_text,
    json_body,
    personalize,
    redirect,
    wants_json,
)
from shopwindow.settings import Settings
from shopwindow.shop import Shop, Snapshot
from shopwindow.stats.unmatched import FLUSH_SECONDS, CampaignKey, UnmatchedCampaigns, default_path
from shopwindow.visitor.channel import NO_CAMPAIGN, Campaign
from shopwindow.visitor.context import Visit, arms_of

log = logging.getLogger("shopwindow")

PLACEMENT = LANDING_PLACEMENT
_LANDING_HEADER = LANDING_HEADER.lower().encode()
HEADLINE_MARK = "<!--sw:headline-->"
PERSONAL_MARK = "<!--sw:personal-->"
LANDING_TEMPLATE = "landing.html"
TEASER_TEMPLATE = "teaser.html"
GRID_TEMPLATE = "_landing_grid.html"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
WARM_SECONDS = 0.25
_GENDER_TITLE = {"women": "Women's", "men": "Men's", "kids": "Kids'"}

# What decided a landing answer, as the X-Shopwindow-Landing header says it.
RULE = "rule"
TEASER = "teaser"
DROP_SILHOUETTES = 8  # of the drop's products, shown dark on its teaser
DROP_RELATED = 4  # in stock now, from the drop's categories
REDIRECT = "redirect"
CATEGORY = "category"  # fallback: the keyword named (or nearly named) a category
KEYWORD = "keyword"  # fallback: a gender or attribute, no category
BEST_SELLERS = "best-sellers"  # fallback: nothing usable in the campaign


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a landing page shows that is the same for a whole segment: the cache key."""

    kind: str
    rule: str | None  # rule[:variant], as in X-Shopwindow-Rules
    template: str
    products: ProductFilter | None
    headline: str  # may hold {keyword}; filled per request
    default_headline: str
    hero: str = ""
    hero_image: str = ""
    next_drop: NextDrop | None = None
    drop: str = ""  # a teaser's drop: the scheduled rule it counts down to
    drop_products: ProductFilter | None = None  # what that rule will show


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered segment page with the markers still in it."""

    html: str
    product_ids: tuple[str, ...]
    relaxed: bool  # the exact filter found nothing; its tags were dropped
    # What every one of the first products shown has: a headline may repeat only these.
    shown: frozenset[str] = frozenset()
    # The page as bytes around its markers (see spliced): each answer joins, never rescans.
    pieces: tuple[tuple[bytes, ...], tuple[bytes, ...] | None] = ((), None)


def spliced(html: str) -> tuple[tuple[bytes, ...], tuple[bytes, ...] | None]:
    """The page cut at its markers: the parts around every headline, before and after the
    first personal mark (None: the template has no personal part)."""
    head, mark, tail = html.partition(PERSONAL_MARK)
    before = tuple(part.encode() for part in head.split(HEADLINE_MARK))
    return before, tuple(part.encode() for part in tail.split(HEADLINE_MARK)) if mark else None


# A headline that repeats a colour or material promises it: the first products must keep it.
FIRST_SHOWN = 4


def shown_by_all(products: Sequence[Any]) -> frozenset[str]:
    """The tags (and tier) every one of the first FIRST_SHOWN products has."""
    first = products[:FIRST_SHOWN]
    if not first:
        return frozenset()
    common = set(first[0].tags) | {f"tier:{first[0].tier}"}
    for product in first[1:]:
        common &= {*product.tags, f"tier:{product.tier}"}
    return frozenset(common)


class LandingState:
    """Per snapshot: the keyword vocabulary and the segment pages rendered from it."""

    __slots__ = (
        "drops",
        "guesses",
        "headlines",
        "matches",
        "pages",
        "plans",
        "snap",
        "strips",
        "synonyms",
        "vocabulary",
    )

    def __init__(
        self, snap: Snapshot, vocabulary: Vocabulary | None = None, languages: Sequence[str] = ()
    ) -> None:
        self.snap = snap
        self.synonyms = synonyms_of(snap)
        self.vocabulary = vocabulary or Vocabulary.of(
            snap.catalog, self.synonyms, packs_for(languages)
        )
        self.pages: LRUCache[tuple[Any, ...], Page] = LRUCache(maxsize=2048)
        # Campaign values -> what they say; (rule, what the keyword says) -> the page plan.
        self.matches: LRUCache[tuple[str | None, ...], KeywordMatch] = LRUCache(maxsize=4096)
        self.guesses: LRUCache[tuple[str | None, ...], KeywordMatch] = LRUCache(maxsize=4096)
        self.plans: LRUCache[tuple[Any, ...], Plan] = LRUCache(maxsize=4096)
        self.drops: dict[str, NextDrop] = {}  # a teaser's next drop, until it opens
        # The visitor's own parts, kept by what they are made of: a returning visitor's
        # "continue shopping" strip, an escaped headline for a (rule, keyword) pair.
        self.strips: LRUCache[tuple[str, ...], str] = LRUCache(maxsize=4096)
        self.headlines: LRUCache[tuple[Any, ...], str] = LRUCache(maxsize=4096)

    def match(self, campaign: Campaign, slug: str | None) -> KeywordMatch:
        key = (campaign.term, slug, campaign.name, campaign.content)
        found = self.matches.get(key)
        if found is None:
            found = keyword_match(self.vocabulary, campaign, slug)
            self.matches[key] = found
        return found

    def closest(self, campaign: Campaign, slug: str | None) -> KeywordMatch:
        """The forgiving reading, for campaigns no rule answers (typo matching is not free)."""
        key = (campaign.term, slug, campaign.name, campaign.content)
        found = self.guesses.get(key)
        if found is None:
            found = closest_match(self.vocabulary, campaign, slug)
            self.guesses[key] = found
        return found

    def next_drop(self, teaser: str, snap: Snapshot, now: datetime) -> NextDrop | None:
        known = self.drops.get(teaser)
        if known is not None and now < known.opens and not known.live_now:
            return known
        found = next_drop(snap.rules.rule(teaser), now)
        if found is not None:
            self.drops[teaser] = found
        return found


def synonyms_of(snap: Snapshot) -> Synonyms:
    found = snap.rules.data.get("synonyms")
    return found if isinstance(found, Synonyms) else NO_SYNONYMS


def state_of(shop: Shop, snap: Snapshot) -> LandingState:
    """The state to answer from: the snapshot's own, or the last one while it is being built.

    A rules-only edit keeps the vocabulary and takes effect at once. A new catalog
    or synonyms file needs a new vocabulary and filter index (a second or so for a
    large catalog): the running service builds those off the event loop, and until
    they are ready answers from the previous snapshot, whole.
    """
    service = service_of(shop)
    # Each market's view (its prices) keeps a state of its own.
    state = service.states.get(snap.market)
    if state is not None and state.snap is snap:
        return state
    if (
        state is not None
        and state.snap.catalog is snap.catalog
        and state.synonyms == synonyms_of(snap)
    ):
        state = LandingState(snap, state.vocabulary)
    elif state is not None and service.warmer is not None:
        return state
    else:
        state = LandingState(snap, languages=shop.settings.languages)
    service.states[snap.market] = state
    return state


def warm_state(snap: Snapshot, languages: Sequence[str] = ()) -> LandingState:
    """Everything a landing answer needs for a snapshot, built up front (run it in a thread)."""
    index_for(snap.catalog)
    return LandingState(snap, languages=languages)


# --- reading the campaign ----------------------------------------------------------------


def slug_of(path: str, prefix: str) -> str | None:
    """The {slug} of a landing path, when the path is one and the slug is well formed."""
    if not path.startswith(prefix):
        return None
    slug = path[len(prefix) :].strip("/").lower()
    return slug if _SLUG.match(slug) else None


def keyword_match(vocabulary: Vocabulary, campaign: Campaign, slug: str | None) -> KeywordMatch:
    """The ad keyword first, then the landing slug, the campaign name and the ad content."""
    match = NO_MATCH
    for text in (campaign.term, slug, campaign.name, campaign.content):
        if text:
            match = match.merged(vocabulary.read(text.replace("_", " ")))
    return match


def closest_match(vocabulary: Vocabulary, campaign: Campaign, slug: str | None) -> KeywordMatch:
    """As keyword_match, forgiving typos in the search keyword (for campaigns no rule answers).

    The keyword is what a shopper typed, typos and all; the slug, campaign name and
    ad content are the marketer's own words, read exactly.
    """
    match = NO_MATCH
    readings = (
        (campaign.term, vocabulary.closest),
        (slug, vocabulary.read),
        (campaign.name, vocabulary.read),
        (campaign.content, vocabulary.read),
    )
    for text, reading in readings:
        if text:
            match = match.merged(reading(text.replace("_", " ")))
    return match


def read_campaign(shop: Shop, visit: Visit, snap: Snapshot) -> None:
    """Context hook: campaign.gender/category/attributes and landing.slug, for ad clicks only."""
    ctx = visit.ctx
    slug = slug_of(ctx["path"], shop.settings.landing_prefix)
    if slug is None and (visit.campaign is NO_CAMPAIGN or not visit.campaign.present):
        return  # most requests: nothing to read
    match = state_of(shop, snap).match(visit.campaign, slug)
    ctx["campaign.gender"] = match.gender
    ctx["campaign.category"] = match.category
    ctx["campaign.attributes"] = list(match.attributes)
    ctx["campaign.occasion"] = match.occasion
    ctx["landing.slug"] = slug


# --- deciding ----------------------------------------------------------------------------


def decide(state: LandingState, visit: Visit) -> tuple[Decision, Plan | str]:
    """The rule's plan (or a redirect target), or the fallback for an unmatched campaign."""
    ctx = visit.ctx
    snap = state.snap
    decision = snap.rules.decide(PLACEMENT, ctx, visit.visitor.id, assigned=arms_of(visit))
    slug = ctx.get("landing.slug")
    if decision.rule is None:
        return decision, fallback_plan(state.closest(visit.campaign, slug), visit, snap.catalog)
    then = decision.then
    label = decision.labels[-1]
    if (target := then.get("redirect")) is not None:
        return decision, fill_target(str(target), visit)
    match = state.match(visit.campaign, slug)
    if (teaser := then.get("teaser")) is not None:
        plan = plan_for_rule(then, label, match)
        drop = state.next_drop(str(teaser), snap, visit.now)
        return decision, dataclasses.replace(
            plan,
            next_drop=drop,
            drop=str(teaser),
            drop_products=drop_filter(snap.rules.rule(str(teaser))),
        )
    key = (label, match.gender, match.category, match.attributes)
    cached = state.plans.get(key)
    if cached is None:
        cached = plan_for_rule(then, label, match)
        state.plans[key] = cached
    return decision, cached


def plan_for_rule(then: Mapping[str, Any], label: str, match: KeywordMatch) -> Plan:
    """A rule's page: its fields, and a product filter completed from the keyword."""
    products = then.get("products")
    flt: ProductFilter | None
    if isinstance(products, Mapping):
        flt = ProductFilter.from_rule(products)
        if products.get("from_keyword"):
            flt = with_keyword(flt, match)
        else:
            flt = described_first(flt, match)
    elif "teaser" in then:
        flt = None  # a teaser shows no products unless it lists some
    else:
        flt = with_keyword(ProductFilter(), match)
    title = title_for(flt) if flt is not None else "Coming soon"
    kind = RULE
    template = str(then.get("template") or LANDING_TEMPLATE)
    if "teaser" in then:
        kind = TEASER
        template = str(then.get("template") or TEASER_TEMPLATE)
    default = str(then.get("default_headline") or title)
    return Plan(
        kind,
        label,
        template,
        flt,
        str(then.get("headline") or default),
        default,
        str(then.get("hero") or ""),
        str(then.get("hero_image") or ""),
    )


def drop_filter(rule: Rule | None) -> ProductFilter | None:
    """What a drop's rule will show when it opens (for its teaser's silhouettes)."""
    products = rule.then.get("products") if rule is not None else None
    return ProductFilter.from_rule(products) if isinstance(products, Mapping) else None


def drop_preview(
    catalog: Catalog, flt: ProductFilter | None
) -> tuple[list[Product], list[Product]]:
    """A teaser's silhouettes (the drop's products) and what is in stock now in their categories."""
    if flt is None:
        return [], []
    coming = filter_products(catalog, flt)[:DROP_SILHOUETTES]
    shown = {p.id for p in coming}
    related: list[Product] = []
    for category in dict.fromkeys(p.category for p in coming):
        picks = [p for p in catalog.in_category(None, category) if p.in_stock and p.id not in shown]
        related.extend(picks[:2])
    return coming, related[:DROP_RELATED]


def with_keyword(flt: ProductFilter, match: KeywordMatch) -> ProductFilter:
    """The rule's filter, its gaps filled from what the ad keyword says.

    A colour or material the rule does not name ranks the products that have it
    first instead of narrowing the page: "red running shoes" still shows the range.
    """
    return ProductFilter.of(
        gender=flt.gender or match.gender,
        category=flt.category or match.category,
        tags=(*flt.tags, *(a for a in match.attributes if not descriptive(a))),
        ids=flt.ids,
        limit=flt.limit,
        in_stock_only=flt.in_stock_only,
        prefer=(a for a in match.attributes if descriptive(a)),
    )


def described_first(flt: ProductFilter, match: KeywordMatch) -> ProductFilter:
    """The rule's own filter, with the colours and materials the keyword named ranked first."""
    prefer = [a for a in match.attributes if descriptive(a) and a not in flt.tags]
    if not prefer:
        return flt
    return dataclasses.replace(flt, prefer=tuple(sorted(set(prefer))))


def fallback_plan(match: KeywordMatch, visit: Visit, catalog: Catalog) -> Plan:
    """Closest category page from the keyword; with no usable word, in-stock best sellers."""
    match = match.narrowing()  # a colour or material alone is no page of its own
    gender = match.gender
    affinity = visit.ctx.get("visitor.gender")
    # What the shopper usually buys narrows the page, unless it would empty it
    # (a men's shopper clicking a dresses ad still sees the dresses).
    if (
        gender is None
        and affinity in catalog.genders
        and (match.category is None or catalog.in_category(affinity, match.category))
    ):
        gender = affinity
    if match.category is not None:
        kind = CATEGORY
        flt = ProductFilter.of(gender, match.category, match.attributes)
    elif match.usable:
        kind = KEYWORD
        flt = ProductFilter.of(gender, None, match.attributes, in_stock_only=True)
    else:
        kind = BEST_SELLERS
        flt = ProductFilter.of(gender, None, in_stock_only=True)
    title = title_for(flt)
    # No keyword insertion here: an unknown keyword is not ours to put in a headline.
    return Plan(kind, None, LANDING_TEMPLATE, flt, title, title)


def title_for(flt: ProductFilter) -> str:
    """The page's plain title: "Women's running shoes", "Kids' best sellers", "Best sellers"."""
    what = flt.category.replace("-", " ") if flt.category else "best sellers"
    who = _GENDER_TITLE.get(flt.gender or "")
    return f"{who} {what}" if who else what.capitalize()


def fill_target(target: str, visit: Visit) -> str:
    """A redirect path with {country}, {market}, {gender}, {category}, {language} filled."""
    ctx = visit.ctx
    values = {
        "country": visit.country.lower(),
        "market": ctx.get("market") or visit.country.lower(),
        "gender": ctx.get("campaign.gender") or ctx.get("visitor.gender"),
        "category": ctx.get("campaign.category") or ctx.get("visitor.category"),
        "language": ctx.get("language"),
    }
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(m.group(1))
        missing = missing or not value
        return str(value or "")

    filled = re.sub(r"\{(country|market|gender|category|language)\}", sub, target)
    return f"/{values['market']}/" if missing else filled


# --- rendering ---------------------------------------------------------------------------


def page_for(shop: Shop, state: LandingState, plan: Plan, visit: Visit) -> Page:
    """The segment's page: rendered once per plan and country, then served from memory."""
    # The store's first path segment: the market's prefix, or the visitor's country.
    country = visit.ctx.get("market") or visit.country.lower()
    key = (plan, country, tuple(sorted(visit.preview.items())))
    page = state.pages.get(key)
    if page is None:
        page = render_page(shop, state.snap.catalog, plan, country, visit)
        state.pages[key] = page
    return page


def select(catalog: Catalog, flt: ProductFilter | None) -> tuple[list[Any], bool]:
    if flt is None:
        return [], False
    products = filter_products(catalog, flt)
    if not products and flt.tags:
        # Nothing matches exactly (a colour sold out everywhere): show the range, say so.
        return filter_products(catalog, flt.without_tags()), True
    return products, False


def render_page(shop: Shop, catalog: Catalog, plan: Plan, country: str, visit: Visit) -> Page:
    products, relaxed = select(catalog, plan.products)
    coming, related = drop_preview(catalog, plan.drop_products)
    flt = plan.products
    gender = flt.gender if flt is not None else None
    see_all = None
    if flt is not None and flt.category and gender in GENDERS:
        see_all = f"/{country}/{gender}/{flt.category}/"
    html = shop.templates.get_template(plan.template).render(
        kind=plan.kind,
        rule=plan.rule,
        headline=Markup(HEADLINE_MARK),
        hero=plan.hero,
        hero_image=plan.hero_image,
        title=title_for(flt) if flt is not None else "",
        products=[p.to_json() for p in products],
        filter_text=flt.describe() if flt is not None else "",
        relaxed=relaxed,
        see_all=see_all,
        next_drop=plan.next_drop,
        silhouettes=[{"category": p.category, "picture": silhouette_uri(p)} for p in coming],
        related=[p.to_json() for p in related],
        personal=Markup(PERSONAL_MARK),
        country=country,
        gender=gender if gender != UNISEX else None,
        dev=shop.settings.dev,
        preview=visit.preview,
    )
    ids = tuple(p.id for p in products)
    return Page(html, ids, relaxed, shown_by_all(products), spliced(html))


def headline_of(state: LandingState, plan: Plan, campaign: Campaign, shown: frozenset[str]) -> str:
    """The headline with the keyword filled in, less any colour or material the page lacks."""
    keyword = showable_keyword(campaign.term)
    if keyword is not None and HEADLINE_PLACEHOLDER.search(plan.headline):
        keyword = state.vocabulary.without_unshown(keyword, shown)
    return fill_headline(plan.headline, keyword, plan.default_headline)


def escaped_headline(state: LandingState, plan: Plan, page: Page, campaign: Campaign) -> str:
    key = (plan.headline, plan.default_headline, campaign.term, page.shown)
    found = state.headlines.get(key)
    if found is None:
        found = str(escape(headline_of(state, plan, campaign, page.shown)))
        state.headlines[key] = found
    return found


def own_strip(shop: Shop, state: LandingState, visit: Visit) -> str:
    """The visitor's "continue shopping" strip; the same viewed list renders the same strip."""
    viewed = tuple(visit.visitor.viewed)
    if not viewed:
        return ""
    strip = state.strips.get(viewed)
    if strip is None:
        strip = render_recently_viewed(shop, recently_viewed_cards(shop, state.snap, viewed))
        state.strips[viewed] = strip
    return strip


def drop_remind(shop: Shop, snap: Snapshot, plan: Plan, visit: Visit) -> str:
    if not plan.drop:
        return ""
    return remind_form(shop.services.profiles, snap.rules, plan.drop, visit)


def landing_header(plan: Plan, page: Page) -> str:
    parts = [plan.kind]
    if plan.products is not None:
        parts.append(plan.products.describe())
    if page.relaxed:
        parts.append("relaxed")
    return header_text("; ".join(parts))


async def answer(request: Request, shop: Shop, snap: Snapshot, visit: Visit) -> Response:
    """The landing answer for this visit: a page, a teaser, or a redirect the rule asks for."""
    # hooks.landing_first: answers that do not depend on the landing rules
    # (a shoppable post named by utm_content) come before them; None means "not mine".
    for first in shop.hooks.landing_first:
        found: Response | None = await first(request, shop, snap, visit)
        if found is not None:
            return found
    state = state_of(shop, snap)
    snap = state.snap
    decision, plan = decide(state, visit)
    if decision.rule is not None:
        metrics.count_match(PLACEMENT, decision.rule.id)
    else:
        if (service := shop.services.landing) is not None:
            service.store.record(CampaignKey.of(visit.campaign, visit.ctx["path"]))
    if isinstance(plan, str):
        response: Response = redirect(shop, plan, query=request.scope["query_string"])
        response.headers[LANDING_HEADER] = REDIRECT
        return personalize(response, shop, visit, decision.labels)
    page = page_for(shop, state, plan, visit)
    if wants_json(request):
        headline = headline_of(state, plan, visit.campaign, page.shown)
        response = Response(
            _json(plan, page, headline, snap.catalog), media_type="application/json"
        )
        response.headers[LANDING_HEADER] = landing_header(plan, page)
    else:
        # The cached page's bytes around this visit's headline and strip: no 10 KB
        # string rescanned and encoded again per answer.
        title = escaped_headline(state, plan, page, visit.campaign).encode()
        personal = own_strip(shop, state, visit) + drop_remind(shop, snap, plan, visit)
        before, after = page.pieces
        body = title.join(before)
        if after is not None:
            body = b"".join((body, personal.encode(), title.join(after)))
        header = (_LANDING_HEADER, landing_header(plan, page).encode("latin-1"))
        response = RawAnswer(200, [HTML_TYPE, header], body)
    return personalize(response, shop, visit, decision.labels)


def _json(plan: Plan, page: Page, headline: str, catalog: Catalog) -> bytes:
    products = [p.to_json() for pid in page.product_ids if (p := catalog.get(pid)) is not None]
    body: dict[str, Any] = {
        "kind": plan.kind,
        "rule": plan.rule,
        "headline": headline,
        "hero": plan.hero,
        "filter": plan.products.describe() if plan.products is not None else None,
        "relaxed": page.relaxed,
        "products": products,
    }
    if plan.next_drop is not None:
        body["next_drop"] = plan.next_drop.iso
    return json_body(body)


async def landing_at_root(request: Request, shop: Shop, snap: Snapshot, visit: Visit) -> Response:
    """hooks.landing: GET / when the URL carries campaign parameters."""
    return await answer(request, shop, snap, visit)


async def landing_path(request: Request) -> Response:
    """GET {landing_prefix}{slug}."""
    snap = snapshot_of(request)
    return await answer(request, shop_of(request), snap, visit_of(request, snap))


async def landing_products(
    request: Request, shop: Shop, snap: Snapshot, visit: Visit
) -> tuple[str, list[str]]:
    """The product grid alone, for a landing page the origin site renders (data-sw-slot)."""
    state = state_of(shop, snap)
    snap = state.snap
    decision, plan = decide(state, visit)
    if isinstance(plan, str) or plan.products is None:
        return "", decision.labels
    key = ("grid", plan.products)
    page = state.pages.get(key)
    if page is None:
        products, relaxed = select(snap.catalog, plan.products)
        html = shop.templates.get_template(GRID_TEMPLATE).render(
            products=[p.to_json() for p in products], filter_text=plan.products.describe()
        )
        page = Page(html, tuple(p.id for p in products), relaxed, shown_by_all(products))
        state.pages[key] = page
    return page.html, decision.labels


async def landing_products_fragment(request: Request) -> Response:
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    html, labels = await landing_products(request, shop, snap, visit)
    return personalize(HTMLResponse(html), shop, visit, labels)


class LandingPaths(PrefixedPaths):
    """{landing_prefix}{slug}: the prefix is a setting, so it is matched against the shop's."""

    path = "/lp/{slug}"  # the route's name in metrics, whatever the prefix
    param = "slug"

    def prefix_of(self, settings: Settings) -> str:
        return str(settings.landing_prefix)


def explain_landing(shop: Shop, snap: Snapshot, visit: Visit) -> dict[str, Any]:
    """For `shopwindow explain`: the page this visit would get, as the headers would say it."""
    state = state_of(shop, snap)
    decision, plan = decide(state, visit)
    if isinstance(plan, str):
        return {"landing": REDIRECT, "redirect": plan}
    products, relaxed = select(snap.catalog, plan.products)
    shows: dict[str, Any] = {
        "landing": landing_header(plan, Page("", (), relaxed)),
        "headline": headline_of(state, plan, visit.campaign, shown_by_all(products)),
        "products": [p.id for p in products],
    }
    if plan.kind == TEASER:
        shows["next_drop"] = plan.next_drop.text if plan.next_drop else "none scheduled"
    if decision.rule is None:
        shows["unmatched"] = "no rule matched: counted for `shopwindow campaigns --unmatched`"
    return shows


# --- wiring ------------------------------------------------------------------------------


@dataclass(slots=True)
class LandingService:
    """The unmatched-campaign counts, the state answered from, and the task keeping it warm."""

    store: UnmatchedCampaigns
    # The state answered from, per market's view ("" for the shop's own prices).
    states: dict[str, LandingState] = field(default_factory=dict)
    warmer: asyncio.Task[None] | None = None  # warms new snapshots and writes the counts


def service_of(shop: Shop) -> LandingService:
    service = shop.services.landing
    if service is None:
        service = shop.services.landing = LandingService(unmatched_store(shop))
    return service


async def _start(shop: Shop) -> None:
    service = service_of(shop)
    snap = shop.snapshot
    if snap is not None:
        # Warm the filter index and vocabulary so the first ad click does not build them.
        service.states[""] = await asyncio.to_thread(warm_state, snap, shop.settings.languages)
    service.warmer = asyncio.create_task(upkeep(shop))


async def upkeep(shop: Shop) -> None:
    """Off the request path: warm each new snapshot, and write the unmatched counts."""
    service = service_of(shop)
    store = service.store
    loop = asyncio.get_running_loop()
    flushed = loop.time()
    while True:
        await asyncio.sleep(WARM_SECONDS)
        try:
            snap = shop.snapshot
            state = service.states.get("")
            if snap is not None and (state is None or state.snap is not snap):
                fresh = await asyncio.to_thread(warm_state, snap, shop.settings.languages)
                if shop.snapshot is snap:
                    service.states[""] = fresh
            if loop.time() - flushed >= FLUSH_SECONDS:
                flushed = loop.time()
                batch = store.take()
                if batch:
                    await asyncio.to_thread(store.write, batch)
        except Exception:  # upkeep must outlive any one bad snapshot
            log.exception("landing upkeep failed")


async def _stop(shop: Shop) -> None:
    service = service_of(shop)
    task, service.warmer = service.warmer, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.to_thread(service.store.flush)


def unmatched_store(shop: Shop) -> UnmatchedCampaigns:
    s = shop.settings
    return UnmatchedCampaigns(s.campaigns_db or default_path(s.rules, s.profile_db))


def install(shop: Shop, hooks: Hooks) -> LandingService:
    hooks.landing = landing_at_root
    hooks.context.append(read_campaign)
    hooks.fragments["landing-products"] = landing_products
    hooks.explain[PLACEMENT] = explain_landing
    hooks.on_start.append(_start)
    hooks.on_stop.append(_stop)
    return shop.services.landing or LandingService(unmatched_store(shop))


routes = [
    LandingPaths(landing_path),
    Route("/_sw/fragments/landing-products", landing_products_fragment, methods=["GET"]),
]
