"""Google Merchant Center feeds (tab-separated, RSS 2.0 or Atom with the g: namespace) as catalog rows."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

from shopwindow.catalog.categorymap import CategoryMap
from shopwindow.catalog.feedfold import Variant, fold
from shopwindow.catalog.feedtable import Row, column_name, named_rows

GOOGLE_NS: Final = "http://base.google.com/ns/1.0"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"
IN_STOCK: Final = frozenset({"in_stock", "in stock"})
AVAILABILITIES: Final = frozenset(
    {"in_stock", "in stock", "out_of_stock", "out of stock", "preorder", "backorder"}
)
CUSTOM_LABELS: Final = tuple(f"custom_label_{n}" for n in range(5))
_PRICE = re.compile(r"^\s*(?:([A-Za-z]{3})\s*)?([0-9][0-9.,]*)\s*(?:([A-Za-z]{3}))?\s*$")
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")


def table_rows(data: bytes, categories: CategoryMap) -> Iterator[tuple[int, Row]]:
    """A tab-separated (or comma-separated) Merchant Center feed, variants folded."""
    variants: list[Variant] = []
    for line, cells in named_rows(data):
        if isinstance(cells, str):
            yield line, cells
            continue
        try:
            variants.append(_variant(line, cells))
        except ValueError as why:
            yield line, str(why)
    yield from fold(variants, categories)


def xml_rows(data: bytes, categories: CategoryMap) -> Iterator[tuple[int, Row]]:
    """An RSS 2.0 <item> or Atom <entry> feed with g: fields, variants folded."""
    try:
        root = SafeTree.fromstring(data)
    except ParseError as error:
        line = error.position[0] if error.position else 1
        yield line, f"unreadable XML: {error}"
        return
    except DefusedXmlException as error:
        yield 1, f"XML refused: {type(error).__name__} (entities and DTDs are not read)"
        return
    starts = [data.count(b"\n", 0, m.start()) + 1 for m in _ITEM_START.finditer(data)]
    items = [el for el in root.iter() if _local(el.tag) in ("item", "entry")]
    variants: list[Variant] = []
    for n, item in enumerate(items):
        line = starts[n] if n < len(starts) else 1
        try:
            variants.append(_variant(line, _fields(item)))
        except ValueError as why:
            yield line, str(why)
    if not items and _local(root.tag) not in ("rss", "feed"):
        yield 1, f"XML root <{_local(root.tag)}> is neither an RSS 2.0 <rss> nor an Atom <feed>"
        return
    yield from fold(variants, categories)


def parse_price(value: str) -> tuple[float, str]:
    """'15.00 USD' -> (15.0, 'USD'); raises ValueError for anything else."""
    found = _PRICE.match(value)
    currency = (found.group(1) or found.group(3) or "") if found else ""
    if found is None or not currency:
        raise ValueError(
            f"price must be a number and a currency code like '15.00 USD', got {value!r}"
        )
    number = found.group(2)
    if "," in number and "." not in number and re.fullmatch(r"\d+,\d{1,2}", number):
        number = number.replace(",", ".")  # a decimal comma: '15,00 EUR'
    else:
        number = number.replace(",", "")
    try:
        price = float(number)
    except ValueError:
        raise ValueError(f"price must be a number and a currency code, got {value!r}") from None
    return price, currency.upper()


def _variant(line: int, f: Mapping[str, str]) -> Variant:
    variant_id = f.get("id", "")
    if not variant_id:
        raise ValueError("missing required field 'id'")
    for required in ("title", "link", "price", "availability"):
        if not f.get(required):
            raise ValueError(f"{variant_id}: missing required field {required!r}")
    availability = f["availability"].lower()
    if availability not in AVAILABILITIES:
        raise ValueError(
            f"{variant_id}: availability must be in_stock, out_of_stock, preorder or backorder, "
            f"got {f['availability']!r}"
        )
    price, currency = parse_price(f["price"])
    if f.get("sale_price"):
        sale, sale_currency = parse_price(f["sale_price"])
        if sale_currency == currency and sale < price:
            price = sale
    tags = []
    if f.get("brand"):
        tags.append("brand:" + "-".join(f["brand"].lower().split()))
    if f.get("material"):
        tags.append("material:" + "-".join(f["material"].lower().split()))
    tags.extend(f[label] for label in CUSTOM_LABELS if f.get(label))
    return Variant(
        line=line,
        id=variant_id,
        group=f.get("item_group_id", ""),
        title=f["title"],
        url=f["link"],
        image=f.get("image_link", ""),
        price=price,
        currency=currency,
        in_stock=availability in IN_STOCK,
        colour=f.get("color", ""),
        size=f.get("size", ""),
        gender=f.get("gender", ""),
        age_group=f.get("age_group", ""),
        product_type=f.get("product_type", ""),
        google_category=f.get("google_product_category", ""),
        tags=tags,
    )


def _fields(item: Element) -> dict[str, str]:
    """An item's fields by name: g:price and <price> alike; Atom's <link href>."""
    found: dict[str, str] = {}
    for child in item:
        name = column_name(_local(child.tag))
        if name == "link" and child.get("href"):
            text = child.get("href", "")
        elif len(child):
            continue  # nested fields (shipping, tax) say nothing the catalog keeps
        else:
            text = (child.text or "").strip()
        # The g: field wins over a plain RSS/Atom one of the same name.
        if child.tag.startswith("{" + GOOGLE_NS + "}") or name not in found:
            found[name] = text
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
