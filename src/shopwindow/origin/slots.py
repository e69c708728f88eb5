"""Named slots in an origin page (`<div data-sw-slot="name"></div>`): found once, filled per visitor.

The page is cut into byte parts around its holes when it is read (and that cut
is what the origin cache keeps), so filling a page for one visitor is a join
of precomputed bytes and a few fragments, with no parsing per request.

What counts as a slot (the limits the docs spell out):
- a start tag of a normal element (div, section, aside, span, ...) carrying
  `data-sw-slot="name"` (quoted or not); the name is lower-case letters,
  digits and dashes;
- its content is everything up to the matching end tag, counting nested
  elements of the same name; that content is what the origin shows when the
  slot is not filled (an unknown slot, a failed fragment);
- a slot inside a comment or inside script, style, textarea, title, noscript
  and the other raw-text elements is text, not a slot; a slot inside another
  slot is part of the outer slot's content;
- void elements (img, input, ...) cannot hold content and are never slots;
  a slot without its end tag is left alone.
The page is read as bytes, so any charset that keeps ASCII as ASCII works
(UTF-8, ISO-8859-x, windows-125x, Shift_JIS, ...); UTF-16 pages are not filled.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import re2

RAW_TEXT = (
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "noscript",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
)
VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
POPUP_SCRIPT = "popup-script"
SCRIPT_SRC = "/_sw/sw.js"
INJECT = ""  # the hole for the script tag; never a slot name (names are not empty)

# One linear-time pass (re2) finds the few places that matter: comments and
# raw-text elements (stepped over whole, so a slot written inside them is text),
# the attribute name, and </body>. Python's re would stop at every '<' instead.
_MARKS = re2.compile(
    rb"(?i)<(?:!--|(?:" + "|".join(RAW_TEXT).encode() + rb")[\s/>]|/body\s*>)|data-sw-slot"
)
# A whole start tag at a known '<', with '>' allowed inside quoted values.
_TAG = re.compile(rb"""<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_ATTR = re.compile(rb"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9._:-]+)""", re.I)


@dataclass(frozen=True, slots=True)
class Page:
    """An origin page cut at its holes: parts[0] hole[0] parts[1] ... parts[-1]."""

    raw: bytes
    charset: str
    parts: tuple[bytes, ...]
    holes: tuple[str, ...]  # slot names, and INJECT where the script tag may go
    defaults: tuple[bytes, ...]  # what the origin had in each hole

    @property
    def slots(self) -> tuple[str, ...]:
        """The slot names the page declares, in page order, without repeats."""
        return tuple(dict.fromkeys(h for h in self.holes if h != INJECT))

    @property
    def injects(self) -> bool:
        return INJECT in self.holes

    def fill(self, fills: Mapping[str, bytes], script: bytes = b"") -> Iterator[bytes]:
        """The page with each known slot's content replaced; the others as the origin had them."""
        parts = self.parts
        yield parts[0]
        for index, hole in enumerate(self.holes):
            if hole == INJECT:
                yield script
            else:
                yield fills.get(hole, self.defaults[index])
            yield parts[index + 1]


def script_tag(src: str = SCRIPT_SRC) -> str:
    return f'<script src="{src}" defer></script>'


def charset_of(content_type: str, head: bytes) -> str | None:
    """The page's charset as Python knows it, or None when it cannot be filled safely."""
    name = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip("\"'")
    if not name:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None
        match = _META_CHARSET.search(head[:2048])
        name = match.group(1).decode("ascii") if match else "utf-8"
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if info.name.startswith(("utf-16", "utf-32")):
        return None
    return info.name


def parse_page(raw: bytes, charset: str) -> Page:
    """Find the slots, and where the script tag goes (before the last </body>, outside raw text)."""
    cuts: list[tuple[int, int, str]] = []  # (start, end, hole) of each hole, in page order
    body_end = -1
    pos = 0
    while (m := _MARKS.search(raw, pos)) is not None:
        mark = m.group()
        if mark[:1] == b"<":
            if mark[1:2] == b"/":
                body_end = m.start()
                pos = m.end()
            else:
                pos = _after_text(raw, m.start())
            continue
        pos = m.end()
        lt = raw.rfind(b"<", 0, m.start())
        tag = _TAG.match(raw, lt) if lt >= 0 else None
        if tag is None or tag.end() <= m.start():
            continue  # the words in text, not an attribute
        name = _slot_name(tag.group(2))
        element = tag.group(1).lower()
        if name is None or element.decode() in VOID:
            continue
        close = _matching_end(raw, element, tag.end())
        if close is None:
            continue
        cuts.append((tag.end(), close[0], name))
        pos = close[1]
    names = {hole for _, _, hole in cuts}
    if body_end >= 0 and POPUP_SCRIPT not in names and SCRIPT_SRC.encode() not in raw:
        cuts.append((body_end, body_end, INJECT))
        cuts.sort(key=lambda cut: cut[0])
    parts: list[bytes] = []
    defaults: list[bytes] = []
    last = 0
    for start, end, _hole in cuts:
        parts.append(raw[last:start])
        defaults.append(raw[start:end])
        last = end
    parts.append(raw[last:])
    return Page(raw, charset, tuple(parts), tuple(c[2] for c in cuts), tuple(defaults))


def _after_text(raw: bytes, lt: int) -> int:
    """Where a comment or a raw-text element starting at lt ends (the page's end if never)."""
    if raw.startswith(b"<!--", lt):
        end = raw.find(b"-->", lt + 4)
        return len(raw) if end < 0 else end + 3
    tag = _TAG.match(raw, lt)
    if tag is None:
        return len(raw)
    close = _end_tag(tag.group(1).lower()).search(raw, tag.end())
    return len(raw) if close is None else close.end()


def _slot_name(attrs: bytes) -> str | None:
    for m in _ATTR.finditer(attrs):
        if m.group(1).lower() != b"data-sw-slot":
            continue
        value = m.group(2) or m.group(3) or m.group(4) or b""
        try:
            name = value.decode("ascii").strip().lower()
        except UnicodeDecodeError:
            return None
        return name if _NAME.fullmatch(name) else None
    return None


@lru_cache(maxsize=64)
def _end_tag(element: bytes) -> re2._Regexp[bytes]:
    return re2.compile(rb"(?i)</" + re2.escape(element) + rb"\s*>")


@lru_cache(maxsize=64)
def _nesting(element: bytes) -> re2._Regexp[bytes]:
    """Start and end tags of one element name, and the comments and raw text to step over."""
    return re2.compile(
        rb"(?i)<(?:!--|(?:"
        + "|".join(RAW_TEXT).encode()
        + rb")[\s/>]|/?"
        + re2.escape(element)
        + rb"[\s/>])"
    )


def _matching_end(raw: bytes, element: bytes, pos: int) -> tuple[int, int] | None:
    """(start, end) of the end tag closing an element whose content starts at pos."""
    search = _nesting(element).search
    depth = 1
    while (m := search(raw, pos)) is not None:
        lt = m.start()
        if raw[lt + 1 : lt + 2] == b"/":
            end = raw.find(b">", lt)
            if end < 0:
                return None
            depth -= 1
            if depth == 0:
                return lt, end + 1
            pos = end + 1
            continue
        tag = _TAG.match(raw, lt)
        if raw.startswith(b"<!--", lt) or (tag is not None and tag.group(1).lower() != element):
            pos = _after_text(raw, lt)
            continue
        if tag is None:
            return None
        depth += 1
        pos = tag.end()
    return None
