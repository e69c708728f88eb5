"""What is worked out once from a snapshot (cards, page shells, picks): created with it, dropped with it."""

from __future__ import annotations

from typing import Any

from lru import LRU
from markupsafe import Markup


class Derived:
    """Caches that belong to one snapshot; a reload starts with empty ones.

    Each snapshot owns its own, so nothing rendered for an old catalog or old
    rules can be served for a new one, and nothing is keyed by an object's id
    (CPython reuses the address of a freed snapshot).
    """

    __slots__ = ("cards", "picks", "shells")

    def __init__(self) -> None:
        # Product cards, by (product id, note, sold out).
        self.cards: LRU[tuple[str, str | None, bool], Markup] = LRU(50_000)
        # A segment's page, encoded, split where the visitor's own parts go.
        self.shells: LRU[tuple[Any, ...], tuple[bytes, bytes]] = LRU(2048)
        # Highlights and premium picks, by (gender, top categories).
        self.picks: LRU[tuple[Any, ...], str] = LRU(4096)
