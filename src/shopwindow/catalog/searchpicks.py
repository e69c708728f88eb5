"""What a shopper's search words point at in the catalog: a category, a gender, colours and brands."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shopwindow.catalog.feed import Catalog, Product, normalise_gender

GENDERS = ("women", "men", "kids")
TAG_KINDS = ("color:", "brand:")
MAX_SCAN = 500  # products looked at for one search, whatever the catalog's size
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class SearchMatch:
    category: str
    gender: str | None
    products: tuple[Product, ...]


def match_search(
    catalog: Catalog, query: str, limit: int, gender_hint: str | None = None
) -> SearchMatch | None:
    """In-stock products for a search such as "black women's running shoes", or None.

    The words must name a catalog category (singular or plural, several words
    joined with '-'); gender, colour and brand words narrow the picks when the
    catalog has products that fit them.
    """
    words = _WORD.findall(query.lower())[:8]
    category = _category_in(words, catalog.categories)
    if category is None:
        return None
    gender = next((g for w in words if (g := normalise_gender(w)) in GENDERS), None)
    tags = [
        ids for w in words for kind in TAG_KINDS if (ids := catalog.with_tag(kind + w.strip("'")))
    ]
    candidates = catalog.in_category(gender or gender_hint, category)
    picks = _pick(candidates, tags, limit) or _pick(candidates, [], limit)
    if not picks:
        return None
    return SearchMatch(category, gender or gender_hint, tuple(picks))


def _category_in(words: list[str], categories: frozenset[str]) -> str | None:
    # Longest run of words first: "running shoes" before "shoes".
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            slug = "-".join(words[start : start + size])
            for candidate in (slug, slug + "s", slug.removesuffix("s"), slug.removesuffix("es")):
                if candidate in categories:
                    return candidate
    return None


def _pick(candidates: Sequence[Product], tags: list[frozenset[str]], limit: int) -> list[Product]:
    picks: list[Product] = []
    for scanned, product in enumerate(candidates):
        if scanned >= MAX_SCAN or len(picks) >= limit:
            break
        if product.in_stock and all(product.id in ids for ids in tags):
            picks.append(product)
    return picks
