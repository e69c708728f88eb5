"""Synthetic product catalogs, deterministic by seed: the demo shop's feed and benchmark feeds."""

from __future__ import annotations

import contextlib
import math
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from shopwindow.catalog.feed import CATEGORY_LINK, Product
from shopwindow.catalog.pictures import picture_url

CURRENCY: Final = "EUR"
DEMO_SEED: Final = 7
SOLD_OUT_RATE: Final = 0.12
PREMIUM_RATE: Final = 0.15
BUDGET_RATE: Final = 0.10
# Sold-out pages are a feature to demonstrate: every range of 7 or more has at least
# two, every range of 5 or more at least one (a gender's list joins its unisex range).
MIN_SOLD_OUT: Final = ((7, 2), (5, 1))

BRANDS: Final = ("Acme", "NorthPeak", "Velora", "Kinetik", "UrbanMile")
_GENDER_CODE: Final = {"women": "w", "men": "m", "kids": "k", "unisex": "u"}
_GENDER_WORD: Final = {"women": "Women's", "men": "Men's", "kids": "Kids'", "unisex": ""}
_MODEL_STARTS: Final = (
    "Cloud", "Trail", "Swift", "Aero", "Storm", "Terra", "Nova", "Glide", "Summit", "Metro",
    "Drift", "Flux", "Vento", "Ridge", "Luma", "Pulse", "Coast", "Ember", "Frost", "Harbor",
)  # fmt: skip
_MODEL_ENDS: Final = (
    "stride", "runner", "flow", "step", "rise", "line", "form", "dash",
    "lite", "pace", "wave", "crest", "field", "shift", "ward", "loop",
)  # fmt: skip
_DRESS_OR_JACKET: Final = ("dresses", "jackets")


@dataclass(frozen=True, slots=True)
class _Style:
    """One kind of product within a category, and what it is an accessory of."""

    noun: str
    category_links: tuple[str, ...] = ()
    # Categories whose individual products (same gender) this style is sold with.
    sold_with: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Category:
    slug: str
    code: str
    low: float
    high: float
    styles: tuple[_Style, ...]
    colors: tuple[str, ...]
    features: tuple[str, ...]


def _styles(*nouns: str) -> tuple[_Style, ...]:
    return tuple(_Style(noun) for noun in nouns)


_SHOE_COLORS: Final = ("black", "white", "grey", "navy", "red", "blue", "green", "pink")
_CLOTHES_COLORS: Final = ("black", "white", "navy", "grey", "beige", "olive", "red", "blue")
_LEATHER_COLORS: Final = ("black", "brown", "tan", "beige", "navy", "burgundy")

CATEGORIES: Final = {
    c.slug: c
    for c in (
        _Category(
            "running-shoes", "run", 89, 149, _styles("Running Shoe", "Trail Running Shoe"),
            _SHOE_COLORS, ("cushioned", "lightweight", "trail", "road", "waterproof", "wide-fit"),
        ),
        _Category(
            "sneakers", "snk", 69, 119, _styles("Sneaker", "Low-Top Sneaker", "High-Top Sneaker"),
            _SHOE_COLORS, ("leather", "canvas", "vegan", "platform"),
        ),
        _Category(
            "boots", "boot", 99, 179, _styles("Chelsea Boot", "Hiking Boot", "Ankle Boot"),
            _LEATHER_COLORS, ("waterproof", "leather", "lined", "lace-up"),
        ),
        _Category(
            "sandals", "sand", 29, 69, _styles("Sandal", "Slide", "Sport Sandal"),
            _LEATHER_COLORS, ("cork-footbed", "adjustable", "vegan"),
        ),
        _Category(
            "bags", "bag", 39, 119,
            (
                _Style("Tote Bag", sold_with=("dresses",)),
                _Style("Crossbody Bag", sold_with=_DRESS_OR_JACKET),
                _Style("Backpack", sold_with=("jackets",)),
            ),
            _LEATHER_COLORS, ("leather", "recycled", "laptop-sleeve"),
        ),
        _Category(
            "dresses", "dress", 39, 99, _styles("Midi Dress", "Wrap Dress", "Maxi Dress"),
            _CLOTHES_COLORS, ("linen", "floral", "stretch"),
        ),
        _Category(
            "jackets", "jkt", 79, 179, _styles("Rain Jacket", "Puffer Jacket", "Denim Jacket"),
            _CLOTHES_COLORS, ("waterproof", "insulated", "packable", "recycled"),
        ),
        _Category(
            "jeans", "jean", 49, 99, _styles("Slim Jeans", "Straight Jeans", "Relaxed Jeans"),
            ("blue", "black", "grey", "light-blue"), ("stretch", "organic-cotton"),
        ),
        _Category(
            "t-shirts", "tee", 15, 35, _styles("T-Shirt", "Crew Tee", "Running Tee"),
            _CLOTHES_COLORS, ("organic-cotton", "quick-dry", "oversized"),
        ),
        _Category(
            "hoodies", "hood", 39, 69, _styles("Hoodie", "Zip Hoodie"),
            _CLOTHES_COLORS, ("fleece", "organic-cotton", "oversized"),
        ),
        _Category(
            "accessories", "acc", 15, 45,
            (
                _Style("Belt", category_links=("jeans",)),
                _Style("Wallet", category_links=("jeans",)),
                _Style("Scarf", sold_with=("jackets",)),
                _Style("Beanie", category_links=("hoodies",), sold_with=("jackets",)),
                _Style("Cap", category_links=("t-shirts",)),
                _Style("Sunglasses", sold_with=("dresses",)),
            ),
            _LEATHER_COLORS, ("recycled", "leather", "wool"),
        ),
        _Category(
            "socks", "sock", 8, 16,
            (
                _Style("Running Socks", category_links=("running-shoes",)),
                _Style("Crew Socks 3-Pack", category_links=("sneakers",)),
                _Style("Ankle Socks 3-Pack", category_links=("running-shoes", "sneakers")),
            ),
            ("black", "white", "grey", "navy"), ("cushioned", "merino", "quick-dry"),
        ),
        _Category(
            "insoles", "insl", 19, 39,
            (
                _Style("Cushion Insoles", category_links=("running-shoes", "sneakers")),
                _Style("Performance Insoles", category_links=("running-shoes",)),
                _Style("Comfort Insoles", category_links=("sneakers", "boots")),
            ),
            ("black", "grey", "blue"), ("arch-support", "memory-foam"),
        ),
    )
}  # fmt: skip

# The demo shop's ranges; for any other size they are the weights n is spread by.
DEMO_RANGES: Final[tuple[tuple[str, str, int], ...]] = (
    ("women", "running-shoes", 26), ("women", "sneakers", 20), ("women", "boots", 18),
    ("women", "sandals", 17), ("women", "bags", 20), ("women", "dresses", 24),
    ("women", "jackets", 18), ("women", "jeans", 17), ("women", "t-shirts", 18),
    ("women", "hoodies", 17), ("women", "accessories", 17), ("women", "socks", 6),
    ("women", "insoles", 5),
    ("men", "running-shoes", 24), ("men", "sneakers", 20), ("men", "boots", 18),
    ("men", "sandals", 12), ("men", "bags", 12), ("men", "jackets", 18), ("men", "jeans", 17),
    ("men", "t-shirts", 18), ("men", "hoodies", 17), ("men", "accessories", 12),
    ("men", "socks", 6), ("men", "insoles", 5),
    ("kids", "running-shoes", 16), ("kids", "sneakers", 17), ("kids", "boots", 12),
    ("kids", "sandals", 12), ("kids", "bags", 6), ("kids", "jackets", 14),
    ("kids", "t-shirts", 17), ("kids", "hoodies", 12), ("kids", "socks", 6),
    ("unisex", "bags", 6), ("unisex", "accessories", 6), ("unisex", "socks", 5),
    ("unisex", "insoles", 5),
)  # fmt: skip
DEMO_SIZE: Final = sum(count for _, _, count in DEMO_RANGES)


def generate_catalog(n: int, seed: int = 1) -> Iterator[Product]:
    """Yield n realistic products; the same (n, seed) always yields the same products.

    Products come range by range (gender, category), spread like the demo shop's.
    """
    if n < 0:
        raise ValueError(f"n must be zero or more, got {n}")
    rng = random.Random(seed)
    counts = _spread(n, [weight for _, _, weight in DEMO_RANGES])
    sizes = {(g, c): count for (g, c, _), count in zip(DEMO_RANGES, counts, strict=True)}
    for gender, category in sizes:
        yield from _range_products(rng, gender, CATEGORIES[category], sizes)


def generate_demo() -> Iterator[Product]:
    """The demo shop's catalog, as shipped in demo/catalog.jsonl."""
    return generate_catalog(DEMO_SIZE, DEMO_SEED)


def write_jsonl(products: Iterable[Product], path: str | os.PathLike[str]) -> int:
    """Write products as JSON Lines and return how many were written.

    The file is written aside and renamed into place, so a service watching the
    path never reads half a catalog.
    """
    target = os.fspath(path)
    partial = f"{target}.partial"
    written = 0
    try:
        with open(partial, "wb") as out:
            for product in products:
                out.write(orjson.dumps(product.to_json()))
                out.write(b"\n")
                written += 1
        os.replace(partial, target)
    except BaseException:
        # A failed write leaves the previous catalog in place and no debris beside it.
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
    return written


def product_id(gender: str, category: str, number: int, size: int) -> str:
    """'w-run-001': stable ids, padded to the size of their range."""
    width = max(3, len(str(size)))
    return f"{_GENDER_CODE[gender]}-{CATEGORIES[category].code}-{number:0{width}d}"


def _spread(n: int, weights: Sequence[int]) -> list[int]:
    """Split n in proportion to weights (largest remainder), summing to exactly n."""
    total = sum(weights)
    shares = [n * w / total for w in weights]
    counts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _range_products(
    rng: random.Random, gender: str, category: _Category, sizes: dict[tuple[str, str], int]
) -> list[Product]:
    count = sizes[(gender, category.slug)]
    if count == 0:
        return []
    ids = [product_id(gender, category.slug, i + 1, count) for i in range(count)]
    premium = set(rng.sample(range(count), round(count * PREMIUM_RATE)))
    budget = set(rng.sample(sorted(set(range(count)) - premium), round(count * BUDGET_RATE)))
    # One premium product stays in stock so a sold-out page can always up-sell.
    kept = {min(premium)} if premium else set()
    sold_out_count = round(count * SOLD_OUT_RATE)
    for size, least in MIN_SOLD_OUT:
        if count >= size:
            sold_out_count = max(least, sold_out_count)
            break
    sold_out = set(rng.sample(sorted(set(range(count)) - kept), sold_out_count))

    tiers = [
        "premium" if i in premium else "budget" if i in budget else "standard" for i in range(count)
    ]
    prices = [_price(rng, category, gender, tier) for tier in tiers]
    similar = _similar_by_price(rng, prices, sold_out, ids)
    models = [start + end for start in _MODEL_STARTS for end in _MODEL_ENDS]
    rng.shuffle(models)
    gender_word = _GENDER_WORD[gender]
    products: list[Product] = []
    for i, tier in enumerate(tiers):
        style = rng.choice(category.styles)
        brand = rng.choice(BRANDS)
        color = rng.choice(category.colors)
        name = " ".join(
            word for word in (brand, models[i % len(models)], gender_word, style.noun) if word
        )
        features = rng.sample(category.features, rng.randint(0, min(2, len(category.features))))
        popularity = rng.triangular(0, 100, 30 if tier == "premium" else 45)
        products.append(
            Product(
                id=ids[i],
                name=name,
                url=f"/p/{ids[i]}",
                image=picture_url(ids[i]),
                price=prices[i],
                currency=CURRENCY,
                category=category.slug,
                gender=gender,
                in_stock=i not in sold_out,
                tier=tier,
                tags=(f"color:{color}", f"brand:{brand.lower()}", *features),
                popularity=round(popularity, 1),
                accessory_of=_accessory_links(rng, gender, style, sizes),
                similar_to=similar[i],
            )
        )
    return products


def _price(rng: random.Random, category: _Category, gender: str, tier: str) -> float:
    price = rng.uniform(category.low, category.high)
    if tier == "premium":
        price *= rng.uniform(1.5, 2.1)
    elif tier == "budget":
        price *= rng.uniform(0.6, 0.8)
    if gender == "kids":
        price *= 0.6
    # Shop prices end in .95 (or .99 under ten euros), never in raw floats.
    return math.floor(price) + (0.99 if price < 10 else 0.95)


def _accessory_links(
    rng: random.Random, gender: str, style: _Style, sizes: dict[tuple[str, str], int]
) -> tuple[str, ...]:
    links = [CATEGORY_LINK + slug for slug in style.category_links]
    if style.sold_with:
        # A unisex bag is sold with women's or men's pieces; pick whose, per product.
        target_gender = rng.choice(("women", "men")) if gender == "unisex" else gender
        for slug in style.sold_with:
            size = sizes.get((target_gender, slug), 0)
            for number in sorted(rng.sample(range(1, size + 1), min(size, rng.randint(1, 3)))):
                links.append(product_id(target_gender, slug, number, size))
    return tuple(links)


def _similar_by_price(
    rng: random.Random, prices: list[float], sold_out: set[int], ids: list[str]
) -> list[tuple[str, ...]]:
    """Link products to neighbours in price; every sold-out product gets in-stock ones."""
    order = sorted(range(len(prices)), key=lambda i: (prices[i], i))
    links: list[tuple[str, ...]] = [() for _ in prices]
    for position, i in enumerate(order):
        if i in sold_out:
            wanted = 3
        elif rng.random() < 0.4:
            wanted = rng.randint(1, 2)
        else:
            continue
        found: list[str] = []
        for step in (1, -1, 2, -2, 3, -3, 4, -4, 5, -5):
            j = position + step
            if len(found) == wanted:
                break
            if 0 <= j < len(order) and order[j] not in sold_out:
                found.append(ids[order[j]])
        links[i] = tuple(found)
    return links
