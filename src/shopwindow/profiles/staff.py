"""The store associate's view: one customer's profile, read-only, behind the staff token.

- GET  /_sw/staff                          the search form
- POST /_sw/staff/search                   `email=...` in the form body: that customer's page
- GET  /_sw/staff/customers/{customer_id}  the customer's page (JSON with Accept: application/json)

The operator sets `staff_token` (SHOPWINDOW_STAFF_TOKEN); without it every staff path
answers 404. The token travels as `Authorization: Bearer <token>` or as the password of
HTTP basic auth (the user name is then who is asking; `X-Staff-Name` says it for bearer
clients). No credentials: 401; wrong ones: 403; compared in constant time. An email
only ever travels in a POST body, is hashed with the profile store's keyed hash at
once, and is never logged. Every access is written to the access table (and a log
line) before any customer data is sent; when that write fails, nothing is shown.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from shopwindow.hooks import Hooks
from shopwindow.profiles import associate
from shopwindow.profiles import service as profiles
from shopwindow.profiles.associate import CustomerView
from shopwindow.profiles.open_store import open_store
from shopwindow.profiles.staffaccess import Access, AccessLog, open_access_log
from shopwindow.profiles.store import ProfileStore, StoreUnavailable, customer_for_email_address
from shopwindow.serve.request import header_map, shop_of, snapshot_of
from shopwindow.serve.responses import wants_json
from shopwindow.serve.throttle import too_many
from shopwindow.shop import Shop, Snapshot

log = logging.getLogger("shopwindow.staff")

TEMPLATE: Final = "staff.html"
REALM: Final = 'Basic realm="shopwindow staff", charset="UTF-8"'
MAX_FORM_BYTES: Final = 4096
MAX_NAME: Final = 80
VIA_ID: Final = "customer id"
VIA_EMAIL: Final = "email search"
_CUSTOMER_ID: Final = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,64}$")  # as the beacon's identify
_UNPRINTABLE: Final = re.compile(r"[\x00-\x1f\x7f]")
HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self' https:; "
    "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


# --- who is asking ------------------------------------------------------------------------


def credentials(request: Request) -> tuple[str | None, str | None]:
    """(token, user name) from `Authorization`: a bearer token or basic auth's password."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None, None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        user, sep, password = decoded.partition(":")
        return (password or None, user or None) if sep else (None, None)
    return None, None


def same_token(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths: both sides are hashed to one size first."""
    a = hashlib.sha256(given.encode("utf-8", "replace")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def staff_name(request: Request, user: str | None) -> str:
    """Who is asking, as the access table keeps it: X-Staff-Name, else the basic-auth user."""
    name = request.headers.get("x-staff-name") or user or "unnamed"
    name = _UNPRINTABLE.sub("", name).strip()[:MAX_NAME]
    return name or "unnamed"


def refusal(request: Request, shop: Shop) -> tuple[Response | None, str]:
    """None and who is asking when the request may see the staff view, else the refusal."""
    expected = shop.settings.staff_token
    if not expected:
        # Not configured: the staff view does not exist.
        return PlainTextResponse("Not Found", 404, headers=HEADERS), ""
    token, user = credentials(request)
    if token is None:
        return PlainTextResponse(
            "The staff view needs the staff token (basic auth password or Bearer token).",
            401,
            headers={**HEADERS, "WWW-Authenticate": REALM},
        ), ""
    throttle = shop.token_throttle
    peer = peer_of(request, shop)
    wait = throttle.wait(peer)
    if wait:
        # Not even compared: guessing from this address has stopped for a while.
        return PlainTextResponse(
            f"Too many wrong tokens from this address; try again in {wait} s.",
            429,
            headers={**HEADERS, **too_many(wait)},
        ), ""
    if not same_token(token, expected):
        throttle.failed(peer, "staff view")
        return PlainTextResponse("Wrong staff token.", 403, headers=HEADERS), ""
    return None, staff_name(request, user)


def peer_of(request: Request, shop: Shop) -> str:
    client = request.client
    headers = header_map(request.scope["headers"])
    return shop.edge.proxies.client_ip(
        client.host if client else None, headers.get("x-forwarded-for")
    )


# --- the stores ---------------------------------------------------------------------------


@dataclass(slots=True)
class StaffService:
    """The staff view's own store and access log, opened on first use."""

    store: ProfileStore | None = None
    access: AccessLog | None = None


def service_of(shop: Shop) -> StaffService:
    service = shop.services.staff
    if service is None:
        service = shop.services.staff = StaffService()
    return service


def store_of(shop: Shop) -> ProfileStore:
    """A store with patient timeouts: the staff view may wait where a shopper's page may not."""
    service = service_of(shop)
    if service.store is None:
        service.store = open_store(shop.settings, for_requests=False)
    return service.store


def access_log_of(shop: Shop) -> AccessLog:
    service = service_of(shop)
    if service.access is None:
        service.access = open_access_log(shop.settings)
    return service.access


def record(shop: Shop, who: str, customer_id: str, via: str, peer: str) -> None:
    """The access line and the table entry; raises StoreUnavailable if the table refuses it."""
    shown = customer_id or "(no match)"
    log.info("staff access: %s opened customer %s via %s from %s", who, shown, via, peer)
    access_log_of(shop).record(Access(time.time(), who, customer_id, via, peer))


def read_view(shop: Shop, snap: Snapshot, customer_id: str) -> CustomerView | None:
    store = store_of(shop)
    profile = store.get(customer_id)
    if profile is None:
        return None
    orders = store.orders(customer_id)
    return associate.customer_view(
        shop, snap, profile, orders, int(time.time()), skip=(profiles.context_hook,)
    )


# --- answers ------------------------------------------------------------------------------


def page(shop: Shop, status: int = 200, **context: Any) -> HTMLResponse:
    html = shop.templates.get_template(TEMPLATE).render(**context)
    return HTMLResponse(html, status, headers=HEADERS)


async def show(request: Request, shop: Shop, who: str, customer_id: str, via: str) -> Response:
    snap = snapshot_of(request)
    peer = peer_of(request, shop)
    try:
        # The access is on record before anything about the customer is read or sent.
        await run_in_threadpool(record, shop, who, customer_id, via, peer)
        view = await run_in_threadpool(read_view, shop, snap, customer_id) if customer_id else None
    except StoreUnavailable as exc:
        log.error("staff view unavailable: %s", exc)
        return PlainTextResponse(
            "The profile store or the access table is not reachable; nothing is shown.",
            503,
            headers={**HEADERS, "Retry-After": "5"},
        )
    if wants_json(request):
        if view is None:
            body = {"error": "no customer found", "customer_id": customer_id or None}
            return Response(orjson.dumps(body), 404, media_type="application/json", headers=HEADERS)
        return Response(
            orjson.dumps(view.to_json()), media_type="application/json", headers=HEADERS
        )
    if view is None:
        message = (
            f"No profile for customer {customer_id}."
            if customer_id
            else "No customer with that email."
        )
        return page(shop, 404, who=who, message=message)
    return page(
        shop,
        who=who,
        customer=view.to_json(),
        offer_text=associate.offer_text(view.offer),
    )


async def search_form(request: Request) -> Response:
    shop = shop_of(request)
    refused, who = refusal(request, shop)
    if refused is not None:
        return refused
    return page(shop, who=who)


async def customer_page(request: Request) -> Response:
    shop = shop_of(request)
    refused, who = refusal(request, shop)
    if refused is not None:
        return refused
    if cross_site(request):
        # An <img> or link on another site: no page, and no access on record.
        return PlainTextResponse("Cross-site requests are refused.", 403, headers=HEADERS)
    customer_id = request.path_params["customer_id"]
    if not _CUSTOMER_ID.match(customer_id):
        return page(shop, 404, who=who, message="That is not a customer id.")
    return await show(request, shop, who, customer_id, VIA_ID)


async def search(request: Request) -> Response:
    """POST /_sw/staff/search: the email arrives in the body only, and is hashed at once."""
    shop = shop_of(request)
    refused, who = refusal(request, shop)
    if refused is not None:
        return refused
    if cross_site(request):
        return PlainTextResponse("Cross-site form posts are refused.", 403, headers=HEADERS)
    if request.query_params:
        # An email in a URL would sit in proxy and browser logs: refuse, and say how.
        return PlainTextResponse(
            "Send the email in the form body (POST), never in the URL.", 400, headers=HEADERS
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return PlainTextResponse("Form too large.", 413, headers=HEADERS)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return page(shop, 400, who=who, message="Send the form with an email address.")
    email = (fields.get("email") or [""])[0].strip()
    if "@" not in email or len(email) > 254:
        return page(shop, 400, who=who, message="Type the customer's email address.")
    find = partial(customer_for_email_address, store_of(shop), email, shop.settings)
    del email, fields, body  # nothing below may log, store or echo it
    try:
        customer_id = await run_in_threadpool(find)
    except StoreUnavailable as exc:
        log.error("staff search unavailable: %s", exc)
        return PlainTextResponse(
            "The profile store is not reachable.", 503, headers={**HEADERS, "Retry-After": "5"}
        )
    return await show(request, shop, who, customer_id or "", VIA_EMAIL)


def cross_site(request: Request) -> bool:
    """A request another site made the browser send (with its cached basic auth): refuse it.

    Sec-Fetch-Site decides when the browser sends it (same-origin or none: typed,
    bookmarked, our own form). Only without it is Origin read: our pages say
    `Referrer-Policy: no-referrer`, so a browser posts our own form with
    `Origin: null`, and that alone must not refuse it. Scripts that send
    neither header (a Bearer token from a terminal) are not a browser: let through.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return urlsplit(origin).netloc.lower() != host.lower()
    return origin == "null"


# --- wiring -------------------------------------------------------------------------------


async def _stop(shop: Shop) -> None:
    service = service_of(shop)
    closables: list[ProfileStore | AccessLog | None] = [service.store, service.access]
    service.store = service.access = None
    for closable in closables:
        if closable is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(closable.close)


def install(shop: Shop, hooks: Hooks) -> StaffService:
    hooks.on_stop.append(_stop)
    return shop.services.staff or StaffService()


routes = [
    Route("/_sw/staff", search_form, methods=["GET"]),
    Route("/_sw/staff/search", search, methods=["POST"]),
    Route("/_sw/staff/customers/{customer_id}", customer_page, methods=["GET"]),
]
