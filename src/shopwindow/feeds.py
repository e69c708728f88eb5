"""Product feed formats: telling them apart by their content, and reading each into catalog rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

import orjson

from shopwindow.categorymap import CategoryMap

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

# A row is either its fields in the catalog's own columns or, when it was skipped, why.
Row = Mapping[str, object] | str

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
        from shopwindow import feed_merchant

        return fmt, feed_merchant.xml_rows(data, categories)
    if fmt == MERCHANT_TSV:
        from shopwindow import feed_merchant

        return fmt, feed_merchant.table_rows(data, categories)
    if fmt == SHOPIFY_CSV:
        from shopwindow import feed_shopify

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


def table(data: bytes) -> Iterator[tuple[int, list[str] | str]]:
    """The non-empty rows of a comma- or tab-separated file (the header first), by line."""
    # surrogateescape keeps reading past bad bytes; the row holding them is reported.
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, f"unreadable row: {error}"
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if not _is_utf8(cells):
            yield start, "row is not valid UTF-8"
            continue
        yield start, cells


def header_cells(data: bytes) -> list[str]:
    """The first row's column names, as column_name spells them."""
    for _, cells in table(data):
        if isinstance(cells, list):
            return [column_name(cell) for cell in cells]
        return []
    return []


def column_name(cell: str) -> str:
    """'Variant Inventory Qty' -> 'variant_inventory_qty'; 'g:image_link' -> 'image_link'."""
    name = cell.strip().lower().removeprefix("g:")
    return re.sub(r"[\s\-]+", "_", name)


def named_rows(data: bytes) -> Iterator[tuple[int, dict[str, str] | str]]:
    """A table's rows after its header, each as its cells by column name (or why it is not)."""
    header: list[str] | None = None
    for line, cells in table(data):
        if isinstance(cells, str):
            yield line, cells
        elif header is None:
            header = [column_name(cell) for cell in cells]
        else:
            yield line, cells_by_name(header, cells)


def cells_by_name(header: Sequence[str], cells: Sequence[str]) -> dict[str, str]:
    """A row's cells by column name; the first of two same-named columns wins."""
    found: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        found.setdefault(name, cell.strip())
    return found


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return "\t" if first.count("\t") > first.count(",") else ","


def _is_utf8(cells: list[str]) -> bool:
    try:
        for cell in cells:
            cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
