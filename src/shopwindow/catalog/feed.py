"""The product catalog: loading the feed (any format catalog/formats.py reads) and indexing it for lookups."""

from __future__ import annotations

import bisect
import itertools
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from shopwindow.catalog import formats
from shopwindow.catalog.categorymap import CategoryMap
from shopwindow.catalog.pictures import etag_of, picture_url, product_svg

REQUIRED_FIELDS: Final = formats.NATIVE_REQUIRED
OPTIONAL_FIELDS: Final = (
    "image",
    "image_link",
    "tier",
    "tags",
    "popularity",
    "accessory_of",
    "similar_to",
)
UNISEX: Final = "unisex"
CATEGORY_LINK: Final = "category:"

_SERIALS = itertools.count(1)  # each Catalog's own number (see Catalog.serial)
_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})
# Feeds written for ad platforms (Google Merchant Center and friends) spell genders this way.
_GENDER_SYNONYMS: Final = {
    "female": "women",
    "woman": "women",
    "womens": "women",
    "women's": "women",
    "male": "men",
    "man": "men",
    "mens": "men",
    "men's": "men",
    "kid": "kids",
    "child": "kids",
    "children": "kids",
}
_SAFE_URL_PREFIXES: Final = ("/", "http://", "https://")


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    url: str
    image: str  # "" when the feed has none
    price: float
    currency: str
    category: str
    gender: str
    in_stock: bool
    tier: str = "standard"
    tags: tuple[str, ...] = ()
    popularity: float = 0.0
    accessory_of: tuple[str, ...] = ()
    similar_to: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "image": self.image,
            "price": self.price,
            "currency": self.currency,
            "category": self.category,
            "gender": self.gender,
            "in_stock": self.in_stock,
            "tier": self.tier,
            "tags": list(self.tags),
            "popularity": self.popularity,
            "accessory_of": list(self.accessory_of),
            "similar_to": list(self.similar_to),
        }


@dataclass(frozen=True, slots=True)
class CatalogError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def slugify(value: str) -> str:
    """'Running Shoes' -> 'running-shoes', the form categories and genders are indexed by."""
    return "-".join(value.strip().lower().split())


def normalise_gender(value: str) -> str:
    slug = slugify(value)
    return _GENDER_SYNONYMS.get(slug, slug)


def _ranking(product: Product) -> tuple[bool, float, str]:
    return (not product.in_stock, -product.popularity, product.id)


def _by_popularity(product: Product) -> tuple[float, str]:
    return (-product.popularity, product.id)


def _by_price(product: Product) -> tuple[float, str]:
    return (product.price, product.id)


class Catalog:
    """An immutable snapshot of the feed with every index built up front.

    A reload builds a new Catalog and swaps the reference, so lookups never lock
    and never see half a feed. Lookups taking a gender also return unisex products.
    """

    __slots__ = (
        "_accessories_by_category",
        "_accessories_by_id",
        "_aliases",
        "_best_sellers",
        "_by_gender",
        "_by_path",
        "_by_price",
        "_by_tag",
        "_by_tier",
        "_in_category",
        "_pictures",
        "_prices",
        "_similar",
        "categories",
        "feed_format",
        "filter_index",
        "genders",
        "mtime",
        "products",
        "serial",
        "source",
    )

    products: Mapping[str, Product]
    genders: frozenset[str]
    categories: frozenset[str]
    source: str
    mtime: float
    serial: int  # unique per Catalog in this process: what remembers work for one names it
    feed_format: str  # formats.JSONL, formats.MERCHANT_TSV, ... ("" when not read from a file)
    # The landing pages' filter index (productfilter.index_for), built on first use:
    # it belongs to this catalog and goes with it.
    filter_index: Any

    def __init__(
        self,
        products: Iterable[Product],
        *,
        source: str = "<memory>",
        mtime: float = 0.0,
        aliases: Mapping[str, str] | None = None,
        feed_format: str = "",
    ) -> None:
        self.serial = next(_SERIALS)
        self.filter_index = None
        by_id: dict[str, Product] = {}
        for product in products:
            if product.id in by_id:
                raise ValueError(f"duplicate product id {product.id!r}")
            by_id[product.id] = product
        self.products = MappingProxyType(by_id)
        # A variant's id (a size's SKU, a Merchant Center offer id) names its product.
        self._aliases: dict[str, str] = {
            alias: pid
            for alias, pid in (aliases or {}).items()
            if pid in by_id and alias not in by_id
        }
        self.source = source
        self.mtime = mtime
        self.feed_format = feed_format
        self.genders = frozenset(p.gender for p in by_id.values())
        self.categories = frozenset(p.category for p in by_id.values())
        # Unisex products are shown to every gender, so they join each gender's lists.
        shown_to: dict[str, tuple[str, ...]] = {g: (g,) for g in self.genders}
        shown_to[UNISEX] = tuple(self.genders)

        in_category: dict[tuple[str | None, str], list[Product]] = defaultdict(list)
        by_gender: dict[str | None, list[Product]] = defaultdict(list)
        by_tag: dict[str, set[str]] = defaultdict(set)
        accessories_by_id: dict[str, list[Product]] = defaultdict(list)
        accessories_by_category: dict[tuple[str, str], list[Product]] = defaultdict(list)
        similar: dict[str, dict[str, None]] = defaultdict(dict)
        for p in by_id.values():
            in_category[(None, p.category)].append(p)
            by_gender[None].append(p)
            for gender in shown_to[p.gender]:
                in_category[(gender, p.category)].append(p)
                by_gender[gender].append(p)
            for tag in p.tags:
                by_tag[tag].add(p.id)
            for target in p.accessory_of:
                if target.startswith(CATEGORY_LINK):
                    category = target[len(CATEGORY_LINK) :]
                    for gender in shown_to[p.gender]:
                        accessories_by_category[(gender, category)].append(p)
                elif target != p.id:
                    accessories_by_id[target].append(p)
            for other in p.similar_to:
                # Links to ids missing from the feed are dropped here, so callers never
                # have to guard against them.
                if other != p.id and other in by_id:
                    similar[p.id][other] = None
                    similar[other].setdefault(p.id, None)

        self._in_category: dict[tuple[str | None, str], tuple[Product, ...]] = {
            key: tuple(sorted(found, key=_ranking)) for key, found in in_category.items()
        }
        self._by_gender: dict[str | None, tuple[Product, ...]] = {
            key: tuple(sorted(found, key=_ranking)) for key, found in by_gender.items()
        }
        self._best_sellers: dict[str | None, tuple[Product, ...]] = {
            key: tuple(sorted((p for p in found if p.in_stock), key=_by_popularity))
            for key, found in by_gender.items()
        }
        self._by_price: dict[tuple[str | None, str], tuple[Product, ...]] = {
            key: tuple(sorted((p for p in found if p.in_stock), key=_by_price))
            for key, found in in_category.items()
        }
        self._prices: dict[tuple[str | None, str], tuple[float, ...]] = {
            key: tuple(p.price for p in found) for key, found in self._by_price.items()
        }
        by_tier: dict[tuple[str | None, str, str], list[Product]] = defaultdict(list)
        for (shown, category), ranked in self._by_price.items():
            for p in ranked:
                by_tier[(shown, category, p.tier)].append(p)
        self._by_tier: dict[tuple[str | None, str, str], tuple[Product, ...]] = {
            key: tuple(found) for key, found in by_tier.items()
        }
        self._by_tag: dict[str, frozenset[str]] = {
            tag: frozenset(ids) for tag, ids in by_tag.items()
        }
        self._accessories_by_category: dict[tuple[str, str], tuple[Product, ...]] = {
            key: tuple(sorted(found, key=_ranking))
            for key, found in accessories_by_category.items()
        }
        # A product named explicitly gets its own list, merged with its category's
        # accessories now rather than on every request.
        self._accessories_by_id: dict[str, tuple[Product, ...]] = {}
        for target_id, found in accessories_by_id.items():
            named = by_id.get(target_id)
            if named is None:
                continue
            merged = {p.id: p for p in found}
            for p in self._category_accessories(named):
                merged.setdefault(p.id, p)
            merged.pop(target_id, None)
            self._accessories_by_id[target_id] = tuple(sorted(merged.values(), key=_ranking))
        self._similar: dict[str, tuple[str, ...]] = {
            product_id: tuple(others) for product_id, others in similar.items()
        }
        # The page a product's `url` points at, so a page can find its product.
        self._by_path: dict[str, Product] = {}
        for p in by_id.values():
            self._by_path.setdefault(urlsplit(p.url).path, p)
        # Drawn pictures, made on first request and kept as long as this snapshot.
        self._pictures: dict[str, tuple[bytes, str]] = {}

    def __len__(self) -> int:
        return len(self.products)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self.products or product_id in self._aliases

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products.values())

    def __repr__(self) -> str:
        return f"<Catalog {self.source!r}: {len(self)} products>"

    def get(self, product_id: str) -> Product | None:
        """The product with this id, or whose variant has it."""
        found = self.products.get(product_id)
        if found is None and self._aliases:
            alias = self._aliases.get(product_id)
            if alias is not None:
                found = self.products.get(alias)
        return found

    def canonical_id(self, product_id: str) -> str:
        """The product's own id for a variant's id; any other id unchanged."""
        return self._aliases.get(product_id, product_id)

    @property
    def aliases(self) -> Mapping[str, str]:
        """Each variant id and the id of the product it was folded into."""
        return MappingProxyType(self._aliases)

    def picture(self, product_id: str) -> tuple[bytes, str] | None:
        """The product's drawn SVG picture and its ETag, or None for an unknown id."""
        found = self._pictures.get(product_id)
        if found is None:
            product = self.products.get(product_id)
            if product is None:
                return None
            body = product_svg(product)
            found = self._pictures[product_id] = (body, etag_of(body))
        return found

    def in_category(self, gender: str | None, category: str) -> Sequence[Product]:
        """Products of a category, in stock first, then most popular, then by id."""
        found = self._in_category.get((gender, category))
        if found is None and gender is not None:
            # A gender the feed never mentions still sees the unisex range.
            found = self._in_category.get((UNISEX, category))
        return found or ()

    def in_gender(self, gender: str) -> Sequence[Product]:
        """Every product shown to a gender, ordered like in_category."""
        found = self._by_gender.get(gender)
        if found is None:
            found = self._by_gender.get(UNISEX)
        return found or ()

    def best_sellers(self, gender: str | None = None) -> Sequence[Product]:
        """In-stock products, most popular first (ties by id)."""
        found = self._best_sellers.get(gender)
        if found is None and gender is not None:
            found = self._best_sellers.get(UNISEX)
        return found or ()

    def at_path(self, path: str) -> Product | None:
        """The product whose feed `url` has this path (the first one, if several do)."""
        return self._by_path.get(path)

    def with_tag(self, tag: str) -> frozenset[str]:
        return self._by_tag.get(tag, frozenset())

    def accessories_for(self, product_id: str) -> Sequence[Product]:
        """Products whose accessory_of names this product or its category.

        Category links only join products a shopper of the same gender would buy
        (or unisex ones); links naming the product id are taken as given.
        Ordered in stock first, then most popular, then by id.
        """
        found = self._accessories_by_id.get(product_id)
        if found is not None:
            return found
        product = self.products.get(product_id)
        if product is None:
            return ()
        return self._category_accessories(product)

    def similar_ids(self, product_id: str) -> tuple[str, ...]:
        """The product's own similar_to links first, then products linking to it."""
        return self._similar.get(product_id, ())

    def by_price(self, gender: str | None, category: str) -> Sequence[Product]:
        """In-stock products of a category, cheapest first (ties by id)."""
        found = self._by_price.get((gender, category))
        if found is None and gender is not None:
            found = self._by_price.get((UNISEX, category))
        return found or ()

    def in_tier(self, gender: str | None, category: str, tier: str) -> Sequence[Product]:
        """In-stock products of a category and tier, cheapest first (ties by id)."""
        found = self._by_tier.get((gender, category, tier))
        if found is None and gender is not None and (gender, category) not in self._by_price:
            found = self._by_tier.get((UNISEX, category, tier))
        return found or ()

    def nearest_by_price(
        self,
        gender: str | None,
        category: str,
        price: float,
        limit: int = 4,
        exclude: Iterable[str] = (),
    ) -> list[Product]:
        """Up to `limit` in-stock products of a category closest in price, closest first."""
        key = (gender, category)
        if key not in self._prices and gender is not None:
            key = (UNISEX, category)
        ranked = self._by_price.get(key, ())
        prices = self._prices.get(key, ())
        skipped = set(exclude)
        found: list[Product] = []
        # Walk outwards from the insertion point: no scan of the whole category.
        above = bisect.bisect_left(prices, price)
        below = above - 1
        while len(found) < limit and (below >= 0 or above < len(ranked)):
            take_below = above >= len(ranked) or (
                below >= 0 and price - prices[below] <= prices[above] - price
            )
            if take_below:
                candidate = ranked[below]
                below -= 1
            else:
                candidate = ranked[above]
                above += 1
            if candidate.id not in skipped:
                found.append(candidate)
        return found

    def _category_accessories(self, product: Product) -> tuple[Product, ...]:
        found = self._accessories_by_category.get((product.gender, product.category), ())
        if CATEGORY_LINK + product.category in product.accessory_of:
            return tuple(p for p in found if p.id != product.id)
        return found


def build_catalog(
    products: Iterable[Product], source: str = "<memory>", mtime: float = 0.0
) -> Catalog:
    """Index products into a Catalog; a duplicate id raises ValueError."""
    return Catalog(products, source=source, mtime=mtime)


def load_catalog(
    path: str | os.PathLike[str],
    *,
    categories: CategoryMap | None = None,
    currency: str = "EUR",
) -> tuple[Catalog, list[CatalogError]]:
    """Load a feed file, skipping bad rows and reporting each one as a CatalogError.

    The format is read from the content (see formats.detect), never from the extension:
    JSON Lines, the catalog's own CSV (comma or tab), Google Merchant Center (TSV or XML)
    or a Shopify product export. `categories` maps product types to categories and
    `currency` prices feeds that carry none (Shopify). Raises OSError only when the
    file cannot be read.
    """
    source = os.fspath(path)
    # The mtime is taken before reading so an edit made during the read is seen as newer.
    mtime = os.stat(source).st_mtime
    with open(source, "rb") as feed:
        data = feed.read()
    feed_format, rows = formats.read(data, categories or CategoryMap(), currency.upper())

    errors: list[CatalogError] = []
    products: list[Product] = []
    aliases: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        try:
            if isinstance(row, str):
                raise _RowError(row)
            product = _product_from_row(row)
            if product.id in first_line:
                raise _RowError(
                    f"duplicate id {product.id!r} (first on line {first_line[product.id]})"
                )
        except _RowError as error:
            errors.append(CatalogError(source, line, str(error)))
            continue
        first_line[product.id] = line
        products.append(product)
        for variant_id in _variant_ids(row):
            aliases.setdefault(variant_id, product.id)
    for variant_id in [v for v in aliases if v in first_line]:
        line = first_line[variant_id]
        errors.append(
            CatalogError(
                source,
                line,
                f"variant id {variant_id!r} of {aliases.pop(variant_id)!r} is also a product's id",
            )
        )
    catalog = Catalog(
        products, source=source, mtime=mtime, aliases=aliases, feed_format=feed_format
    )
    return catalog, errors


class _RowError(Exception):
    """Why one feed row was skipped."""


def _variant_ids(row: Mapping[str, object]) -> list[str]:
    found = row.get("variant_ids")
    return [v for v in found if isinstance(v, str) and v] if isinstance(found, list) else []


def _product_from_row(row: Mapping[str, object]) -> Product:
    """Validate one feed row (JSON values or CSV strings) into a Product; raises on a bad row."""
    product_id = _required_text(row, "id", numbers_allowed=True)
    name = _required_text(row, "name")
    url = _required_text(row, "url")
    # A picture of the product's own wins; without one, it gets a drawn one.
    image = (
        _optional_text(row, "image") or _optional_text(row, "image_link") or picture_url(product_id)
    )
    for field, value in (("url", url), ("image", image)):
        if value and not value.startswith(_SAFE_URL_PREFIXES):
            raise _RowError(f"{field} must start with '/', 'http://' or 'https://', got {value!r}")
    price = _number(row, "price", required=True)
    if price < 0:
        raise _RowError(f"price must be a non-negative number, got {row['price']!r}")
    tier = _optional_text(row, "tier")
    return Product(
        id=product_id,
        name=name,
        url=url,
        image=image,
        price=price,
        currency=_required_text(row, "currency").upper(),
        category=slugify(_required_text(row, "category")),
        gender=normalise_gender(_required_text(row, "gender")),
        in_stock=_boolean(row, "in_stock"),
        tier=slugify(tier) if tier else "standard",
        tags=_names(row, "tags"),
        popularity=_number(row, "popularity", required=False),
        accessory_of=tuple(_accessory_target(t) for t in _names(row, "accessory_of")),
        similar_to=_names(row, "similar_to"),
    )


def _required_text(row: Mapping[str, object], field: str, numbers_allowed: bool = False) -> str:
    value = row.get(field)
    if numbers_allowed and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise _RowError(f"missing required field {field!r}")
    if not isinstance(value, str):
        raise _RowError(f"{field} must be a string, got {_shown(value)}")
    text = value.strip()
    if not text:
        raise _RowError(f"missing required field {field!r}")
    return text


def _optional_text(row: Mapping[str, object], field: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _RowError(f"{field} must be a string, got {_shown(value)}")
    return value.strip()


def _number(row: Mapping[str, object], field: str, *, required: bool) -> float:
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _RowError(f"missing required field {field!r}")
        return 0.0
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        qualifier = "a non-negative" if field == "price" else "a"
        raise _RowError(f"{field} must be {qualifier} number, got {_shown(value)}")
    return number


def _boolean(row: Mapping[str, object], field: str) -> bool:
    value = row.get(field)
    if value is None or value == "":
        raise _RowError(f"missing required field {field!r}")
    if isinstance(value, bool):
        return value
    # Spreadsheet exports turn booleans into 1/0 or yes/no; both formats accept them.
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _RowError(f"{field} must be a boolean (true/false/1/0/yes/no), got {_shown(value)}")


def _names(row: Mapping[str, object], field: str) -> tuple[str, ...]:
    value = row.get(field)
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(value.split("|"))
    elif isinstance(value, list):
        items = value
    else:
        raise _RowError(f"{field} must be a list of strings, got {_shown(value)}")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise _RowError(f"{field} must be a list of strings, got {_shown(item)} in it")
        name = item.strip()
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _accessory_target(target: str) -> str:
    if target.startswith(CATEGORY_LINK):
        return CATEGORY_LINK + slugify(target[len(CATEGORY_LINK) :])
    return target


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
