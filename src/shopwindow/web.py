"""Glue between a Starlette request and the service: the shop, the snapshot, the visit."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from shopwindow.context import Visit, build_visit, declined
from shopwindow.shop import Shop, Snapshot
from shopwindow.visitor import Visitor


def shop_of(request: Request) -> Shop:
    shop: Shop = request.app.state.shop
    return shop


def snapshot_of(request: Request) -> Snapshot:
    snap = shop_of(request).snapshot
    if snap is None:  # pragma: no cover - the app refuses to start without one
        raise RuntimeError("shop not loaded")
    return snap


def visit_of(request: Request, snap: Snapshot, **extra: Any) -> Visit:
    """Who is asking: the request's facts plus the visitor from the signed cookie."""
    shop = shop_of(request)
    headers = request.headers
    cookies = request.cookies
    now = int(time.time())
    consent = not declined(shop.edge, headers, cookies)
    visitor = shop.codec.decode(cookies.get(shop.settings.cookie_name)) if consent else None
    if visitor is None:
        visitor = Visitor.fresh(now)
        visitor.changed = consent
    else:
        visitor.touch(now, shop.settings.session_idle_minutes * 60)
    client = request.client
    visit = build_visit(
        shop.edge,
        peer=client.host if client else None,
        headers=headers,
        query=request.query_params,
        cookies=cookies,
        path=request.url.path,
        visitor=visitor,
        consent=consent,
        catalog=snap.catalog,
    )
    visit.ctx["scheme"] = request.url.scheme
    for hook in shop.extensions.get("context_hooks", ()):
        hook(shop, visit, snap)
    return visit
