"""Who is this visitor: everything a rule may test, built once per request."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import orjson

from shopwindow.catalog.feed import Catalog, Product
from shopwindow.rules.clock import local_time
from shopwindow.rules.contextkeys import KEYS
from shopwindow.rules.rules import CRAWLER_ARMS
from shopwindow.visitor.channel import NO_CAMPAIGN, Campaign, campaign_of, channel_of, referrer_host
from shopwindow.visitor.cookie import MAX_CART, Visitor
from shopwindow.visitor.device import device_of, language_of
from shopwindow.visitor.geo import GeoIP, country_of
from shopwindow.visitor.network import TrustedProxies

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PREVIEW_PARAMS = ("sw_country", "sw_gender", "sw_device")


@dataclass(frozen=True, slots=True)
class Edge:
    """What the context builder needs from the running service (built once at start)."""

    proxies: TrustedProxies
    geoip: GeoIP | None
    country_headers: tuple[str, ...]
    default_country: str
    own_hosts: frozenset[str]
    timezone: tzinfo
    lead: float
    cart_cookie: str
    consent_cookie: str
    consent_decline: frozenset[str]
    honour_gpc: bool
    dev: bool


@dataclass(slots=True)
class Visit:
    """One request's visitor: where from, how, and what the cookie remembers."""

    ip: str
    country: str
    country_source: str
    device: str
    campaign: Campaign
    channel: str
    visitor: Visitor
    consent: bool
    now: datetime
    ctx: dict[str, Any]
    cart: list[list[Any]]
    preview: dict[str, str]
    preview_changed: bool = False  # the preview switch was used on this request (dev only)


_NO_PREVIEW: dict[str, str] = {}


@dataclass(slots=True)  # not frozen: one is made per request, and frozen ones cost 3× to build
class RequestFacts:
    """What a request says about its visitor, read once: the peer, the headers, the URL, the cookies."""

    peer: str | None  # the TCP peer's address
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    cookies: Mapping[str, str]
    path: str
    scheme: str | None = None  # as the visitor sees it; None when there is no request


def declined(edge: Edge, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
    """Whether the visitor said no to personalization (site consent cookie or Sec-GPC)."""
    if edge.consent_cookie:
        value = cookies.get(edge.consent_cookie)
        if value is not None and value.strip().lower() in edge.consent_decline:
            return True
    return edge.honour_gpc and headers.get("sec-gpc", "").strip() == "1"


def build_visit(
    edge: Edge,
    facts: RequestFacts,
    *,
    visitor: Visitor,
    consent: bool,
    catalog: Catalog,
    now: datetime | None = None,
    for_rules: bool = True,
) -> Visit:
    """The visit; `for_rules=False` leaves out the rules' context (the beacon decides nothing)."""
    peer, headers, query, cookies, path = (
        facts.peer,
        facts.headers,
        facts.query,
        facts.cookies,
        facts.path,
    )
    minute = None
    if now is None:
        epoch = time.time()
        now = datetime.fromtimestamp(epoch, UTC)
        minute = int(epoch) // 60  # what now.timestamp() would say, without asking it
    ip = edge.proxies.client_ip(peer, headers.get("x-forwarded-for"))
    trusted = peer is not None and edge.proxies.is_trusted(peer)
    country, source = country_of(
        headers,
        peer_trusted=trusted,
        ip=ip,
        geoip=edge.geoip,
        header_names=edge.country_headers,
        default=edge.default_country,
    )
    device = device_of(headers.get("user-agent"))
    campaign = campaign_of(query) if query else NO_CAMPAIGN
    referrer = headers.get("referer")
    channel = channel_of(campaign, referrer, edge.own_hosts)
    preview: dict[str, str] = _NO_PREVIEW  # read only: a preview is a dict of its own
    preview_changed = False
    if edge.dev:
        preview = _preview(query, cookies)
        preview_changed = any(key in query for key in PREVIEW_PARAMS)
        country = preview.get("country", country)
        device = preview.get("device", device)
    cart = _site_cart(cookies.get(edge.cart_cookie)) if edge.cart_cookie else None
    if cart is None:
        cart = visitor.cart
    ctx: dict[str, Any]
    if not for_rules:
        ctx = {"path": path, "country": country, "device": device}
    else:
        # Positional (in context_for's order): keyword calls cost a name match each.
        ctx = context_for(
            visitor,
            catalog,
            edge.lead,
            edge.timezone,
            now,
            cart,
            country,
            device,
            language_of(headers.get("accept-language")),
            channel,
            campaign,
            referrer_host(referrer),
            path,
            headers.get("host", "").partition(":")[0].lower()[:255],
            minute,
        )
        if "gender" in preview:
            ctx["visitor.gender"] = preview["gender"]
    return Visit(
        ip,
        country,
        source,
        device,
        campaign,
        channel,
        visitor,
        consent,
        now,
        ctx,
        cart,
        preview,
        preview_changed,
    )


def context_for(
    visitor: Visitor,
    catalog: Catalog,
    lead: float,
    tz: tzinfo,
    now: datetime,
    cart: list[list[Any]] | None = None,
    country: str = "",
    device: str = "desktop",
    language: str | None = None,
    channel: str = "direct",
    campaign: Campaign = NO_CAMPAIGN,
    referrer: str | None = None,
    path: str = "/",
    host: str = "",
    minute: int | None = None,
) -> dict[str, Any]:
    """The flat context rules test: request facts, the visitor, their cart.

    `minute` is `now` in whole minutes since the epoch, when the caller has it.
    """
    hour, weekday, day = _clock(now, tz, minute)
    # A copy of a dict with every key already in place is one allocation; setting
    # and updating keys it has never grows (and rehashes) the table.
    ctx = _ALL_KEYS.copy()
    ctx["country"] = country
    ctx["device"] = device
    ctx["language"] = language
    ctx["channel"] = channel
    ctx["referrer"] = referrer
    ctx["path"] = path
    ctx["host"] = host
    ctx["time"] = now
    ctx["hour"] = hour
    ctx["weekday"] = weekday
    ctx["day"] = day
    ctx["campaign.source"] = campaign.source
    ctx["campaign.medium"] = campaign.medium
    ctx["campaign.name"] = campaign.name
    ctx["campaign.term"] = campaign.term
    ctx["campaign.content"] = campaign.content
    ctx["campaign.click_id"] = campaign.click_id
    ctx["campaign.click_kind"] = campaign.click_kind
    ctx["campaign.present"] = campaign.present
    ctx.update(_visitor_keys(visitor, catalog, lead, visitor.cart if cart is None else cart))
    return ctx


# The visitor.* and cart.* keys, in contextkeys' order (_visitor_keys sets them so).
_VISITOR_KEYS = tuple(key for key in KEYS if key.startswith(("visitor.", "cart.")))
# Every key each visit's context has from the start, in contextkeys' order: those
# context_for sets, and those set right after it on every visit (profile.* by
# service.context_hook); then the scheme (request.visit_of), which no rule tests.
# In the copy, they make its table big enough, once, for all an answer adds
# (hooks, popup.*, product.*).
_ALL_KEYS: dict[str, Any] = dict.fromkeys(
    (*(path for path, key in KEYS.items() if key.every_visit), "scheme")
)


def _visitor_keys(
    visitor: Visitor, catalog: Catalog, lead: float, cart: list[list[Any]]
) -> dict[str, Any]:
    """The visitor.* and cart.* keys: the cart's totals, the leading affinities, the lists.

    Worked out once per verified cookie: an unchanged visitor (the codec's copy
    of a cookie it verified, before anything changed it) keeps them in
    `visitor.derived`, with the catalog and lead they were worked out for. Every
    answer for that cookie shares them, read only, as the rest of the context.
    """
    memo = visitor.derived
    if memo is not None and (visitor.changed or cart is not visitor.cart):
        memo = None  # a changed visitor, or the site's own cart: work it out afresh
    if memo and memo[0] == catalog.serial and memo[1] == lead:
        found: dict[str, Any] = memo[2]
        return found
    cart_categories: list[str] = []
    cart_value = 0.0
    cart_items = 0
    for pid, qty, price in cart:
        cart_items += qty
        cart_value += qty * price
        product = catalog.get(pid)
        if product is not None and product.category not in cart_categories:
            cart_categories.append(product.category)
    scores = visitor.category
    gender, gender_strength = _top(visitor.gender, lead)
    category, category_strength = _top(scores, lead)
    keys = {
        "visitor.id": visitor.id,
        "visitor.new": visitor.new,
        "visitor.sessions": visitor.sessions,
        "visitor.orders": visitor.orders,
        "visitor.gender": gender,
        "visitor.category": category,
        "visitor.gender_strength": gender_strength,
        "visitor.category_strength": category_strength,
        "visitor.categories": sorted(scores, key=scores.__getitem__, reverse=True),
        "visitor.viewed": visitor.viewed,
        "visitor.searches": visitor.searches,
        "visitor.bought_full_price": visitor.full_price,
        "visitor.purchased_this_session": bool(
            visitor.purchase_session and visitor.purchase_session == visitor.sessions
        ),
        "visitor.customer_id": visitor.customer_id,
        "cart.items": cart_items,
        "cart.value": round(cart_value, 2),
        "cart.categories": cart_categories,
        "cart.products": [line[0] for line in cart],
    }
    if memo is not None:
        memo[:] = (catalog.serial, lead, keys)
    return keys


def _clock(now: datetime, tz: tzinfo, minute: int | None = None) -> tuple[int, str, int]:
    """(hour, weekday, day of month) in the shop's time zone (clock.local_time)."""
    local = local_time(int(now.timestamp()) // 60 if minute is None else minute, tz)
    return local.hour, WEEKDAY_NAMES[local.weekday()], local.day


def _top(scores: dict[str, float], lead: float) -> tuple[str | None, float]:
    """The key holding at least `lead` of all the score, and its score (None, 0.0 if none)."""
    if not scores:
        return None, 0.0
    total = sum(scores.values())
    if total <= 0:
        return None, 0.0
    best = max(scores, key=scores.__getitem__)
    value = scores[best]
    return (best, value) if value / total >= lead else (None, 0.0)


def product_context(product: Product) -> dict[str, Any]:
    """The product.* keys rules may test on a product page (out-of-stock, popups)."""
    return {
        "product.id": product.id,
        "product.category": product.category,
        "product.gender": product.gender,
        "product.in_stock": product.in_stock,
        "product.price": product.price,
        "product.tier": product.tier,
    }


def _preview(query: Mapping[str, str], cookies: Mapping[str, str]) -> dict[str, str]:
    """The dev preview switch: ?sw_country=FR&sw_gender=men&sw_device=mobile (or its cookie)."""
    out: dict[str, str] = {}
    raw = cookies.get("sw_preview", "")
    for part in raw.split("&"):
        key, _, value = part.partition("=")
        if key in PREVIEW_PARAMS and value:
            out[key[3:]] = value
    for key in PREVIEW_PARAMS:
        if key in query:
            # An empty field of the preview bar ("(affinity)") clears what the cookie held.
            out[key[3:]] = query[key]
    clean: dict[str, str] = {}
    if (c := out.get("country", "")).isascii() and c.isalpha() and len(c) == 2:
        clean["country"] = c.upper()
    if out.get("gender") in ("women", "men", "kids"):
        clean["gender"] = out["gender"]
    if out.get("device") in ("mobile", "tablet", "desktop"):
        clean["device"] = out["device"]
    return clean


# The dev preview switch, for what must know the preview's country before the visit.
preview_of = _preview


def _site_cart(raw: str | None) -> list[list[Any]] | None:
    """The site's own cart cookie: JSON [{"product_id": "...", "quantity": 1, "price": 9.5}]."""
    if not raw or len(raw) > 4096:
        return None
    try:
        from urllib.parse import unquote

        data = orjson.loads(unquote(raw))
    except (orjson.JSONDecodeError, ValueError):
        return None
    if not isinstance(data, list):
        return None
    out: list[list[Any]] = []
    for item in data[:MAX_CART]:
        if not isinstance(item, dict):
            continue
        pid, qty, price = item.get("product_id"), item.get("quantity", 1), item.get("price", 0)
        if not isinstance(pid, str) or isinstance(qty, bool) or not isinstance(qty, int):
            continue
        if isinstance(price, bool) or not isinstance(price, int | float):
            continue
        out.append([pid[:64], max(1, min(qty, 99)), float(price)])
    return out


def arms_of(visit: Visit) -> Mapping[str, str]:
    """The split variants a visit keeps: its cookie's, or for a crawler every control arm."""
    return CRAWLER_ARMS if visit.device == "bot" else visit.visitor.buckets
