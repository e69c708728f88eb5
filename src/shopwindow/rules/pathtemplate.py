"""`then.path` templates ("/{country}/{gender}/"), split into text and context keys when the rule is compiled."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{(country|market|gender|category|language)\}")
_PLACEHOLDER_KEYS = {
    "country": "country",
    "market": "market",
    "gender": "visitor.gender",
    "category": "visitor.category",
    "language": "language",
}
# Filled in lower case: /de/, never /DE/.
_LOWER = frozenset({"country", "market"})
# The `then` fields holding a path template (thenspec checks their placeholders).
TEMPLATE_FIELDS = ("path", "cta_url")

Parts = tuple[tuple[str, bool], ...]


def path_parts(template: str) -> Parts:
    """A path template split into literal text and context keys."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append((template[pos : m.start()], False))
        parts.append((_PLACEHOLDER_KEYS[m.group(1)], True))
        pos = m.end()
    parts.append((template[pos:], False))
    return tuple(parts)


class PathTemplate(str):
    """The template's text, as every reader of `then` sees it, with its parts split once."""

    parts: Parts

    def __new__(cls, template: str) -> PathTemplate:
        made = super().__new__(cls, template)
        made.parts = path_parts(template)
        return made


def compile_paths(then: Mapping[str, Any]) -> dict[str, Any]:
    """`then` with each path template compiled (done once, with the rule)."""
    out = dict(then)
    for name in TEMPLATE_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and not isinstance(value, PathTemplate):
            out[name] = PathTemplate(value)
    return out


def fill_path(template: Any, ctx: Mapping[str, Any]) -> str | None:
    """A path with its placeholders filled from the context, or None when one is unknown.

    A template compiled with its rule is not split again; any other text is.
    """
    if not isinstance(template, str):
        template = str(template)
    parts = template.parts if isinstance(template, PathTemplate) else path_parts(template)
    out = []
    for text, is_key in parts:
        if is_key:
            value = ctx.get(text)
            if not value and text == "market":
                value = ctx.get("country")  # no markets: the store is the country's
            if not value:
                return None
            out.append(str(value).lower() if text in _LOWER else str(value))
        else:
            out.append(text)
    return "".join(out)
