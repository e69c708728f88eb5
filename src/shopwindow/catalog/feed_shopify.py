"""Shopify's product CSV export as catalog rows: one product per handle, its variants folded in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from shopwindow.catalog.categorymap import CategoryMap
from shopwindow.catalog.feedfold import Variant, fold
from shopwindow.catalog.feedtable import Row, named_rows

# Columns Shopify fills on a product's first row only; its variant rows leave them empty.
PRODUCT_COLUMNS: Final = (
    "option1_name",
    "option2_name",
    "option3_name",
    "title",
    "vendor",
    "type",
    "tags",
    "published",
    "status",
    "product_category",
    "image_src",
)
_FALSE: Final = frozenset({"false", "no", "0"})
_SIZE_NAMES: Final = frozenset({"size", "shoe size", "größe", "taille", "talla", "taglia", "maat"})
_COLOUR_NAMES: Final = frozenset({"color", "colour", "farbe", "couleur", "colore", "kleur"})


def rows(data: bytes, categories: CategoryMap, currency: str) -> Iterator[tuple[int, Row]]:
    """The export's products; a row of a draft, archived or unpublished product is reported."""
    products: dict[str, dict[str, str]] = {}
    variants: list[Variant] = []
    for line, f in named_rows(data):
        if isinstance(f, str):
            yield line, f
            continue
        if not f.get("handle"):
            yield line, "missing required field 'Handle'"
            continue
        handle = f["handle"]
        product = products.get(handle)
        if product is None:
            # The product's own columns are filled on its first row only.
            product = products[handle] = {name: f.get(name, "") for name in PRODUCT_COLUMNS}
            product.update(_metafields(f))
        elif f.get("image_src") and not product.get("image_src"):
            product["image_src"] = f["image_src"]
        if not _is_variant(f):
            continue  # an extra image of the product, not something to sell
        status = product.get("status", "").lower()
        if status and status != "active":
            yield line, f"{handle}: status is {status}, only active products are shown"
            continue
        if product.get("published", "").lower() in _FALSE:
            yield line, f"{handle}: not published"
            continue
        try:
            variants.append(_variant(line, handle, product, f, currency))
        except ValueError as why:
            yield line, str(why)
    yield from fold(variants, categories)


def _is_variant(f: Mapping[str, str]) -> bool:
    return bool(f.get("variant_price") or f.get("option1_value") or f.get("variant_sku"))


def _variant(
    line: int, handle: str, product: Mapping[str, str], f: Mapping[str, str], currency: str
) -> Variant:
    if not product.get("title"):
        raise ValueError(f"{handle}: missing required field 'Title' on the product's first row")
    raw_price = f.get("variant_price", "")
    if not raw_price:
        raise ValueError(f"{handle}: missing required field 'Variant Price'")
    try:
        price = float(raw_price.replace(",", ""))
    except ValueError:
        raise ValueError(f"{handle}: Variant Price must be a number, got {raw_price!r}") from None
    colour = size = ""
    options: list[str] = []
    for n in (1, 2, 3):
        name = (f.get(f"option{n}_name") or product.get(f"option{n}_name", "")).lower()
        value = f.get(f"option{n}_value", "")
        if not value or value == "Default Title":
            continue
        options.append(value)
        if name in _SIZE_NAMES:
            size = value
        elif name in _COLOUR_NAMES:
            colour = value
    colour = colour or product.get("colour", "")
    tags = [t.strip() for t in product.get("tags", "").split(",") if t.strip()]
    if product.get("vendor"):
        tags.append("brand:" + "-".join(product["vendor"].lower().split()))
    sku = f.get("variant_sku", "")
    return Variant(
        line=line,
        id=sku or "-".join([handle, *("-".join(o.lower().split()) for o in options)]),
        group=handle,
        title=product["title"],
        url="/products/" + handle,
        image=f.get("variant_image") or product.get("image_src", ""),
        price=price,
        currency=currency,
        in_stock=_in_stock(f),
        colour=colour,
        size=size,
        gender=product.get("gender", ""),
        age_group=product.get("age_group", ""),
        product_type=product.get("type", ""),
        google_category=product.get("product_category", "") or product.get("google_category", ""),
        tags=tags,
    )


def _in_stock(f: Mapping[str, str]) -> bool:
    """Sellable: stock above zero, selling on when out (policy 'continue'), or not tracked."""
    if f.get("variant_inventory_policy", "").lower() == "continue":
        return True
    if "variant_inventory_tracker" in f and not f["variant_inventory_tracker"]:
        return True
    raw = f.get("variant_inventory_qty", "")
    try:
        return int(float(raw)) > 0
    except ValueError:
        return not raw  # no quantity column at all: Shopify did not track it


def _metafields(f: Mapping[str, str]) -> dict[str, str]:
    """Gender, age group, colour and Google category from either generation of export columns.

    Older exports name them 'Google Shopping / Gender'; newer ones
    'Target gender (product.metafields.shopify.target-gender)'.
    """
    found: dict[str, str] = {}
    for name, value in f.items():
        if not value:
            continue
        if "gender" in name:
            found.setdefault("gender", value)
        elif "age_group" in name:
            found.setdefault("age_group", value)
        elif "google_product_category" in name:
            found.setdefault("google_category", value)
        elif "color" in name and "metafield" in name:
            found.setdefault("colour", value)
    return found
