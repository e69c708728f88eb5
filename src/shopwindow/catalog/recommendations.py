"""Recommendations around a product: similar, premium, accessories and popular-now lists.

Pure: a Catalog in, lists of in-stock products out; no I/O, no framework. Every list
reads the catalog's precomputed indexes and walks a bounded number of their entries,
so an answer costs the same for a hundred products or a hundred thousand.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from shopwindow.catalog.feed import UNISEX, Catalog, Product
from shopwindow.rules.pairings import NO_PAIRINGS, Pairings

LIST_NAMES: Final = ("similar", "premium", "accessories", "popular")
# A product may fit several lists; the scarcest list picks first, so the one premium
# alternative is not spent on "similar" and popular items fill what is left.
FILL_ORDER: Final = ("premium", "similar", "accessories", "popular")
DEFAULT_COUNT: Final = {"similar": 4, "premium": 2, "accessories": 4, "popular": 4}
DEFAULT_TITLE: Final = {
    "similar": "Similar styles in stock",
    "premium": "Step up to premium",
    "accessories": "Goes well with it",
    "popular": "Popular right now",
}
# Tiers from low to high; a tier the feed names otherwise ranks as standard.
TIERS: Final = ("budget", "standard", "premium", "luxury")
TIER_RANK: Final = {tier: rank for rank, tier in enumerate(TIERS)}
STANDARD_RANK: Final = TIER_RANK["standard"]
PREMIUM_BAND: Final = 1.25  # "a higher price band": at least 25% dearer
SIMILAR_POOL: Final = 12  # candidates nearest in price that tags then re-rank
TAG_WEIGHT: Final = 0.25  # all tags shared counts like a 25% price difference
MAX_WALK: Final = 64  # index entries a list may pass over before it gives up


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One list a rule asks for: which, how many, under what heading."""

    name: str
    count: int
    title: str


@dataclass(frozen=True, slots=True)
class RecommendationList:
    name: str
    title: str
    count: int  # how many to show; `products` may hold a few spares
    products: tuple[Product, ...]

    def shown(self, drop: Collection[str] = ()) -> tuple[Product, ...]:
        """The products to show, leaving out `drop` (what the visitor already has)."""
        if not drop:
            return self.products[: self.count]
        return tuple(p for p in self.products if p.id not in drop)[: self.count]


def list_specs(then: Mapping[str, Any]) -> tuple[ListSpec, ...]:
    """The lists of a rule's `then` (already checked by the rule compiler), in its order."""
    raw: Any = then.get("lists") or []
    entries = raw if isinstance(raw, list) else [raw]
    specs: list[ListSpec] = []
    for entry in entries:
        name = str(entry["name"])
        if name not in DEFAULT_COUNT or any(s.name == name for s in specs):
            continue
        count = int(entry.get("count", DEFAULT_COUNT[name]))
        specs.append(ListSpec(name, count, str(entry.get("title") or DEFAULT_TITLE[name])))
    return tuple(specs)


def tier_rank(tier: str) -> int:
    return TIER_RANK.get(tier, STANDARD_RANK)


def recommend(
    catalog: Catalog,
    product: Product,
    specs: Sequence[ListSpec],
    *,
    visitor_gender: str | None = None,
    pairings: Pairings = NO_PAIRINGS,
    popular_now: Sequence[str] = (),
    spare: int = 0,
) -> tuple[RecommendationList, ...]:
    """The lists `specs` asks for, in their order; empty lists are left out.

    Never the product itself, an out-of-stock product or one product in two lists.
    A visitor with a clear gender (`visitor_gender`) sees only that gender and unisex.
    Each list holds up to `count + spare` products, so a caller can leave some out
    for one visitor and still show `count`.
    """
    # Similar and premium stay in the product's own gender unless the visitor clearly
    # shops another; popular and paired accessories span all genders for a unisex product.
    own = visitor_gender or product.gender
    broad = visitor_gender or (None if product.gender == UNISEX else product.gender)
    taken: set[str] = {product.id}

    def fits(p: Product) -> bool:
        return (
            p.in_stock
            and p.id not in taken
            and (visitor_gender is None or p.gender == visitor_gender or p.gender == UNISEX)
        )

    found: dict[str, list[Product]] = {}
    wanted: dict[str, ListSpec] = {}
    for spec in specs:
        wanted.setdefault(spec.name, spec)  # a list asked for twice is shown once
    for name in FILL_ORDER:
        asked = wanted.get(name)
        if asked is None:
            continue
        limit = asked.count + spare
        if name == "similar":
            picks = similar(catalog, product, own, fits, limit)
        elif name == "premium":
            picks = premium(catalog, product, own, fits, limit)
        elif name == "accessories":
            picks = accessories(catalog, product, broad, fits, limit, pairings)
        else:
            picks = popular(catalog, broad, fits, limit, popular_now)
        taken.update(p.id for p in picks)
        found[name] = picks
    return tuple(
        RecommendationList(spec.name, spec.title, spec.count, tuple(found[spec.name]))
        for spec in wanted.values()
        if found.get(spec.name)
    )


Fits = Callable[[Product], bool]


def similar(
    catalog: Catalog, product: Product, gender: str, fits: Fits, limit: int
) -> list[Product]:
    """Same category and gender: `similar_to` links first, then nearest in price and tags."""
    out: list[Product] = []
    seen: set[str] = set()

    def same_kind(p: Product) -> bool:
        return p.category == product.category and (p.gender == gender or p.gender == UNISEX)

    for pid in catalog.similar_ids(product.id)[:MAX_WALK]:
        p = catalog.get(pid)
        if p is not None and p.id not in seen and same_kind(p) and fits(p):
            out.append(p)
            seen.add(p.id)
            if len(out) >= limit:
                return out
    pool = catalog.nearest_by_price(
        gender, product.category, product.price, limit=max(SIMILAR_POOL, 3 * limit)
    )
    tags = frozenset(product.tags)
    scale = max(product.price, 1.0)

    def distance(p: Product) -> tuple[float, str]:
        shared = len(tags.intersection(p.tags))
        union = len(tags) + len(p.tags) - shared
        overlap = shared / union if union else 0.0
        return (abs(p.price - product.price) / scale - TAG_WEIGHT * overlap, p.id)

    ranked = sorted(
        (p for p in pool if p.id not in seen and same_kind(p) and fits(p)), key=distance
    )
    out.extend(ranked[: limit - len(out)])
    return out


def premium(
    catalog: Catalog, product: Product, gender: str, fits: Fits, limit: int
) -> list[Product]:
    """Same category: a higher tier first (nearest price at or above first), then 25%+ dearer."""
    rank = tier_rank(product.tier)
    out: list[Product] = []
    seen: set[str] = set()

    def take(candidates: Iterator[Product] | Sequence[Product]) -> bool:
        for p in candidates:
            if p.id not in seen and (p.gender == gender or p.gender == UNISEX) and fits(p):
                out.append(p)
                seen.add(p.id)
                if len(out) >= limit:
                    return True
        return False

    for tier in TIERS[rank + 1 :]:
        ranked = catalog.in_tier(gender, product.category, tier)
        start = bisect.bisect_left(ranked, product.price, key=_price)
        dearer = ranked[start : start + MAX_WALK]
        cheaper = reversed(ranked[max(0, start - MAX_WALK) : start])
        if take(itertools.chain(dearer, cheaper)):
            return out
    ranked = catalog.by_price(gender, product.category)
    start = bisect.bisect_left(ranked, product.price * PREMIUM_BAND, key=_price)
    take(
        p
        for p in ranked[start : start + MAX_WALK]
        if tier_rank(p.tier) >= rank and p.price > product.price
    )
    return out


def _price(p: Product) -> float:
    return p.price


def accessories(
    catalog: Catalog,
    product: Product,
    gender: str | None,
    fits: Fits,
    limit: int,
    pairings: Pairings,
) -> list[Product]:
    """`accessory_of` links, then the best sellers of each paired category, taken in turn."""
    streams: list[Iterator[Product]] = [iter(catalog.accessories_for(product.id)[:MAX_WALK])]
    for category in pairings.get(product.category, ()):
        streams.append(iter(catalog.in_category(gender, category)[:MAX_WALK]))
    out: list[Product] = []
    seen: set[str] = set()
    while streams and len(out) < limit:
        for stream in list(streams):
            pick = next((p for p in stream if p.id not in seen and fits(p)), None)
            if pick is None:
                streams.remove(stream)
                continue
            out.append(pick)
            seen.add(pick.id)
            if len(out) >= limit:
                break
    return out


def popular(
    catalog: Catalog,
    gender: str | None,
    fits: Fits,
    limit: int,
    popular_now: Sequence[str],
) -> list[Product]:
    """What visitors view and buy now (decayed), then the feed's best sellers."""
    out: list[Product] = []
    seen: set[str] = set()
    for pid in popular_now:
        p = catalog.get(pid)
        if (
            p is not None
            and p.id not in seen
            and (gender is None or p.gender == gender or p.gender == UNISEX)
            and fits(p)
        ):
            out.append(p)
            seen.add(p.id)
            if len(out) >= limit:
                return out
    for p in catalog.best_sellers(gender)[: MAX_WALK + limit]:
        if p.id not in seen and fits(p):
            out.append(p)
            seen.add(p.id)
            if len(out) >= limit:
                break
    return out


# --- benchmark ---------------------------------------------------------------------

BENCH_SPECS: Final = tuple(
    ListSpec(name, DEFAULT_COUNT[name], DEFAULT_TITLE[name]) for name in LIST_NAMES
)
BENCH_PAIRINGS: Final[Pairings] = {
    "running-shoes": ("socks", "insoles"),
    "sneakers": ("socks", "insoles"),
    "boots": ("insoles", "socks"),
    "dresses": ("bags", "accessories"),
    "jackets": ("accessories", "bags"),
}
