"""Payload lists and independent checkers shared by the hardening tests.

`lands_on` reads a Location or href the way a browser does (WHATWG URL rules,
as far as where it goes is concerned), without using any shopwindow code, so
a bug in safe_path cannot hide itself.
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET

# Every way we know of to make a target leave the site.
OFF_SITE: tuple[str, ...] = (
    "//evil.example",
    "//evil.example/path?x=1",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http:\\\\evil.example",
    "https://evil.example/",
    "HTTPS://EVIL.EXAMPLE",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/%09/evil.example",
    "/%0d%0aLocation:%20//evil.example",
    "/\uff0fevil.example",
    "\uff0f\uff0fevil.example",
    "/\u2215evil.example",
    "//evil\u3002example",
    "//evil%E3%80%82example",
    "https://shop.example@evil.example/",
    "//shop.example@evil.example",
    "https://shop.example%40evil.example/",
    "@evil.example",
    "/@evil.example",
    "https://evil.example\\@shop.example/",
    "https://shop.example.evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/../../evil.example",
    "",
)

OWN_HOSTS = frozenset({"testserver", "shop.example"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):(.*)$", re.S)


def lands_on(target: str, base: str = "http://testserver/de/women/") -> str:
    """The host a browser goes to for `target` on page `base` (or "<scheme>" for non-web)."""
    # Browsers fold full-width and other compatibility forms in host names.
    target = unicodedata.normalize("NFKC", target)
    # Leading and trailing C0 controls and spaces are stripped, tabs and newlines removed.
    target = target.strip("".join(chr(c) for c in range(0x21)))
    target = re.sub(r"[\t\n\r]", "", target)
    base_scheme = urlsplit(base).scheme
    found = _SCHEME.match(target)
    if found:
        scheme, rest = found.group(1).lower(), found.group(2)
        if scheme not in ("http", "https"):
            return f"<{scheme}>"
        rest = rest.replace("\\", "/")
        if scheme != base_scheme or rest.startswith("/"):
            # Special schemes ignore any number of slashes before the host.
            return (urlsplit(f"{scheme}://{rest.lstrip('/')}").hostname or "").rstrip(".")
        target = rest  # "http:path" on an http page is relative
    target = target.replace("\\", "/")
    if target.startswith("//"):
        # Scheme-relative: any number of slashes, then the host.
        return (urlsplit(f"{base_scheme}://{target.lstrip('/')}").hostname or "").rstrip(".")
    host = urlsplit(urljoin(base, target)).hostname or ""
    return host.rstrip(".")


def stays_on_site(target: str, base: str = "http://testserver/de/women/") -> bool:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return False  # a control character in a Location is header injection
    return lands_on(target, base) in OWN_HOSTS


def hrefs(body: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'href="([^"]*)"', body)]


def forged_cookie(visitor_id: str = "forged-visitor", **state: Any) -> str:
    """A cookie signed with the shop's secret, carrying whatever state a test needs.

    Visitors cannot forge these; the tests use them to prove that even state the
    shop itself wrote never steers a redirect or a page off the site.
    """
    now = int(time.time())
    visitor = Visitor(id=visitor_id, new=False, seen=now, affinity_at=now)
    for name, value in state.items():
        setattr(visitor, name, value)
    return CookieCodec(SECRET, 365).encode(visitor)


class _Audit(HTMLParser):
    """Collects what a page would run: scripts, event handlers, script URLs, injected markers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler")
            runs = value is not None and lands_on(value).startswith("<")
            if name in ("href", "src", "action", "formaction") and runs:
                self.problems.append(f"<{tag} {name}={value!r}> runs script")
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag in ("svg", "iframe", "object", "embed") or "autofocus" in names:
            self.problems.append(f"<{tag}> injected")

    def handle_comment(self, data: str) -> None:
        if data.startswith("sw:"):
            self.problems.append(f"<!--{data}--> marker left in the page")


def html_problems(body: str) -> list[str]:
    audit = _Audit()
    audit.feed(body)
    audit.close()
    return audit.problems
