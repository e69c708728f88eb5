"""Origin proxy mode: stand in front of the whole site, fill its slots, and never break it.

`shopwindow serve --origin URL` answers `/`, landing pages and `/_sw/*` itself
and fetches every other path from the origin: the shopper's own headers and
cookies go along (minus shopwindow's cookie and hop-by-hop headers), and the
origin's answer comes back with its status, headers and every Set-Cookie. An
HTML page's `data-sw-slot` slots are filled with this visitor's fragments; if
any of that fails or is late, the page goes out as the origin sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from cachetools import LRUCache, TLRUCache
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send
from yarl import URL

from shopwindow.hooks import Hooks
from shopwindow.origin.forwarding import (
    SHARED_CACHE_OVERRIDES,
    Headers,
    Hop,
    header_tokens,
    request_headers,
    response_headers,
    rewritten,
)
from shopwindow.origin.inflight import InFlight, Ticket
from shopwindow.origin.sharedcache import (
    CookieList,
    VaryNames,
    VaryValues,
    request_accepts_stored,
    request_may_share,
    shared_lifetime,
    vary_names,
    vary_values,
)
from shopwindow.origin.slots import Page, charset_of, parse_page, script_tag
from shopwindow.pages.storefront import decide_homepage
from shopwindow.serve import metrics
from shopwindow.serve.request import shop_of, snapshot_of, visit_of
from shopwindow.serve.responses import personalize, redirect, safe_path
from shopwindow.settings import Settings
from shopwindow.shop import Shop
from shopwindow.visitor.context import Visit
from shopwindow.visitor.tracking import split_query

try:
    import brotli  # type: ignore[import-untyped]
except ImportError:  # br pages are then passed through untouched
    brotli = None

log = logging.getLogger("shopwindow.origin")

MAX_PAGE_BYTES = 2 * 1024 * 1024  # a larger page is streamed through untouched
CHUNK = 64 * 1024
SERVICE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
REFUSED_METHODS = frozenset({"CONNECT", "TRACE"})  # TRACE would echo the shopper's cookies
HTML_TYPES = ("text/html", "application/xhtml+xml")
# The origin's path and query (without tracking parameters), forwarded host and scheme.
CacheKey = tuple[bytes, str, str]
StoreKey = tuple[CacheKey, VaryValues]  # one stored variant of that URL


@dataclass(frozen=True, slots=True)
class CachedPage:
    page: Page
    headers: Headers
    vary: VaryNames
    lifetime: float


class OriginResponse(StreamingResponse):
    """An origin answer streamed to the shopper: raw headers kept (several Set-Cookie), upstream closed."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        status: int,
        headers: Headers,
        upstream: aiohttp.ClientResponse | None = None,
        ticket: Ticket | None = None,
    ) -> None:
        super().__init__(body, status_code=status)
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.upstream = upstream
        self.ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                if self.upstream is not None:
                    # Back to the pool when read to the end; closed when the shopper left early.
                    self.upstream.release()
            finally:
                if self.ticket is not None:
                    self.ticket.release()


class PageResponse(Response):
    """A page held whole (filled, or from the cache): sent with its length, in a few large pieces.

    Its headers depend on the fragments in it, so nothing can leave before the
    page is complete; a chunked stream would only add cost (half the throughput
    in the benchmark) without an earlier first byte.
    """

    def __init__(self, parts: Iterable[bytes], status: int, headers: Headers) -> None:
        self.status_code = status
        self.background = None
        self.pieces = _coalesced(parts)
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        length = sum(len(piece) for piece in self.pieces)
        self.raw_headers.append((b"content-length", str(length).encode("latin-1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.pieces) - 1
        for index, piece in enumerate(self.pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": index < last})
        if not self.pieces:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class OriginProxy:
    """The origin connections (one pool per worker, no cookie jar) and the shared cache of pages."""

    def __init__(self, settings: Settings) -> None:
        base = urlsplit(str(settings.origin))
        self.base_path = base.path.rstrip("/").encode("ascii")
        self.authority = f"{base.scheme}://{base.netloc}"
        seconds = float(settings.origin_timeout)
        # Waiting for a pooled connection counts as connecting; reading has the whole time.
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=seconds, sock_connect=min(seconds, 3.0), sock_read=seconds
        )
        self.slot_timeout = float(settings.slot_timeout)
        self.paths = tuple(settings.origin_paths)
        self.exclude = ("/_sw/", *settings.origin_exclude)
        self.shared_cookies = CookieList(settings.origin_shared_cookies)
        self.cache_seconds = float(settings.origin_cache_seconds)
        self.connections = int(settings.origin_connections)
        self.gate = InFlight(
            self.connections,
            int(settings.origin_client_requests),
            int(settings.origin_path_requests),
        )
        self.log_queries = bool(settings.origin_log_queries)
        pages = max(1, int(settings.origin_cache_pages))
        self.cache: TLRUCache[StoreKey, CachedPage] = TLRUCache(
            maxsize=pages,
            ttu=lambda _key, entry, now: now + entry.lifetime,
            timer=time.monotonic,
        )
        # Which request headers each URL's answer varies on: where to look for its variant.
        self.variants: LRUCache[CacheKey, VaryNames] = LRUCache(maxsize=pages)
        self.script = script_tag().encode()
        self._session: aiohttp.ClientSession | None = None
        # Pages on their way from the origin that may be stored: set once they are.
        self.fetching: dict[CacheKey, asyncio.Event] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The connection pool: no cookie jar, no redirects followed, nothing added or decoded.

        A client that kept cookies would send one shopper's session with the next
        shopper's request; one that followed redirects would parse each Location
        (and fail on one it cannot parse). Bodies arrive as the origin sent them:
        only a page whose slots are filled is decoded (`_body`), everything else
        goes to the shopper byte for byte with its Content-Encoding. aiohttp is
        the client because it costs the least per page (docs/origin-proxy.md).
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, limit_per_host=0),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=self.timeout,
                auto_decompress=False,
                # The shopper's own headers go as they are: none of the client's defaults.
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trust_env=False,
                requote_redirect_url=False,
            )
        return self._session

    async def start(self, shop: Shop) -> None:
        self.session  # noqa: B018 - open the pool before the first shopper arrives

    async def stop(self, shop: Shop) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def proxies(self, path: str) -> bool:
        if self.paths and not path.startswith(self.paths):
            return False
        return not path.startswith(self.exclude)

    def target(self, raw_path: bytes, query: bytes) -> bytes:
        """The origin's path and query for this request (a cache hit needs no URL object)."""
        target = self.base_path + raw_path
        if query and b"?" not in raw_path:
            target += b"?" + query
        return target

    def cached(self, key: CacheKey, sent: Headers) -> CachedPage | None:
        """The stored variant of this URL whose varied headers are this request's, if any."""
        names = self.variants.get(key)
        if names is None:
            return None
        entry = self.cache.get((key, vary_values(sent, names)))
        if entry is None or entry.vary != names:
            return None
        return entry

    def store(self, key: CacheKey, sent: Headers, entry: CachedPage) -> None:
        self.variants[key] = entry.vary
        self.cache[(key, vary_values(sent, entry.vary))] = entry

    def shown(self, raw_path: bytes, query: bytes) -> str:
        """A URL as the log shows it: query strings carry e-mails and tokens, so not by default."""
        path = raw_path.decode("latin-1")
        return f"{path}?{query.decode('latin-1')}" if query and self.log_queries else path

    async def answer(
        self,
        request: Request,
        shop: Shop,
        *,
        path: bytes | None = None,
        visit: Visit | None = None,
        labels: Sequence[str] = (),
    ) -> Response:
        """The origin's answer to this request (for `path` instead of the request's own, if given)."""
        method = request.method
        if method in REFUSED_METHODS:
            return PlainTextResponse("Method not allowed", 405)
        if "shopwindow" in request.headers.get("via", ""):
            # The origin URL points back at shopwindow: stop before the loop eats every socket.
            log.error("origin %s sends requests back to shopwindow", self.authority)
            return PlainTextResponse("Loop detected: the origin URL points at shopwindow", 508)
        scope = request.scope
        peer = request.client.host if request.client else None
        proxies = shop.edge.proxies
        hop = Hop(
            peer=peer,
            trusted=peer is not None and proxies.is_trusted(peer),
            scheme=scope.get("scheme", "http"),
            host=request.headers.get("host", ""),
            cookie_name=shop.settings.cookie_name,
            country_headers=shop.edge.country_headers,
        )
        sent = request_headers(scope["headers"], hop)
        raw_path = path or _raw_path(scope)
        query: bytes = scope.get("query_string", b"")
        target = self.target(raw_path, query)
        shown = self.shown(raw_path, query)
        key: CacheKey | None = None
        tracked: list[str] = []
        waited = False
        if (
            method == "GET"
            and self.cache_seconds > 0
            and not rewritten(sent)
            and request_may_share(sent, self.shared_cookies)
        ):
            kept, tracked = split_query(query)
            key = (
                self.target(raw_path, kept),
                _first(sent, "x-forwarded-host"),
                _first(sent, "x-forwarded-proto"),
            )
            if request_accepts_stored(sent):
                cached = self.cached(key, sent)
                fetching = self.fetching.get(key)
                if cached is None and fetching is not None and key in self.variants:
                    cached = await self.stored_meanwhile(fetching, key, sent)
                    waited = True
                if cached is not None:
                    metrics.ORIGIN.labels("cached").inc()
                    log.debug("%s %s: from the shared cache", method, shown)
                    return await self.fill(
                        request, shop, cached.page, cached.headers, visit, labels
                    )
        forwarded = ", ".join(request.headers.getlist("x-forwarded-for")) or None
        client = proxies.client_ip(peer, forwarded)
        # The first request for a page that may be stored lets others wait for it.
        leads = key if key is not None and not waited and key not in self.fetching else None
        if leads is not None:
            self.fetching[leads] = asyncio.Event()
        try:
            ticket = self.gate.admit(client, raw_path.decode("latin-1"))
            if ticket is None:
                metrics.ORIGIN.labels("refused").inc()
                log.warning(
                    "%s %s: %s, answered 503",
                    method,
                    shown,
                    self.gate.refusal(client, raw_path.decode("latin-1")),
                )
                return busy(_has_body(request))
            try:
                return await self._fetch(
                    request, shop, method, target, shown, sent, key, tracked, ticket, visit, labels
                )
            except BaseException:
                ticket.release()
                raise
        finally:
            if leads is not None:
                self.fetching.pop(leads).set()  # stored by now, if it may be shared

    async def stored_meanwhile(
        self, fetching: asyncio.Event, key: CacheKey, sent: Headers
    ) -> CachedPage | None:
        """The page another shopper's request is fetching, once it is stored, if it is for this one.

        When a stored page expires, every shopper asking for it until the new copy
        arrives would go to the origin: a burst of requests for one path (from one
        address, when they come through a CDN) that the shares in InFlight would
        refuse. They wait for the request under way instead, no longer than the
        origin may take, and fetch for themselves only when its answer could not
        be stored for them. Only for pages that were stored before: for a page
        that was personal, waiting would only add a round trip.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout.sock_read):
                await fetching.wait()
        return self.cached(key, sent)

    async def _fetch(
        self,
        request: Request,
        shop: Shop,
        method: str,
        target: bytes,
        shown: str,
        sent: Headers,
        key: CacheKey | None,
        tracked: list[str],
        ticket: Ticket,
        visit: Visit | None,
        labels: Sequence[str],
    ) -> Response:
        # The path and query exactly as the shopper sent them: nothing re-quoted.
        url = URL(self.authority + target.decode("latin-1"), encoded=True)
        body = request.stream() if _has_body(request) else None
        try:
            upstream = await self.session.request(
                method, url, headers=sent, data=body, allow_redirects=False
            )
        except TimeoutError:
            ticket.release()
            metrics.ORIGIN.labels("timeout").inc()
            log.warning("origin timed out: %s %s", method, shown)
            return unavailable(504)
        except aiohttp.ClientError as exc:
            ticket.release()
            if isinstance(exc.__cause__, ClientDisconnect):
                # The shopper stopped sending the body, not the origin failing: that
                # ends as any disconnect does (bodydeadline.py logs it).
                raise exc.__cause__ from None
            metrics.ORIGIN.labels("unreachable").inc()
            log.warning("origin unreachable: %s %s: %s", method, shown, type(exc).__name__)
            return unavailable(502)
        metrics.ORIGIN.labels("fetched").inc()
        log.debug("%s %s: origin answered %d", method, shown, upstream.status)
        try:
            return await self._relay(
                request, shop, upstream, sent, key, tracked, ticket, visit, labels
            )
        except BaseException:
            upstream.close()
            raise

    async def _relay(
        self,
        request: Request,
        shop: Shop,
        upstream: aiohttp.ClientResponse,
        sent: Headers,
        key: CacheKey | None,
        tracked: list[str],
        ticket: Ticket,
        visit: Visit | None,
        labels: Sequence[str],
    ) -> Response:
        received = self._relocated(response_headers(_decoded(upstream.raw_headers)))
        if not _fillable(request.method, upstream.status, received):
            return OriginResponse(
                upstream.content.iter_chunked(CHUNK), upstream.status, received, upstream, ticket
            )
        # Decoded from here on: the shopper gets the page uncompressed (the server or
        # CDN in front compresses), so the origin's length and encoding no longer hold.
        plain = [(k, v) for k, v in received if k not in ("content-length", "content-encoding")]
        chunks: list[bytes] = []
        size = 0
        stream = _body(upstream.content, _first(received, "content-encoding"))
        async for chunk in stream:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_PAGE_BYTES:
                return OriginResponse(_resume(chunks, stream), 200, plain, upstream, ticket)
        upstream.release()
        ticket.release()
        raw = b"".join(chunks)
        charset = charset_of(_first(received, "content-type"), raw[:2048])
        if charset is None:
            return PageResponse([raw], 200, plain)
        page = parse_page(raw, charset)
        if key is not None:
            lifetime = shared_lifetime(received, self.cache_seconds)
            # A page that repeats a click id it was asked with would hand it to others.
            if lifetime > 0 and not _echoes(raw, tracked):
                self.store(key, sent, CachedPage(page, plain, vary_names(received), lifetime))
        return await self.fill(request, shop, page, plain, visit, labels)

    async def fill(
        self,
        request: Request,
        shop: Shop,
        page: Page,
        headers: Headers,
        visit: Visit | None,
        labels: Sequence[str],
    ) -> Response:
        """The page with this visitor's fragments in its slots; as the origin sent it if that fails."""
        fragments = shop.hooks.fragments
        wanted = [name for name in page.slots if name in fragments]
        budget = asyncio.timeout(self.slot_timeout)
        try:
            if not wanted and not labels:
                # Nothing personal: the same page for everyone, so the origin's cache
                # headers still hold; only the script tag was added.
                if not page.injects:
                    return PageResponse([page.raw], 200, headers)
                return PageResponse(page.fill({}, self.script), 200, _weak_validators(headers))
            snap = snapshot_of(request)
            visit = visit or visit_of(request, snap)
            async with budget:
                # One after the other: fragments are built from memory, so tasks to run
                # them side by side would only add turns of the event loop.
                results = [await fragments[n](request, shop, snap, visit) for n in wanted]
            fills: dict[str, bytes] = {}
            decided = list(labels)
            for name, (html, names) in zip(wanted, results, strict=True):
                fills[name] = html.encode(page.charset, "xmlcharrefreplace")
                decided.extend(names)
            response = PageResponse(page.fill(fills, self.script), 200, _private(headers))
            personalize(response, shop, visit, decided)
            _keep_vary(response, headers)
            return response
        except Exception:
            metrics.DEGRADED.labels("slots").inc()
            if budget.expired():
                # Late is the load, not a fault: one line, no traceback to format while busy.
                log.warning("slots of %s late; serving the origin's page", request.url.path)
            else:
                log.warning(
                    "slots of %s not filled; serving the origin's page",
                    request.url.path,
                    exc_info=True,
                )
            if not labels:
                return PageResponse([page.raw], 200, headers)
            # Still the page decided for this visitor: no shared cache may keep it.
            untouched = PageResponse([page.raw], 200, _private(headers))
            untouched.headers["Cache-Control"] = "private, no-store"
            return untouched

    def _relocated(self, headers: Headers) -> Headers:
        """Redirects to the origin's own address point at the shop's address instead."""
        out = []
        for name, value in headers:
            if name in ("location", "content-location") and value.startswith(self.authority):
                rest = value[len(self.authority) :]
                if not rest or rest[0] in "/?#":
                    # "http://origin//evil.example" is a path on the origin, but the same
                    # path on its own ("//evil.example") would leave the site.
                    value = safe_path(rest if rest.startswith("/") else "/" + rest)
            out.append((name, value))
        return out


def proxy_of(shop: Shop) -> OriginProxy:
    proxy = shop.services.origin
    if proxy is None:  # pragma: no cover - installed whenever origin mode routes here
        raise RuntimeError("origin proxy not installed")
    return proxy


async def proxy_endpoint(request: Request) -> Response:
    """Every path shopwindow does not answer itself: the origin's page."""
    shop = shop_of(request)
    proxy = proxy_of(shop)
    if not proxy.proxies(request.scope["path"]):
        return PlainTextResponse("Not found", 404)
    return await proxy.answer(request, shop)


async def origin_home(request: Request) -> Response:
    """GET / in origin mode: a landing page, a redirect to the chosen homepage, or the origin's own."""
    shop = shop_of(request)
    snap = snapshot_of(request)
    visit = visit_of(request, snap)
    landing = shop.hooks.landing
    if visit.campaign.present and landing is not None:
        response: Response = await landing(request, shop, snap, visit)
        return response
    decision, path = decide_homepage(snap, visit)
    proxy = proxy_of(shop)
    if decision.rule is None:
        return await proxy.answer(request, shop, visit=visit)
    metrics.count_match("homepage", decision.rule.id)
    target = safe_path(path)
    if target != "/" and visit.device != "bot" and shop.settings.homepage_mode == "redirect":
        query = request.scope["query_string"]
        return personalize(redirect(shop, target, query=query), shop, visit, decision.labels)
    # Render mode, and crawlers: the chosen homepage's page, at the stable URL /.
    return await proxy.answer(
        request, shop, path=target.encode("utf-8"), visit=visit, labels=decision.labels
    )


def front_routes(routes: Iterable[BaseRoute], settings: Settings) -> list[BaseRoute]:
    """Origin mode's routing: shopwindow keeps `/`, `/_sw/*` and landing pages; the origin the rest.

    The demo storefront's routes (/{country}/..., /p/{id}) are dropped so they
    never shadow the origin's pages of the same shape.
    """
    own = tuple(p for p in ("/_sw/", settings.landing_prefix) if p and p != "/")
    kept = [
        route
        for route in routes
        if (path := getattr(route, "path", "")) in SERVICE_PATHS
        or (path != "/" and path.startswith(own))
    ]
    return [
        OriginPages(own),
        Route("/", origin_home, methods=["GET", "HEAD"]),
        *kept,
        Route("/{path:path}", proxy_endpoint, methods=PROXIED_METHODS),
    ]


class OriginPages(Route):
    """The origin's pages: every path outside shopwindow's own, told apart by one prefix check.

    Tried first, so a shopper's page is not compared with each of shopwindow's
    own routes (two dozen patterns) before it reaches the origin. A path under
    shopwindow's prefixes goes on to its routes, and to the origin after them
    if none of them takes it.
    """

    def __init__(self, own_prefixes: tuple[str, ...]) -> None:
        super().__init__("/{path:path}", proxy_endpoint, methods=PROXIED_METHODS)
        self.own_prefixes = own_prefixes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            path = "/" + child["path_params"]["path"]
            if path == "/" or path in SERVICE_PATHS or path.startswith(self.own_prefixes):
                return Match.NONE, {}
        return match, child


def install(shop: Shop, hooks: Hooks) -> OriginProxy | None:
    if not shop.settings.origin:
        return None
    proxy = OriginProxy(shop.settings)
    hooks.on_start.append(proxy.start)
    hooks.on_stop.append(proxy.stop)
    return proxy


routes: list[BaseRoute] = []  # origin mode rearranges the app's routes instead (front_routes)


def busy(upload: bool) -> Response:
    """Over a share of the origin connections: at once, instead of waiting for one."""
    headers = {"Cache-Control": "no-store", "Retry-After": "1"}
    if upload:
        headers["Connection"] = "close"  # its body is not read: the connection cannot go on
    return PlainTextResponse("The shop is busy. Please try again in a moment.", 503, headers)


def unavailable(status: int) -> Response:
    text = "The shop is not reachable right now. Please try again in a moment."
    return HTMLResponse(
        f"<!doctype html><title>Back soon</title><p>{text}</p>",
        status,
        headers={"Cache-Control": "no-store", "Retry-After": "5"},
    )


def _coalesced(parts: Iterable[bytes]) -> list[bytes]:
    """A page's parts as a few pieces of about CHUNK bytes: one write each, not one per part."""
    pieces: list[bytes] = []
    buffer: list[bytes] = []
    size = 0
    for part in parts:
        if not part:
            continue
        buffer.append(part)
        size += len(part)
        if size >= CHUNK:
            pieces.append(b"".join(buffer))
            buffer, size = [], 0
    if buffer:
        pieces.append(b"".join(buffer))
    return pieces


class Decoder(Protocol):
    def decompress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


class Deflate:
    """`deflate` as servers send it: zlib-wrapped as the standard says, or raw as some do."""

    def __init__(self) -> None:
        self.inner: Any = None
        self.first = True

    def decompress(self, data: bytes, /) -> bytes:
        if self.first and data:
            self.first = False
            try:
                self.inner = zlib.decompressobj()
                return bytes(self.inner.decompress(data))
            except zlib.error:
                self.inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self.inner.decompress(data)) if data else b""

    def flush(self) -> bytes:
        return bytes(self.inner.flush()) if self.inner is not None else b""


class Brotli:
    def __init__(self) -> None:
        self.inner = brotli.Decompressor()

    def decompress(self, data: bytes, /) -> bytes:
        return bytes(self.inner.process(data))

    def flush(self) -> bytes:
        return b""


class Identity:
    def decompress(self, data: bytes, /) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


# The encodings a page may arrive in and still have its slots filled (others pass through).
DECODERS: dict[str, Any] = {
    "": Identity,
    "identity": Identity,
    "gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "deflate": Deflate,
    **({"br": Brotli} if brotli is not None else {}),
}


async def _body(content: aiohttp.StreamReader, encoding: str) -> AsyncIterator[bytes]:
    """A page's body decoded, piece by piece as it arrives."""
    decoder: Decoder = DECODERS[encoding.strip().lower()]()
    async for chunk in content.iter_any():
        piece = decoder.decompress(chunk)
        if piece:
            yield piece
    tail = decoder.flush()
    if tail:
        yield tail


async def _resume(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(head)
    async for chunk in rest:
        yield chunk


def _fillable(method: str, status: int, headers: Headers) -> bool:
    if method != "GET" or status != 200:
        return False
    content_type = _first(headers, "content-type").split(";")[0].strip().lower()
    if content_type not in HTML_TYPES:
        return False
    if _first(headers, "content-encoding").strip().lower() not in DECODERS:
        return False
    length = _first(headers, "content-length")
    return not (length.isdigit() and int(length) > MAX_PAGE_BYTES)


def _echoes(page: bytes, values: list[str]) -> bool:
    return any(value.encode("utf-8", "replace") in page for value in values)


def _has_body(request: Request) -> bool:
    headers = request.headers
    length = headers.get("content-length", "")
    return (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers


def _raw_path(scope: Scope) -> bytes:
    raw: bytes | None = scope.get("raw_path")
    if raw and raw.startswith(b"/"):
        return raw.split(b"?", 1)[0]
    # Absolute-form targets and servers without raw_path: rebuild from the decoded path.
    from urllib.parse import quote

    return quote(scope["path"]).encode("ascii")


def _decoded(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


def _first(headers: Headers, name: str) -> str:
    for key, value in headers:
        if key == name:
            return value
    return ""


def _weak_validators(headers: Headers) -> Headers:
    """Same content for everyone, other bytes than the origin's: its ETag can only be weak now."""
    out = []
    for name, value in headers:
        if name == "etag" and not value.startswith("W/"):
            value = "W/" + value
        out.append((name, value))
    return out


def _private(headers: Headers) -> Headers:
    """The origin's headers minus everything that would let a shared cache keep a personal page."""
    return [
        (name, value)
        for name, value in headers
        if name not in SHARED_CACHE_OVERRIDES and name not in ("cache-control", "vary")
    ]


def _keep_vary(response: Response, origin: Headers) -> None:
    tokens = [
        t for t in header_tokens(origin, "vary") if t and t not in ("cookie", "accept-encoding")
    ]
    if tokens:
        response.headers["Vary"] = ", ".join([*tokens, "Cookie"])
