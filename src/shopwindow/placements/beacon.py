"""POST /_sw/events: the site's beacon, folded into the visitor cookie it answers with.

`identify` links the device to a customer only with the shop backend's proof
(visitor/identity.py); a refused claim is an error in the answer and changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopwindow.serve import metrics
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import JSON_TYPE, JSONAnswer, RawAnswer, json_body, personalize
from shopwindow.shop import Shop
from shopwindow.visitor.context import Visit
from shopwindow.visitor.events import EVENT_TYPES, Event, EventError, apply, parse_event
from shopwindow.visitor.identity import IdentityRefused


async def events_endpoint(request: Request) -> Response:
    shop = shop_of(request)
    settings = shop.settings
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_body_bytes:
            return JSONAnswer({"error": f"body larger than {settings.max_body_bytes} bytes"}, 413)
    try:
        payload: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        return JSONAnswer({"error": f"body is not JSON: {exc}"}, 400)
    raws = payload if isinstance(payload, list) else [payload]
    if payload is None or not raws:
        return JSONAnswer({"error": "send an event object or a list of them"}, 400)
    if len(raws) > settings.max_events:
        return JSONAnswer({"error": f"at most {settings.max_events} events per call"}, 413)
    snap = snapshot_of(request)
    visit = visit_of(request, snap, for_rules=False)
    now = int(time.time())
    errors: list[dict[str, Any]] = []
    accepted: list[Event] = []
    count = 0
    for index, raw in enumerate(raws):
        try:
            event = parse_event(raw, snap.catalog)
            if event.type == "identify":
                shop.identity.verify(event.customer_id or "", event.user_hash, event.token, now)
        except (EventError, IdentityRefused) as exc:
            kind = raw.get("type") if isinstance(raw, dict) else None
            # Only known types become labels: every made-up type would be a new
            # time series, and memory that grows with what visitors send.
            label = kind if kind in EVENT_TYPES else ("unknown" if kind else "invalid")
            metrics.count_event(label, "rejected")
            errors.append({"index": index, "error": str(exc)})
            continue
        if visit.consent:
            linked = visit.visitor.customer_id
            if event.type in _LINKS and linked and accepted and event.customer_id != linked:
                # What came before a sign-out or a switch is the first customer's alone.
                _sink(shop, visit, accepted)
                accepted = []
            apply(visit.visitor, event, snap.catalog, shop.weights, now)
        accepted.append(event)
        count += 1
        metrics.count_event(event.type, "accepted")
    if visit.consent:
        _sink(shop, visit, accepted)
    body_out = {"accepted": count, "errors": errors}
    response = RawAnswer(400 if errors else 200, [JSON_TYPE], json_body(body_out))
    return personalize(response, shop, visit)


_LINKS = frozenset({"identify", "logout"})


def _sink(shop: Shop, visit: Visit, events: list[Event]) -> None:
    for sink in shop.hooks.events:
        sink(shop, visit, events)


routes = [Route("/_sw/events", events_endpoint, methods=["POST"])]
