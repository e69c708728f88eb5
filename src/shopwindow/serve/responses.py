"""Answers: the visitor cookie, cache headers that keep pages per visitor, safe redirects."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shopwindow.serve.limits import NOSNIFF
from shopwindow.serve.request import headers_of
from shopwindow.shop import Shop
from shopwindow.visitor.context import Visit
from shopwindow.visitor.cookie import MAX_BUCKETS
from shopwindow.visitor.tracking import with_query

SEGMENT_HEADER = b"x-shopwindow-segment"
JSON_TYPE = (b"content-type", b"application/json")
HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")
# A local path of unreserved characters (an optional query may hold escapes):
# it cannot name another host however a browser reads it.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*(?:\?[A-Za-z0-9._~=&%+-]*)?")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
# Decoded, a space is only text ("red%20socks"); controls and backslashes stay refused.
_UNSAFE_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_PLAIN_PATHS = 4096
_plain_paths: set[str] = set()


def safe_path(target: str, allowed_hosts: Collection[str] = (), fallback: str = "/") -> str:
    """A redirect target that cannot leave the site: a local path, or an allowed host.

    Anything else (//evil, /\\evil, https:evil, encoded or with control characters)
    becomes `fallback`.
    """
    if not target or len(target) > 2000:
        return fallback
    if target in _plain_paths:
        return target
    if _PLAIN_PATH.fullmatch(target) and not target.startswith("//"):
        # The common case: a plain local path, nothing to decode. The same few
        # (homepages, popup links) come back on every answer: remember them.
        if len(_plain_paths) >= MAX_PLAIN_PATHS:
            _plain_paths.clear()
        _plain_paths.add(target)
        return target
    decoded = target
    for _ in range(3):  # catch %2F%2F and double encoding
        decoded = unquote(decoded)
    if (
        _UNSAFE.search(target)
        or _UNSAFE_DECODED.search(decoded)
        or (not decoded.isascii() and _lookalike(decoded))
    ):
        return fallback
    if target.startswith("/") and not decoded.startswith("//"):
        return target
    parts = urlsplit(target)
    if (
        parts.scheme in ("http", "https")
        and parts.hostname
        and parts.hostname in allowed_hosts
        and "@" not in parts.netloc
    ):
        return target
    return fallback


def header_text(text: str) -> str:
    """Free text (a feed's tags, a filter) as a header value: printable ASCII, the rest %-escaped.

    A header carries bytes, not text: anything outside printable ASCII would either
    fail to encode (a 500) or, as CR/LF, start a header of its own.
    """
    return quote(text, safe=" !#$&'()*+,-./:;=?@[]^_`{|}~")


def _lookalike(text: str) -> bool:
    # Unicode slashes and dots that browsers may fold into '/' or '.'
    return any(ch in text for ch in "\uff0f\u2215\u2044\uff3c\u3002\uff0e\u2024")


class RawAnswer(Response):
    """A Response made of raw header pairs, for the hot paths' answers.

    Starlette's constructor folds headers through MutableHeaders; these answers
    know their few headers already (and personalize appends its own).
    """

    def __init__(
        self, status_code: int, headers: list[tuple[bytes, bytes]], body: bytes = b""
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        # nosniff up front: limits.outgoing finds it at once, and copies nothing.
        self.raw_headers = [NOSNIFF, *headers, (b"content-length", str(len(body)).encode())]


def redirect(shop: Shop, target: str, status: int = 302, query: bytes | str = b"") -> Response:
    """A redirect that cannot leave the site, carrying the visitor's query string through.

    Every parameter the visitor arrived with (click ids, utm_*, anything) rides
    along except shopwindow's own `sw_*`: trackers read them on the next page.
    """
    location = safe_path(target, shop.edge.own_hosts)
    if query:
        raw = query.decode("latin-1") if isinstance(query, bytes) else query
        location = with_query(location, quote(raw, safe=_QUERY_SAFE))
    # safe_path only lets through ASCII without spaces or control characters, and the
    # query is quoted likewise, so the header needs none of RedirectResponse's re-quoting.
    return RawAnswer(status, [(b"location", location.encode("latin-1"))])


# Characters a query keeps as sent; anything else (spaces, controls, backslashes, quotes,
# non-ASCII bytes, '#') is %-escaped: it stays the same parameter, and cannot end the URL.
_QUERY_SAFE = "!$&'()*+,;=:@/?~-._%"


def personalize(
    response: Response,
    shop: Shop,
    visit: Visit,
    labels: Iterable[str] = (),
    segment: str | None = None,
) -> Response:
    """Name the deciding rules, keep the answer per visitor (or per segment), write the cookie."""
    names = labels if isinstance(labels, list) else list(labels)
    raw = response.raw_headers
    # Appended as raw pairs: each is set exactly once here, and MutableHeaders'
    # per-assignment scan showed up in profiles of the hot endpoints.
    _drop(raw, (b"cache-control", b"vary"))
    crawler = visit.device == "bot"
    if names:
        raw.append((b"x-shopwindow-rules", ", ".join(names).encode("latin-1", "replace")))
    if names and not crawler:
        # A crawler gets the control arm (context.arms_of) and is never an exposure.
        remember_buckets(visit, names)
        for sink in shop.hooks.exposures:
            sink(shop, visit, names)
    if segment is not None:
        # A CDN may cache this answer for everyone with the same segment key.
        raw.append((SEGMENT_HEADER, segment.encode("latin-1", "replace")))
        raw.append((b"cache-control", b"public, max-age=60"))
        raw.append((b"vary", b"X-Shopwindow-Segment"))
    else:
        raw.extend(_PER_VISITOR)
    write_cookie(response, shop, visit)
    if visit.preview_changed:
        # The dev preview switch sticks for the browser session (never in production).
        value = "&".join(f"sw_{k}={v}" for k, v in sorted(visit.preview.items()))
        response.set_cookie("sw_preview", value, path="/", httponly=True, samesite="lax")
    return response


# This visitor's answer: no shared cache may keep it, and it differs by cookie.
_PER_VISITOR = ((b"cache-control", b"private, no-store"), (b"vary", b"Cookie"))


def remember_buckets(visit: Visit, labels: list[str]) -> None:
    """Keep each split's variant in the cookie so a visitor stays in it when weights change."""
    buckets = visit.visitor.buckets
    for label in labels:
        rule_id, sep, variant = label.partition(":")
        if sep and buckets.get(rule_id) != variant:
            buckets[rule_id] = variant
            while len(buckets) > MAX_BUCKETS:
                buckets.pop(next(iter(buckets)))
            visit.visitor.changed = True


def _drop(raw: list[tuple[bytes, bytes]], names: tuple[bytes, ...]) -> None:
    if any(k in names for k, _ in raw):
        raw[:] = [(k, v) for k, v in raw if k not in names]


def write_cookie(response: Response, shop: Shop, visit: Visit) -> None:
    visitor = visit.visitor
    if not visit.consent or not visitor.changed or visit.device == "bot":
        return  # a crawler is nobody to remember
    if any(name == SEGMENT_HEADER for name, _ in response.raw_headers):
        # A CDN keeps a segment answer for everyone in the segment: one visitor's
        # cookie (their id, their buckets) must never ride on it.
        return
    s = shop.settings
    secure = s.cookie_secure == "always"
    if s.cookie_secure == "auto":
        secure = visit.ctx.get("scheme") == "https"
    name, attributes, secure_attributes = _cookie_parts(s.cookie_name, s.cookie_days)
    # The codec's output is base64url and dots only, so it needs no quoting
    # (and http.cookies' SimpleCookie costs more than the encoding itself).
    value = shop.codec.encode_bytes(visitor)
    response.raw_headers.append(
        (b"set-cookie", name + value + (secure_attributes if secure else attributes))
    )


_cookie_attributes: dict[tuple[str, int], tuple[bytes, bytes, bytes]] = {}


def _cookie_parts(name: str, days: int) -> tuple[bytes, bytes, bytes]:
    """`name=`, and the attributes without and with Secure: the same for every answer."""
    parts = _cookie_attributes.get((name, days))
    if parts is None:
        attributes = f"; Max-Age={days * 86400}; Path=/; HttpOnly; SameSite=Lax".encode()
        parts = (f"{name}=".encode("latin-1"), attributes, attributes + b"; Secure")
        _cookie_attributes[(name, days)] = parts
    return parts


def wants_json(request: Request) -> bool:
    accept = headers_of(request).get("accept", "")
    return "application/json" in accept and "text/html" not in accept


# In JSON these are plain characters; inlined in an HTML <script> they could end it
# ("</script>") or, before ES2019, a JavaScript string (U+2028/9). As \u escapes
# they are the same JSON, safe in every context.
_JS_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def json_body(data: Any) -> bytes:
    """JSON for an answer: orjson's bytes, safe to inline in a page's <script> as well."""
    raw = orjson.dumps(data)
    for char, escaped in _JS_ESCAPES:
        if char in raw:
            raw = raw.replace(char, escaped)
    return raw


class JSONAnswer(JSONResponse):
    """A JSON answer whose text is escaped for the JavaScript context too (see json_body)."""

    def render(self, content: Any) -> bytes:
        return json_body(content)
