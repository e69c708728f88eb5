"""Glue between a Starlette request and the service: the shop, the snapshot, the visit."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from http.cookies import _unquote
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request

from shopwindow.hooks import ContextHook
from shopwindow.rules.markets import Market, Markets
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor.context import Edge, RequestFacts, Visit, build_visit, declined, preview_of
from shopwindow.visitor.cookie import Visitor
from shopwindow.visitor.geo import country_of

_NO_QUERY: dict[str, str] = {}
# Headers a proxy chain may repeat; their values are joined, as RFC 9110 allows.
_JOINED = frozenset({"x-forwarded-for", "forwarded"})


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers as one lower-case dict, read once (Starlette's Headers scans per get)."""
    out: dict[str, str] = {}
    for key_bytes, value_bytes in raw:
        key = key_bytes.decode("latin-1").lower()
        value = value_bytes.decode("latin-1")
        if key in out:
            if key in _JOINED:
                out[key] = f"{out[key]}, {value}"
            elif key == "cookie":  # HTTP/2 may split cookies over several headers
                out[key] = f"{out[key]}; {value}"
            continue
        out[key] = value
    return out


def headers_of(request: Request) -> dict[str, str]:
    """The request's header map, built once per request (see header_map)."""
    scope = request.scope
    found: dict[str, str] | None = scope.get("shopwindow.headers")
    if found is None:
        found = scope["shopwindow.headers"] = header_map(scope["headers"])
    return found


def cookie_map(header: str | None) -> dict[str, str]:
    """The Cookie header as a dict, read as Starlette's `request.cookies` reads it.

    Parsed from the header map already built, instead of a second pass over
    the raw headers; a value is unquoted only when it is quoted.
    """
    out: dict[str, str] = {}
    if not header:
        return out
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", key
        key, value = key.strip(), value.strip()
        if key or value:
            out[key] = _unquote(value) if '"' in value or "\\" in value else value
    return out


def query_of(request: Request) -> dict[str, str]:
    """The query string as a dict (the last of a repeated name wins, as in Starlette's).

    Read as `request.query_params` reads it, without its multi-dict, and kept on
    the request so every part of one answer reads it once.
    """
    scope = request.scope
    found: dict[str, str] | None = scope.get("shopwindow.query")
    if found is not None:
        return found
    out: dict[str, str] = {}
    raw: bytes = scope.get("query_string", b"")
    if raw:
        for chunk in raw.decode("latin-1").split("&"):
            if not chunk:
                continue
            key, _, value = chunk.partition("=")
            if "%" in chunk or "+" in chunk:
                key, value = unquote_plus(key), unquote_plus(value)
            out[key] = value
    scope["shopwindow.query"] = out
    return out


def shop_of(request: Request) -> Shop:
    shop: Shop = request.scope["app"].shop
    return shop


def snapshot_of(request: Request) -> Snapshot:
    """The snapshot a request reads; with markets declared, its market's view (prices)."""
    shop = shop_of(request)
    snap, views = shop.current
    if snap is None:  # pragma: no cover - the app refuses to start without one
        raise RuntimeError("shop not loaded")
    if views:
        market = market_of(request, shop, snap)
        if market is not None:
            return views.get(market.prefix, snap)
    return snap


def market_of(request: Request, shop: Shop, snap: Snapshot) -> Market | None:
    """The request's market: the one its path names, else the visitor's country's (None: no markets)."""
    scope = request.scope
    if "shopwindow.market" in scope:
        found: Market | None = scope["shopwindow.market"]
        return found
    markets: Markets | None = snap.rules.data.get("markets")
    market = None
    if markets is not None:
        market = markets.for_path(scope["path"]) or markets.for_country(_country(request, shop))
    scope["shopwindow.market"] = market
    return market


def _country(request: Request, shop: Shop) -> str:
    """The visitor's country as build_visit finds it (the dev preview's, when it sets one)."""
    headers = headers_of(request)
    client = request.scope.get("client")
    peer = client[0] if client else None
    edge = shop.edge
    if edge.dev:
        preview = preview_of(query_of(request), cookie_map(headers.get("cookie")))
        if "country" in preview:
            return preview["country"]
    country, _ = country_of(
        headers,
        peer_trusted=peer is not None and edge.proxies.is_trusted(peer),
        ip=edge.proxies.client_ip(peer, headers.get("x-forwarded-for")),
        geoip=edge.geoip,
        header_names=edge.country_headers,
        default=edge.default_country,
    )
    return country


def scheme_of(shop: Shop, scope: Any, headers: dict[str, str], peer: str | None) -> str:
    """The visitor's scheme: a trusted proxy's X-Forwarded-Proto (it terminated TLS), else ours."""
    scheme: str = scope.get("scheme", "http")
    forwarded = headers.get("x-forwarded-proto")
    if forwarded and peer is not None and shop.edge.proxies.is_trusted(peer):
        # The proxy nearest to us appends last.
        proto = forwarded.rpartition(",")[2].strip().lower()
        if proto in ("http", "https"):
            return proto
    return scheme


def visit_of(request: Request, snap: Snapshot, *, for_rules: bool = True) -> Visit:
    """Who is asking: the request's facts plus the visitor from the signed cookie.

    `for_rules=False` skips the context rules read, for answers that decide nothing.
    """
    shop = shop_of(request)
    scope = request.scope
    headers = headers_of(request)
    cookies = cookie_map(headers.get("cookie"))
    now = int(time.time())
    consent = not declined(shop.edge, headers, cookies)
    visitor = shop.codec.decode(cookies.get(shop.settings.cookie_name)) if consent else None
    if visitor is None:
        visitor = Visitor.fresh(now)
        visitor.changed = consent
    else:
        visitor.touch(now, shop.settings.session_idle_minutes * 60)
    client = scope.get("client")
    peer = client[0] if client else None
    facts = RequestFacts(
        peer,
        headers,
        query_of(request) if scope.get("query_string") else _NO_QUERY,
        cookies,
        scope["path"],
        scheme_of(shop, scope, headers, peer),
    )
    return assemble_visit(shop, snap, facts, visitor, consent=consent, for_rules=for_rules)


def assemble_visit(
    shop: Shop,
    snap: Snapshot,
    facts: RequestFacts,
    visitor: Visitor,
    *,
    consent: bool,
    now: datetime | None = None,
    for_rules: bool = True,
    edge: Edge | None = None,
    skip: Sequence[ContextHook] = (),
) -> Visit:
    """The one way a visit is put together: for a request, `shopwindow explain` and the staff view.

    The context from the facts and the visitor (context.build_visit), the scheme,
    then every context hook (but those in `skip`) in the order installed.
    """
    visit = build_visit(
        edge or shop.edge,
        facts,
        visitor=visitor,
        consent=consent,
        catalog=snap.catalog,
        now=now,
        for_rules=for_rules,
    )
    if facts.scheme is not None:
        visit.ctx["scheme"] = facts.scheme
    markets: Markets | None = snap.rules.data.get("markets")
    if markets is not None:
        # As snapshot_of chose the market's view: by the path, else the visit's country.
        visit.ctx["market"] = markets.market_of(facts.path, visit.ctx["country"]).prefix
    for hook in shop.hooks.context:
        if hook not in skip:
            hook(shop, visit, snap)
    return visit
