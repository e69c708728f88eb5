"""Folding a shop feed's variants (sizes, colours) into one catalog row per product."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from shopwindow.catalog.categorymap import CategoryMap

# Merchant Center's age groups below adult; a product for them is a kids' product.
KIDS_AGES = frozenset(
    {
        "newborn",
        "infant",
        "infants",
        "toddler",
        "toddlers",
        "babies",
        "kids",
        "kid",
        "child",
        "children",
    }
)
_TITLE_SEPARATORS = " -–—|/,:("  # what shops put between a name and a size


@dataclass(slots=True)
class Variant:
    """One row of a shop's feed: a size or colour of a product, or a product on its own."""

    line: int
    id: str
    group: str  # item_group_id or Shopify handle; "" when the row stands alone
    title: str
    url: str
    image: str
    price: float
    currency: str
    in_stock: bool
    colour: str = ""
    size: str = ""
    gender: str = ""
    age_group: str = ""
    product_type: str = ""
    google_category: str = ""
    tags: list[str] = field(default_factory=list)


def fold(
    variants: Iterable[Variant], categories: CategoryMap
) -> Iterator[tuple[int, dict[str, object] | str]]:
    """One catalog row per group of variants (on the line of its first variant).

    A variant whose currency differs from its group's first is reported and left out.
    """
    groups: dict[str, list[Variant]] = {}
    for variant in variants:
        key = variant.group or "\0" + variant.id
        groups.setdefault(key, []).append(variant)
    for members in groups.values():
        first = members[0]
        kept = [first]
        for other in members[1:]:
            if other.currency != first.currency:
                yield (
                    other.line,
                    f"variant {other.id!r} is priced in {other.currency}, "
                    f"the rest of {first.group!r} in {first.currency}",
                )
            else:
                kept.append(other)
        yield first.line, _product_row(kept, categories)


def _product_row(members: list[Variant], categories: CategoryMap) -> dict[str, object] | str:
    first = members[0]
    category = ""
    for v in members:
        category = categories.category(v.product_type, v.google_category)
        if category:
            break
    if not category:
        return "no category: product type and Google product category are both empty"
    stocked = [v for v in members if v.in_stock]
    cheapest = min(stocked or members, key=lambda v: v.price)
    tags: list[str] = []
    for v in members:
        for tag in v.tags:
            _add(tags, tag)
    for v in members:
        if v.colour:
            for colour in re.split(r"[/,]", v.colour):
                if colour.strip():
                    _add(tags, "color:" + _slug(colour))
    for v in members:
        if v.size:
            _add(tags, "size:" + v.size.strip())
    gender = next((v.gender for v in members if v.gender), "")
    age = next((v.age_group for v in members if v.age_group), "")
    if age.strip().lower() in KIDS_AGES:
        gender = "kids"
    product_id = first.group or first.id
    return {
        "id": product_id,
        "name": _shared_title(members),
        "url": first.url,
        "image": next((v.image for v in members if v.image), ""),
        "price": cheapest.price,
        "currency": first.currency,
        "category": category,
        "gender": gender or "unisex",
        "in_stock": bool(stocked),
        "tags": tags,
        "variant_ids": [v.id for v in members if v.id and v.id != product_id],
    }


def _shared_title(members: list[Variant]) -> str:
    """The words every variant's title starts with ("Trail Shoe - Red - 42" -> "Trail Shoe")."""
    titles = [v.title.strip() for v in members if v.title.strip()]
    if not titles:
        return ""
    if len(titles) == 1 and not (members[0].size or members[0].colour):
        return titles[0]
    shared = titles[0].split(" ")
    for title in titles[1:]:
        words = title.split(" ")
        n = 0
        while n < min(len(shared), len(words)) and shared[n] == words[n]:
            n += 1
        shared = shared[:n]
    text = " ".join(shared).rstrip(_TITLE_SEPARATORS)
    # Strip what only the first variant named: its colour or size at the end.
    details = [d.strip().lower() for d in (members[0].size, members[0].colour) if d.strip()]
    stripped = True
    while stripped:
        stripped = False
        for detail in details:
            if text.lower().endswith(detail) and len(text) > len(detail):
                text = text[: -len(detail)].rstrip(_TITLE_SEPARATORS)
                stripped = True
    return text or titles[0]


def _add(tags: list[str], tag: str) -> None:
    tag = tag.strip()
    if tag and tag not in tags:
        tags.append(tag)


def _slug(value: str) -> str:
    return "-".join(value.strip().lower().split())
