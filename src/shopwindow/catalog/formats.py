"""Product feed formats: telling them apart by their content, and reading each into catalog rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import orjson

from shopwindow.catalog import feed_merchant, feed_shopify
from shopwindow.catalog.categorymap import CategoryMap
from shopwindow.catalog.feedtable import Row, column_name, header_cells, table

JSONL: Final = "jsonl"
CSV: Final = "csv"
MERCHANT_TSV: Final = "merchant-center-tsv"
MERCHANT_XML: Final = "merchant-center-xml"
SHOPIFY_CSV: Final = "shopify-csv"
FORMAT_NAMES: Final = {
    JSONL: "JSON Lines",
    CSV: "CSV",
    MERCHANT_TSV: "Google Merchant Center (tab-separated)",
    MERCHANT_XML: "Google Merchant Center (XML)",
    SHOPIFY_CSV: "Shopify product CSV",
}
NATIVE_REQUIRED: Final = (
    "id",
    "name",
    "url",
    "price",
    "currency",
    "category",
    "gender",
    "in_stock",
)


_BOM = b"\xef\xbb\xbf"


class FeedFormatError(ValueError):
    """The file is none of the feed formats shopwindow reads."""


def detect(data: bytes) -> str:
    """The feed's format, judged by what it holds (never by the file's name)."""
    head = data.removeprefix(_BOM).lstrip()
    if not head:
        return JSONL  # an empty feed: no products, whatever its name
    if head.startswith(b"{"):
        return JSONL
    if head.startswith(b"<"):
        return MERCHANT_XML
    header = header_cells(data)
    names = set(header)
    if "handle" in names and ("variant_price" in names or "title" in names):
        return SHOPIFY_CSV
    if "name" not in names and "title" in names and names & {"link", "availability", "image_link"}:
        return MERCHANT_TSV
    return CSV


def read(
    data: bytes, categories: CategoryMap, currency: str
) -> tuple[str, Iterator[tuple[int, Row]]]:
    """The feed's format and its rows, each with the line it starts on."""
    fmt = detect(data)
    if fmt == JSONL:
        return fmt, jsonl_rows(data)
    if fmt == MERCHANT_XML:
        return fmt, feed_merchant.xml_rows(data, categories)
    if fmt == MERCHANT_TSV:
        return fmt, feed_merchant.table_rows(data, categories)
    if fmt == SHOPIFY_CSV:
        return fmt, feed_shopify.rows(data, categories, currency)
    return fmt, csv_rows(data)


def jsonl_rows(data: bytes) -> Iterator[tuple[int, Row]]:
    data = data.removeprefix(_BOM)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            yield number, f"invalid JSON: {error}"
            continue
        if not isinstance(value, dict):
            yield number, f"expected a JSON object, got {type(value).__name__}"
            continue
        yield number, value


def csv_rows(data: bytes) -> Iterator[tuple[int, Row]]:
    """The catalog's own columns, comma- or tab-separated."""
    header: list[str] | None = None
    for line, cells in table(data):
        if isinstance(cells, str):
            yield line, cells
            continue
        if header is None:
            header = [column_name(cell) for cell in cells]
            missing = [name for name in NATIVE_REQUIRED if name not in header]
            if missing:
                yield line, f"header lacks required column(s): {', '.join(missing)}"
                return
            continue
        if len(cells) > len(header):
            yield line, f"row has {len(cells)} fields, the header has {len(header)}"
            continue
        yield line, dict(zip(header, cells, strict=False))
