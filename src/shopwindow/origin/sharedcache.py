"""When an origin answer may be kept for other shoppers, and for which requests (RFC 9111, strictly).

A shared cache in front of a shop sees every shopper's session. It errs on the
side of not sharing: a request that may be about one shopper (an
`Authorization` header, any cookie the operator has not declared impersonal)
neither reads nor writes it, and an answer is kept only when the origin itself
said other shoppers may have it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shopwindow.origin.forwarding import Headers, cache_control, header_tokens

VaryNames = tuple[str, ...]
VaryValues = tuple[str, ...]


class CookieList:
    """Cookie names that do not personalise a page (consent, analytics): exact, or a prefix with `*`."""

    def __init__(self, patterns: Iterable[str]) -> None:
        names: set[str] = set()
        prefixes: list[str] = []
        for pattern in patterns:
            pattern = pattern.strip()
            if not pattern:
                continue
            if pattern.endswith("*"):
                prefixes.append(pattern[:-1])
            else:
                names.add(pattern)
        self.names = frozenset(names)
        self.prefixes = tuple(prefixes)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self.names or (bool(self.prefixes) and name.startswith(self.prefixes))

    def all_listed(self, cookie_header: str) -> bool:
        """Whether every cookie in a Cookie header is on the list (an empty header is)."""
        for part in cookie_header.split(";"):
            part = part.strip()
            if not part:
                continue
            if part.partition("=")[0].strip() not in self:
                return False
        return True


def request_may_share(sent: Headers, shared_cookies: CookieList) -> bool:
    """Whether this request (as it goes to the origin) may read and write the shared cache."""
    for name, value in sent:
        if name == "authorization":
            return False
        if name == "cookie" and not shared_cookies.all_listed(value):
            return False
        if name in ("cache-control", "pragma") and "no-store" in value.lower():
            return False
    return True


def request_accepts_stored(sent: Headers) -> bool:
    """A shopper who reloads (`no-cache`) gets a fresh answer, which may then be stored."""
    for name, value in sent:
        if name in ("cache-control", "pragma") and "no-cache" in value.lower():
            return False
    return True


def shared_lifetime(received: Headers, longest: float) -> float:
    """Seconds an answer may be served to other shoppers: 0 unless the origin marked it shareable.

    Shareable: `public`, `s-maxage` or `max-age`, and neither `private`, `no-store`
    nor `no-cache`; no `Set-Cookie`; not `Vary: *`. An answer without
    `Cache-Control` is never stored, whatever its `Expires` or `Last-Modified`.
    """
    if longest <= 0:
        return 0.0
    if any(name == "set-cookie" for name, _ in received):
        return 0.0
    directives = cache_control(received)
    if directives.keys() & {"private", "no-store", "no-cache"}:
        return 0.0
    if "*" in header_tokens(received, "vary"):
        return 0.0
    for key in ("s-maxage", "max-age"):
        if key in directives:
            try:
                seconds = float(directives[key])
            except ValueError:
                return 0.0
            return max(0.0, min(longest, seconds))
    if "public" in directives:
        return longest
    return 0.0


def vary_names(received: Headers) -> VaryNames:
    """The request headers an answer depends on (pages are stored decoded: not Accept-Encoding)."""
    return tuple(sorted(set(header_tokens(received, "vary")) - {"accept-encoding", ""}))


def vary_values(sent: Headers, names: Sequence[str]) -> VaryValues:
    """This request's values of those headers: one stored variant per distinct tuple."""
    return tuple(", ".join(v for k, v in sent if k == name) for name in names)
