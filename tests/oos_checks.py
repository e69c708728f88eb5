"""What every recommendation answer must obey, checked list by list (shared by the oos tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shopwindow.catalog.feed import UNISEX, Catalog, Product
from shopwindow.catalog.recommendations import PREMIUM_BAND, SIMILAR_POOL, tier_rank


def check_answer(
    catalog: Catalog,
    product: Product,
    lists: Sequence[tuple[str, Sequence[str]]],
    *,
    visitor_gender: str | None = None,
    pairings: Mapping[str, Sequence[str]] | None = None,
    popular_now: Sequence[str] = (),
    limits: Mapping[str, int] | None = None,
) -> int:
    """Assert the shared rules and each list's definition; returns how many products were shown.

    `lists` is (name, product ids) in the order shown; `limits` the count plus spares each
    list was computed with (for the price-nearness check of `similar`).
    """
    pairings = pairings or {}
    own = visitor_gender or product.gender
    broad = visitor_gender or (None if product.gender == UNISEX else product.gender)
    seen: set[str] = set()
    everything = {pid for _, ids in lists for pid in ids}
    total = 0
    for name, ids in lists:
        assert ids, f"{product.id}: empty list {name!r} was rendered"
        picks = [catalog.get(pid) for pid in ids]
        for pid, p in zip(ids, picks, strict=True):
            assert p is not None, f"{pid} is not in the catalog"
            assert p.in_stock, f"{product.id}: {name} recommends sold-out {pid}"
            assert pid != product.id, f"{product.id}: {name} recommends the product itself"
            assert pid not in seen, f"{product.id}: {pid} appears twice"
            seen.add(pid)
            if visitor_gender is not None:
                assert p.gender in (visitor_gender, UNISEX), (
                    f"{product.id}: {name} shows {p.gender} {pid} to a {visitor_gender} shopper"
                )
        products = [p for p in picks if p is not None]
        total += len(products)
        if name == "similar":
            _check_similar(catalog, product, products, own, (limits or {}).get(name))
        elif name == "premium":
            _check_premium(product, products, own)
        elif name == "accessories":
            linked = {p.id for p in catalog.accessories_for(product.id)}
            paired = set(pairings.get(product.category, ()))
            for p in products:
                assert p.id in linked or p.category in paired, (
                    f"{product.id}: {p.id} ({p.category}) is neither linked nor paired"
                )
        elif name == "popular":
            _check_popular(catalog, product, products, broad, popular_now, everything)
        else:  # pragma: no cover
            raise AssertionError(f"unknown list {name!r}")
    return total


def _check_similar(
    catalog: Catalog, product: Product, picks: list[Product], own: str, limit: int | None
) -> None:
    linked = set(catalog.similar_ids(product.id))
    first_unlinked = next((i for i, p in enumerate(picks) if p.id not in linked), len(picks))
    for i, p in enumerate(picks):
        assert p.category == product.category, f"{product.id}: similar {p.id} is a {p.category}"
        assert p.gender in (own, UNISEX), f"{product.id}: similar {p.id} is {p.gender}"
        if p.id in linked:
            assert i < first_unlinked, f"{product.id}: linked {p.id} after unlinked ones"
    if limit is None:
        return
    # Unlinked picks come from the in-stock products nearest in price.
    pool = max(SIMILAR_POOL, 3 * limit)
    candidates = [
        q for q in catalog.by_price(own, product.category) if q.id != product.id and q.in_stock
    ]
    for p in picks[first_unlinked:]:
        closer = sum(
            1 for q in candidates if abs(q.price - product.price) < abs(p.price - product.price)
        )
        assert closer < pool, f"{product.id}: similar {p.id} is not near in price"


def _check_premium(product: Product, picks: list[Product], own: str) -> None:
    rank = tier_rank(product.tier)
    higher_done = False
    for p in picks:
        assert p.category == product.category, f"{product.id}: premium {p.id} is a {p.category}"
        assert p.gender in (own, UNISEX), f"{product.id}: premium {p.id} is {p.gender}"
        higher = tier_rank(p.tier) > rank
        dearer = (
            p.price >= product.price * PREMIUM_BAND
            and p.price > product.price
            and tier_rank(p.tier) >= rank
        )
        assert higher or dearer, f"{product.id}: premium {p.id} is no step up"
        if not higher:
            higher_done = True
        assert not (higher and higher_done), f"{product.id}: higher tier after a price step"


def _check_popular(
    catalog: Catalog,
    product: Product,
    picks: list[Product],
    broad: str | None,
    popular_now: Sequence[str],
    shown: set[str],
) -> None:
    for p in picks:
        assert broad is None or p.gender in (broad, UNISEX), (
            f"{product.id}: popular {p.id} is {p.gender}"
        )
    ids = [p.id for p in picks]
    live = [pid for pid in popular_now if pid in ids]
    # Live-ranked products first, in ranking order; feed best sellers only after them.
    assert ids[: len(live)] == live, f"{product.id}: popular ignores the live ranking"
    if len(live) < len(ids):
        for pid in popular_now:
            p = catalog.get(pid)
            eligible = (
                p is not None
                and p.in_stock
                and p.id != product.id
                and (broad is None or p.gender in (broad, UNISEX))
            )
            if eligible:
                assert pid in shown, f"{product.id}: live-popular {pid} skipped for a best seller"
