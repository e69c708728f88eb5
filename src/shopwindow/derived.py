"""What is worked out once from a snapshot (cards, page shells, picks, lists): created with it, dropped with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lru import LRU
from markupsafe import Markup

if TYPE_CHECKING:  # types only: the placements import the snapshot, which holds this
    from shopwindow.placements.popups import Plan
    from shopwindow.placements.shoppable import ShoppableState


class Derived:
    """Caches that belong to one snapshot; a reload starts with empty ones.

    Each snapshot owns its own, so nothing rendered for an old catalog or old
    rules can be served for a new one, and nothing is keyed by an object's id
    (CPython reuses the address of a freed snapshot).
    """

    __slots__ = (
        "cards",
        "list_specs",
        "picks",
        "popup_plans",
        "popups",
        "segments",
        "shells",
        "shoppable",
    )

    def __init__(self) -> None:
        # Product cards, by (product id, note, sold out).
        self.cards: LRU[tuple[str, str | None, bool], Markup] = LRU(50_000)
        # A segment's page, encoded, split where the visitor's own parts go.
        self.shells: LRU[tuple[Any, ...], tuple[bytes, bytes]] = LRU(2048)
        # Highlights and premium picks, by (gender, top categories).
        self.picks: LRU[tuple[Any, ...], str] = LRU(4096)
        # The out-of-stock placement's lists, by (product, gender, rule, variant,
        # popularity version), and each rule variant's list specs.
        self.segments: LRU[tuple[Any, ...], Any] = LRU(4096)
        self.list_specs: dict[tuple[str, str | None], Any] = {}
        # Each popup rule's plan (popups.plans_of), and the popups' answers as sent.
        self.popup_plans: Mapping[str, Plan] | None = None
        self.popups: LRU[tuple[Any, ...], bytes] = LRU(4096)
        # The shoppable posts' plans, pages and galleries.
        self.shoppable: ShoppableState | None = None
