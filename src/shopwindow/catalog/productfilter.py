"""Exact product filters for landing pages, answered from an index built once per catalog.

A filter is gender + category + tags (tier counts as the tag `tier:<name>`);
results come in stock first, then most popular, then by id. Every
(gender, category, tag) combination has its ranked list ready, so a filter
with at most one tag is a slice of one list. Several tags are intersected once,
from the shortest of their lists, and the intersection is kept (bounded): the
rules ask for the same few combinations again and again. Either way a repeated
filter costs the same on 1,000 products as on 100,000.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from shopwindow.catalog.feed import UNISEX, Catalog, Product

TIER_PREFIX = "tier:"
MAX_COMBOS = 1024
DEFAULT_LIMIT = 24
MAX_LIMIT = 100

Key = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """Which products a landing page lists; hashable, so pages can be cached per filter."""

    gender: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()  # all required; sorted, so equal filters hash alike
    ids: tuple[str, ...] = ()  # a hand-picked list, in this order, instead of the index
    limit: int = DEFAULT_LIMIT
    in_stock_only: bool = False
    prefer: tuple[str, ...] = ()  # not required: products with all of these come first

    @staticmethod
    def of(
        gender: str | None = None,
        category: str | None = None,
        tags: Iterable[str] = (),
        tier: str | None = None,
        ids: Iterable[str] = (),
        limit: int = DEFAULT_LIMIT,
        in_stock_only: bool = False,
        prefer: Iterable[str] = (),
    ) -> ProductFilter:
        wanted = set(tags)
        if tier:
            wanted.add(TIER_PREFIX + tier)
        return ProductFilter(
            gender or None,
            category or None,
            tuple(sorted(wanted)),
            tuple(dict.fromkeys(ids)),
            max(1, min(int(limit), MAX_LIMIT)),
            in_stock_only,
            tuple(sorted(set(prefer) - wanted)),
        )

    @staticmethod
    def from_rule(products: Mapping[str, Any]) -> ProductFilter:
        """The `products:` block of a landing rule (already checked by `shopwindow check`)."""
        tags = products.get("tags") or ()
        ids = products.get("ids") or ()
        return ProductFilter.of(
            gender=products.get("gender"),
            category=products.get("category"),
            tags=[str(tags)] if isinstance(tags, str) else [str(t) for t in tags],
            tier=products.get("tier"),
            ids=[str(ids)] if isinstance(ids, str) else [str(i) for i in ids],
            limit=products.get("limit", DEFAULT_LIMIT),
            in_stock_only=bool(products.get("in_stock_only", False)),
        )

    def without_tags(self) -> ProductFilter:
        return ProductFilter(
            self.gender, self.category, (), self.ids, self.limit, self.in_stock_only, self.prefer
        )

    def describe(self) -> str:
        """'gender=women; category=running-shoes; tags=color:black' (for headers and explain)."""
        parts = []
        if self.gender:
            parts.append(f"gender={self.gender}")
        if self.category:
            parts.append(f"category={self.category}")
        if self.tags:
            parts.append("tags=" + ",".join(self.tags))
        if self.ids:
            parts.append("ids=" + ",".join(self.ids))
        if self.in_stock_only:
            parts.append("in_stock_only")
        if self.prefer:
            parts.append("first=" + ",".join(self.prefer))
        return "; ".join(parts) or "all"

    def admits(self, product: Product) -> bool:
        """Whether one product passes (the slow path the index must agree with)."""
        if self.gender is not None and product.gender not in (self.gender, UNISEX):
            return False
        if self.category is not None and product.category != self.category:
            return False
        if self.in_stock_only and not product.in_stock:
            return False
        return all(_has(product, tag) for tag in self.tags)


def _has(product: Product, tag: str) -> bool:
    if tag.startswith(TIER_PREFIX):
        return product.tier == tag[len(TIER_PREFIX) :]
    return tag in product.tags


def ranking(product: Product) -> tuple[bool, float, str]:
    """In stock first, then most popular, then by id: the order of every landing list."""
    return (not product.in_stock, -product.popularity, product.id)


class FilterIndex:
    """Ranked product lists for every (gender, category, tag) a filter can start from."""

    __slots__ = ("_catalog", "_combos", "_in_stock", "_lists")

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        genders = [g for g in catalog.genders if g != UNISEX]
        lists: dict[Key, list[Product]] = {}
        for product in sorted(catalog, key=ranking):
            # Unisex products are shown to every gender, as on the storefront.
            shown_to = (None, product.gender, *genders) if product.gender == UNISEX else None
            tags = (None, *product.tags, TIER_PREFIX + product.tier)
            for gender in shown_to or (None, product.gender):
                for category in (None, product.category):
                    for tag in tags:
                        key = (gender, category, tag)
                        found = lists.get(key)
                        if found is None:
                            lists[key] = [product]
                        else:
                            found.append(product)
        self._lists: dict[Key, tuple[Product, ...]] = {k: tuple(v) for k, v in lists.items()}
        # How many of each list are in stock (they come first): a one-key filter is a slice.
        self._in_stock: dict[Key, int] = {
            k: sum(1 for p in v if p.in_stock) for k, v in self._lists.items()
        }
        # Two or more tags: their intersection is built on first use and kept (bounded),
        # as landing rules ask for the same few combinations over and over.
        self._combos: LRUCache[tuple[Any, ...], tuple[tuple[Product, ...], int]] = LRUCache(
            maxsize=MAX_COMBOS
        )

    def select(self, flt: ProductFilter) -> list[Product]:
        if flt.ids:
            return self._picked(flt)
        starts: list[Key] = [(flt.gender, flt.category, tag) for tag in flt.tags]
        if not starts:
            starts.append((flt.gender, flt.category, None))
        if len(starts) == 1:
            # One list answers it whole: a slice, without reading a single product.
            key = starts[0]
            ranked = self._lists.get(key, ())
            in_stock = self._in_stock.get(key, 0)
        else:
            combo = (flt.gender, flt.category, flt.tags)
            found = self._combos.get(combo)
            if found is None:
                found = self._intersect(starts, flt.tags)
                self._combos[combo] = found
            ranked, in_stock = found
        end = in_stock if flt.in_stock_only else len(ranked)
        if flt.prefer:
            # In stock still first; within that, the products the keyword described best.
            pool = sorted(
                ranked[:end],
                key=lambda p: (not p.in_stock, -sum(_has(p, t) for t in flt.prefer)),
            )
            return pool[: flt.limit]
        return list(ranked[: min(end, flt.limit)])

    def _intersect(
        self, starts: Sequence[Key], tags: Sequence[str]
    ) -> tuple[tuple[Product, ...], int]:
        """Every product with all the tags, ranked: the shortest tag list, checked for the rest."""
        shortest = min((self._lists.get(key, ()) for key in starts), key=len)
        ranked = tuple(p for p in shortest if all(_has(p, tag) for tag in tags))
        return ranked, sum(1 for p in ranked if p.in_stock)

    def _picked(self, flt: ProductFilter) -> list[Product]:
        out = []
        for product_id in flt.ids:
            product = self._catalog.get(product_id)
            if product is not None and flt.admits(product):
                out.append(product)
                if len(out) >= flt.limit:
                    break
        return out


_lock = threading.Lock()


def index_for(catalog: Catalog) -> FilterIndex:
    """The catalog's filter index, built on first use and kept on the catalog (it goes with it)."""
    index: FilterIndex | None = catalog.filter_index
    if index is not None:
        return index
    with _lock:
        index = catalog.filter_index
        if index is None:
            index = catalog.filter_index = FilterIndex(catalog)
        return index


def filter_products(catalog: Catalog, flt: ProductFilter) -> list[Product]:
    """The products a filter selects, ranked; the function the benchmark times.

    The first call on a catalog builds its index (call once to warm up).
    """
    return index_for(catalog).select(flt)


# --- for `make bench` (harness.SCALED): each takes a Catalog, returns the call to time -------


def timed_category_filter(catalog: Catalog) -> Callable[[], list[Product]]:
    """A landing page's filter: women's running shoes, 24 products (index warmed first)."""
    flt = ProductFilter.of("women", "running-shoes")
    index_for(catalog)
    return lambda: filter_products(catalog, flt)


def timed_attribute_filter(catalog: Catalog) -> Callable[[], list[Product]]:
    """A brand + colour page: women's running shoes by Acme in black (two tags to intersect).

    Warmed like a live landing page: the first call builds the intersection, later ones slice it.
    """
    flt = ProductFilter.of("women", "running-shoes", ["brand:acme", "color:black"])
    filter_products(catalog, flt)
    return lambda: filter_products(catalog, flt)
