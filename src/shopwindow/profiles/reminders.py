"""Drop reminders: an identified shopper asks on a teaser page to hear when the drop opens."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import orjson
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopwindow.profiles.service import Profiles
from shopwindow.profiles.store import StoreUnavailable
from shopwindow.rules.rules import RuleSet
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import JSON_TYPE, RawAnswer, json_body
from shopwindow.visitor.context import Visit

PATH: Final = "/_sw/drops/reminders"
PRIVATE: Final = (b"cache-control", b"private, no-store")
# The teaser's button; shop.js sends it as JSON (a cross-site form cannot).
FORM: Final = (
    '<form class="remind" data-remind-drop="{drop}" action="{path}" method="post">'
    '<button type="submit">Remind me by email when it opens</button>'
    '<span class="remind-done" role="status" hidden>Done: we will email you when the drop'
    " opens.</span></form>"
)


def identified_customer(visit: Visit) -> str | None:
    """Who the shopper is to the shop, as the `identify` event linked them (None: unknown)."""
    if not visit.consent:
        return None
    return visit.visitor.customer_id or None


def is_drop(rules: RuleSet, drop: str) -> bool:
    """A drop is a scheduled rule: what a teaser names and counts down to."""
    rule = rules.rule(drop)
    return rule is not None and rule.schedule is not None


def remind_form(profiles: Profiles | None, rules: RuleSet, drop: str, visit: Visit) -> str:
    """The "remind me" button, only where it leads somewhere: a known customer, a store to keep it."""
    if not drop or profiles is None or identified_customer(visit) is None:
        return ""
    if not is_drop(rules, drop):
        return ""
    return str(Markup(FORM).format(drop=escape(drop), path=PATH))


def _answer(status: int, body: dict[str, Any]) -> Response:
    return RawAnswer(status, [JSON_TYPE, PRIVATE], json_body(body))


async def remind_endpoint(request: Request) -> Response:
    shop = shop_of(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _answer(415, {"error": 'send JSON: {"drop": "<the drop\'s rule id>"}'})
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > shop.settings.max_body_bytes:
            return _answer(413, {"error": f"body larger than {shop.settings.max_body_bytes} bytes"})
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    drop = payload.get("drop") if isinstance(payload, dict) else None
    if not isinstance(drop, str) or not drop:
        return _answer(400, {"error": 'send JSON: {"drop": "<the drop\'s rule id>"}'})
    snap = snapshot_of(request)
    if not is_drop(snap.rules, drop):
        return _answer(404, {"error": "no such drop"})
    visit = visit_of(request, snap, for_rules=False)
    customer = identified_customer(visit)
    if customer is None:
        return _answer(403, {"error": "only a signed-in customer can be reminded"})
    profiles = shop.services.profiles
    if profiles is None:
        return _answer(503, {"error": "no profile store to keep the reminder"})
    try:
        await asyncio.to_thread(profiles.store.remind, customer, drop, int(time.time()))
    except StoreUnavailable:
        return _answer(503, {"error": "the profile store did not answer; try again"})
    return _answer(200, {"drop": drop, "reminded": True})


routes = [Route(PATH, remind_endpoint, methods=["POST"])]
