"""Experiment results over HTTP, behind the stats token; and the counting wired into the shop.

- GET  /_sw/stats            JSON results (?since=YYYY-MM-DD&rule=ID)
- GET  /_sw/stats/report     the HTML report; without a valid token, a form asking for it
- POST /_sw/stats/report     the form: a valid token sets a cookie for the report
- GET  /_sw/stats/decisions  the decision log (?visitor=ID or ?customer=ID, &limit=N)

The token travels as `Authorization: Bearer <token>` or `X-Shopwindow-Token`;
the report's cookie holds an HMAC of the token, never the token itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from datetime import date
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from shopwindow.hooks import Hooks
from shopwindow.serve.request import header_map, shop_of
from shopwindow.serve.responses import JSONAnswer
from shopwindow.serve.throttle import too_many
from shopwindow.shop import Shop
from shopwindow.stats import report_page, results
from shopwindow.stats.counting import Recorder, record_events, record_exposures, recorder_of
from shopwindow.stats.open_store import open_store
from shopwindow.stats.results import Experiment, Thresholds
from shopwindow.stats.store import StatsLimits, Trace

log = logging.getLogger("shopwindow.stats")

REPORT_PATH = "/_sw/stats/report"
COOKIE = "sw_stats"
COOKIE_HOURS = 8
MAX_FORM_BYTES = 4096
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RULE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
_VISITOR = re.compile(r"^[A-Za-z0-9_.:@+=\-]{1,64}$")
_NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


class BadQuery(ValueError):
    pass


def thresholds(shop: Shop) -> Thresholds:
    s = shop.settings
    return Thresholds(min_visitors=int(s.stats_min_visitors), confidence=float(s.stats_confidence))


# --- the token ----------------------------------------------------------------------


def _given_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-shopwindow-token")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _cookie_value(shop: Shop) -> str:
    key = shop.settings.secret.encode()
    return hmac.new(
        key, b"stats-report:" + shop.settings.stats_token.encode(), hashlib.sha256
    ).hexdigest()


def _authorized(request: Request, shop: Shop, *, cookie: bool = False) -> bool:
    expected = shop.settings.stats_token
    if not expected:
        return False
    given = _given_token(request)
    if given is not None:
        if _same(given, expected):
            return True
        shop.token_throttle.failed(_peer(request, shop), "stats")
    if cookie and (value := request.cookies.get(COOKIE)):
        return _same(value, _cookie_value(shop))
    return False


def _peer(request: Request, shop: Shop) -> str:
    client = request.client
    # Every X-Forwarded-For header, joined, as the staff view and the pages read them.
    forwarded = header_map(request.scope["headers"]).get("x-forwarded-for")
    return shop.edge.proxies.client_ip(client.host if client else None, forwarded)


def _throttled(request: Request, shop: Shop) -> int:
    """Seconds this client must wait before its token is checked again (0: check it)."""
    return shop.token_throttle.wait(_peer(request, shop))


def _refusal(request: Request, shop: Shop) -> Response | None:
    if not shop.settings.stats_token:
        return JSONAnswer(
            {"error": "stats are off: set the stats_token setting (SHOPWINDOW_STATS_TOKEN)"},
            403,
            headers=_NO_STORE,
        )
    if wait := _throttled(request, shop):
        return JSONAnswer(
            {"error": f"too many wrong tokens from this address; try again in {wait} s"},
            429,
            headers=too_many(wait),
        )
    if not _authorized(request, shop):
        return JSONAnswer(
            {"error": "send the stats token as 'Authorization: Bearer <token>'"},
            401,
            headers={**_NO_STORE, "WWW-Authenticate": 'Bearer realm="shopwindow stats"'},
        )
    return None


# --- reading --------------------------------------------------------------------------


def _query(request: Request) -> tuple[str | None, str | None]:
    since = request.query_params.get("since") or None
    rule = request.query_params.get("rule") or None
    if since is not None:
        try:
            # YYYY-MM-DD only: fromisoformat alone also takes 20261207 and 2026-W49-1.
            if not _DATE.fullmatch(since):
                raise ValueError(since)
            since = date.fromisoformat(since).isoformat()
        except ValueError:
            raise BadQuery("since is a date: YYYY-MM-DD") from None
    if rule is not None and not _RULE_ID.match(rule):
        raise BadQuery("rule is a rule id: letters, digits, '-', '_' and '.'")
    return since, rule


def read_results(shop: Shop, since: str | None, rule: str | None) -> list[Experiment]:
    """Totals from the store (after writing what is queued), with their statistics."""
    recorder = recorder_of(shop)
    limits = recorder.limits if recorder else StatsLimits.from_settings(shop.settings, shop.tz)
    if recorder is not None:
        recorder.sync(2.0)
    store = open_store(shop.settings, limits)
    try:
        totals = store.totals(since, rule)
    finally:
        store.close()
    snap = shop.snapshot
    return results.build(totals, snap.rules if snap else None, thresholds(shop))


def read_traces(shop: Shop, visitor: str | None, customer: str | None, limit: int) -> list[Trace]:
    recorder = recorder_of(shop)
    limits = recorder.limits if recorder else StatsLimits.from_settings(shop.settings, shop.tz)
    if recorder is not None:
        recorder.sync(2.0)
    store = open_store(shop.settings, limits)
    try:
        return store.traces(visitor, customer, limit)
    finally:
        store.close()


async def stats_endpoint(request: Request) -> Response:
    shop = shop_of(request)
    if (refusal := _refusal(request, shop)) is not None:
        return refusal
    try:
        since, rule = _query(request)
    except BadQuery as exc:
        return JSONAnswer({"error": str(exc)}, 400, headers=_NO_STORE)
    try:
        experiments = await run_in_threadpool(read_results, shop, since, rule)
    except Exception as exc:
        return _unreachable(exc)
    body = results.to_json(experiments, thresholds(shop), since=since, rule=rule)
    return JSONAnswer(body, headers=_NO_STORE)


def _unreachable(exc: Exception) -> Response:
    log.warning("stats store unreachable: %s", exc)
    return JSONAnswer({"error": "the stats store is unreachable"}, 503, headers=_NO_STORE)


async def decisions_endpoint(request: Request) -> Response:
    shop = shop_of(request)
    if (refusal := _refusal(request, shop)) is not None:
        return refusal
    params = request.query_params
    visitor = params.get("visitor") or None
    customer = params.get("customer") or None
    for name, value in (("visitor", visitor), ("customer", customer)):
        if value is not None and not _VISITOR.match(value):
            return JSONAnswer({"error": f"{name} is an id of 1-64 characters"}, 400)
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 500:
        return JSONAnswer({"error": "limit is a whole number from 1 to 500"}, 400)
    try:
        traces = await run_in_threadpool(read_traces, shop, visitor, customer, limit)
    except Exception as exc:
        return _unreachable(exc)
    return JSONAnswer({"decisions": [t.to_json() for t in traces]}, headers=_NO_STORE)


async def report_endpoint(request: Request) -> Response:
    shop = shop_of(request)
    if not shop.settings.stats_token:
        return HTMLResponse(
            report_page.login("The report is off: set the stats_token setting."),
            403,
            headers=_PAGE_HEADERS,
        )
    if wait := _throttled(request, shop):
        page = report_page.login(f"Too many wrong tokens; try again in {wait} s.")
        return HTMLResponse(page, 429, headers={**_PAGE_HEADERS, **too_many(wait)})
    if request.method == "POST":
        return await _log_in(request, shop)
    if not _authorized(request, shop, cookie=True):
        return HTMLResponse(report_page.login(), 401, headers=_PAGE_HEADERS)
    try:
        since, rule = _query(request)
    except BadQuery as exc:
        return HTMLResponse(report_page.login(str(exc)), 400, headers=_PAGE_HEADERS)
    try:
        experiments = await run_in_threadpool(read_results, shop, since, rule)
    except Exception as exc:
        _unreachable(exc)
        page = "<!doctype html><title>shopwindow</title><p>The stats store is unreachable; try again shortly.</p>"
        return HTMLResponse(page, 503, headers=_PAGE_HEADERS)
    html = report_page.page(experiments, thresholds(shop), since, rule)
    return HTMLResponse(html, headers=_PAGE_HEADERS)


async def _log_in(request: Request, shop: Shop) -> Response:
    # Read up to the limit whatever the framing: a chunked body has no Content-Length.
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            message = "Send the form with the token."
            return HTMLResponse(report_page.login(message), 413, headers=_PAGE_HEADERS)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        message = "Send the form with the token."
        return HTMLResponse(report_page.login(message), 400, headers=_PAGE_HEADERS)
    token = (fields.get("token") or [""])[0]
    if not token or not _same(token, shop.settings.stats_token):
        shop.token_throttle.failed(_peer(request, shop), "stats report")
        return HTMLResponse(
            report_page.login("That token is not right."), 401, headers=_PAGE_HEADERS
        )
    response = RedirectResponse(REPORT_PATH, status_code=303)
    response.set_cookie(
        COOKIE,
        _cookie_value(shop),
        max_age=COOKIE_HOURS * 3600,
        path="/_sw/stats",
        secure=request.url.scheme == "https" or shop.settings.cookie_secure == "always",
        httponly=True,
        samesite="strict",
    )
    return response


# --- wiring ---------------------------------------------------------------------------


def install(shop: Shop, hooks: Hooks) -> Recorder:
    """Count exposures and events for every placement, flushed by a background thread."""
    hooks.exposures.append(record_exposures)
    hooks.events.append(record_events)
    hooks.on_start.append(_start)
    hooks.on_stop.append(_stop)
    return Recorder(shop.settings, StatsLimits.from_settings(shop.settings, shop.tz))


async def _start(shop: Shop) -> None:
    if (recorder := recorder_of(shop)) is not None:
        recorder.start()


async def _stop(shop: Shop) -> None:
    if (recorder := recorder_of(shop)) is not None:
        await asyncio.to_thread(recorder.stop)


routes = [
    Route("/_sw/stats", stats_endpoint, methods=["GET"]),
    Route("/_sw/stats/decisions", decisions_endpoint, methods=["GET"]),
    Route(REPORT_PATH, report_endpoint, methods=["GET", "POST"]),
]
