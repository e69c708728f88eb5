"""Comma- and tab-separated feed files read into rows by column name, for every table format."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence

# A row is either its fields in the catalog's own columns or, when it was skipped, why.
Row = Mapping[str, object] | str


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
