"""What the storefront's placements share: genders, homepage paths filled from a visit, names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lru import LRU

from shopwindow.catalog import Product
from shopwindow.context import Visit
from shopwindow.rules import Decision, Rule
from shopwindow.shop import Snapshot

# The landing placement's name and answer header, also given by shoppable posts' answers.
LANDING_PLACEMENT = "landing-pages"
LANDING_HEADER = "X-Shopwindow-Landing"

GENDERS = ("women", "men", "kids")


_PLACEHOLDER = re.compile(r"\{(country|gender|category|language)\}")


_PLACEHOLDER_KEYS = {
    "country": "country",
    "gender": "visitor.gender",
    "category": "visitor.category",
    "language": "language",
}


# Each path template split once, looked up in one C call per answer.
_parts: LRU[str, tuple[tuple[str, bool], ...]] = LRU(1024)


def _path_parts(template: str) -> tuple[tuple[str, bool], ...]:
    """A path template split into literal text and context keys."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append((template[pos : m.start()], False))
        parts.append((_PLACEHOLDER_KEYS[m.group(1)], True))
        pos = m.end()
    parts.append((template[pos:], False))
    return tuple(parts)


def fill_path(template: str, ctx: Mapping[str, Any]) -> str | None:
    """A homepage path with its placeholders filled, or None when one is unknown."""
    parts = _parts.get(template)
    if parts is None:
        parts = _parts[template] = _path_parts(template)
    out = []
    for text, is_key in parts:
        if is_key:
            value = ctx.get(text)
            if not value:
                return None
            out.append(str(value).lower() if text == "country" else str(value))
        else:
            out.append(text)
    return "".join(out)


def decide_homepage(snap: Snapshot, visit: Visit) -> tuple[Decision, str]:
    ctx = visit.ctx

    def fillable(rule: Rule) -> bool:
        return fill_path(str(rule.then.get("path", "/")), ctx) is not None

    decision = snap.rules.decide(
        "homepage", ctx, visit.visitor.id, accept=fillable, assigned=visit.visitor.buckets
    )
    if decision.rule is None:
        return decision, f"/{visit.country.lower()}/"
    path = fill_path(str(decision.then.get("path", "/")), ctx) or "/"
    return decision, path


def product_json(product: Product) -> dict[str, Any]:
    """What the JSON answer says of a recommended product."""
    return {
        "id": product.id,
        "name": product.name,
        "url": product.url,
        "image": product.image,
        "price": product.price,
        "currency": product.currency,
        "category": product.category,
        "gender": product.gender,
        "tier": product.tier,
        "in_stock": product.in_stock,
    }
