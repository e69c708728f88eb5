"""Which headers cross the proxy, in each direction, and when an origin page may be shared."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

Headers = list[tuple[str, str]]

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded; plus the
# headers a Connection header names, and every Proxy-* header.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
)
# What only a proxy we trust may tell the origin: from anyone else they are lies.
FORWARDING = frozenset(
    {
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "forwarded",
        "x-real-ip",
    }
)
# Headers some origins (IIS, Symfony, Rails, proxies) read to answer for another URL,
# method, host or scheme than the request line says. Only a proxy we trust may send
# them, and even then the answer is never kept for others: the cache key is the path,
# host and scheme, so a page rewritten this way would be served for the plain URL.
REWRITING = frozenset(
    {
        "x-original-url",
        "x-rewrite-url",
        "x-original-host",
        "x-host",
        "x-forwarded-scheme",
        "x-forwarded-ssl",
        "x-forwarded-prefix",
        "x-forwarded-server",
        "x-url-scheme",
        "front-end-https",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    }
)
# Set by the client library from the origin URL and the body we send.
OWN_FRAMING = frozenset({"host", "expect"})
# Ours to set on a modified answer (the origin's values describe its own bytes), and
# headers the server in front of us writes itself.
REWRITTEN = frozenset({"content-length", "content-encoding", "date", "server"})
# Directives that let a shared cache keep an answer whatever Cache-Control says.
SHARED_CACHE_OVERRIDES = frozenset(
    {
        "surrogate-control",
        "cdn-cache-control",
        "cloudflare-cdn-cache-control",
        "x-accel-expires",
        "edge-control",
        "age",
        "expires",
        "etag",
        "last-modified",
    }
)
DECODABLE = ("gzip", "deflate", "br")


def connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Header names a Connection header marks as hop-by-hop, lower-cased."""
    names: set[str] = set()
    for name, value in headers:
        if name == "connection":
            names.update(t.strip().lower() for t in value.split(",") if t.strip())
    return names


def is_hop_by_hop(name: str, named: Collection[str]) -> bool:
    return name in HOP_BY_HOP or name.startswith("proxy-") or name in named


@dataclass(frozen=True, slots=True)
class Hop:
    """The request's own hop: who sent it to us and whether we believe what it says."""

    peer: str | None
    trusted: bool
    scheme: str
    host: str
    cookie_name: str
    country_headers: tuple[str, ...]


def request_headers(raw: Sequence[tuple[bytes, bytes]], hop: Hop) -> Headers:
    """The shopper's headers for the origin: theirs, minus hop-by-hop, our cookie and any lies."""
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
    named = connection_tokens(headers)
    out: Headers = []
    cookies: list[str] = []
    forwarded_for: list[str] = []
    proto = host = ""
    via: list[str] = []
    untrusted = set(FORWARDING) | set(hop.country_headers) | REWRITING
    for name, value in headers:
        if is_hop_by_hop(name, named) or name in OWN_FRAMING:
            continue
        if name == "cookie":
            cookies.append(value)
            continue
        if name == "accept-encoding":
            continue
        if name == "via":
            via.append(value)
            continue
        if name in untrusted:
            if not hop.trusted:
                continue
            if name == "x-forwarded-for":
                forwarded_for.append(value)
                continue
            if name == "x-forwarded-proto":
                proto = value
                continue
            if name == "x-forwarded-host":
                host = value
                continue
        out.append((name, value))
    encoding = [h[1] for h in headers if h[0] == "accept-encoding"]
    out.append(("accept-encoding", origin_encoding(", ".join(encoding))))
    kept = without_cookie("; ".join(cookies), hop.cookie_name)
    if kept:
        out.append(("cookie", kept))
    if hop.peer:
        forwarded_for.append(hop.peer)
    if forwarded_for:
        out.append(("x-forwarded-for", ", ".join(forwarded_for)))
    out.append(("x-forwarded-proto", proto or hop.scheme))
    if host or hop.host:
        out.append(("x-forwarded-host", host or hop.host))
    out.append(("via", ", ".join([*via, "1.1 shopwindow"])))
    return out


def without_cookie(header: str, name: str) -> str:
    """A Cookie header without our own cookie: the origin has no business reading it."""
    if not header:
        return ""
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and part.split("=", 1)[0].strip() != name
    ]
    return "; ".join(kept)


@lru_cache(maxsize=256)
def origin_encoding(accept: str) -> str:
    """What the origin may compress with: what the shopper accepts and we can decode to fill slots."""
    wanted: list[str] = []
    for item in accept.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        q = params.replace(" ", "").lower()
        if q.startswith("q=") and _zero(q[2:]):
            continue
        if coding in DECODABLE and coding not in wanted:
            wanted.append(coding)
    return ", ".join(wanted) or "identity"


def _zero(q: str) -> bool:
    try:
        return float(q) == 0.0
    except ValueError:
        return False


def response_headers(pairs: Iterable[tuple[str, str]]) -> Headers:
    """The origin's answer headers for the shopper: every Set-Cookie kept, hop-by-hop dropped."""
    headers = [(k.lower(), v) for k, v in pairs]
    named = connection_tokens(headers)
    return [
        (k, v) for k, v in headers if not is_hop_by_hop(k, named) and k not in ("date", "server")
    ]


def cache_control(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Cache-Control directives, lower-cased; `private="set-cookie"` counts as private."""
    out: dict[str, str] = {}
    for name, value in headers:
        if name != "cache-control":
            continue
        for item in value.split(","):
            key, _, arg = item.strip().partition("=")
            if key:
                out[key.strip().lower()] = arg.strip().strip('"')
    return out


def header_tokens(headers: Iterable[tuple[str, str]], wanted: str) -> list[str]:
    return [
        t.strip().lower() for name, value in headers if name == wanted for t in value.split(",")
    ]


def rewritten(sent: Headers) -> bool:
    """Whether a (trusted) proxy asked the origin for another URL, method, host or scheme."""
    return any(name in REWRITING for name, _ in sent)
