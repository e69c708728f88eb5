"""Product cards rendered once per catalog snapshot and reused in every list and strip."""

from __future__ import annotations

from typing import Any

from lru import LRU
from markupsafe import Markup

from shopwindow.catalog import Product
from shopwindow.shop import Shop, Snapshot

_cards: LRU[tuple[int, str, str | None, bool], Markup] = LRU(50_000)


def card(
    shop: Shop, snap: Snapshot, product: Product, note: str | None = None, sold_out: bool = False
) -> Markup:
    """The card HTML for a product: the same for every shopper, so it is rendered once."""
    key = (id(snap), product.id, note, sold_out)
    html = _cards.get(key)
    if html is None:
        data: dict[str, Any] = {**product.to_json(), "sold_out": sold_out}
        html = Markup(shop.templates.get_template("card.html").render(p=data, note=note))
        _cards[key] = html
    return html


def cards(shop: Shop, snap: Snapshot, products: list[Product]) -> list[Markup]:
    return [card(shop, snap, p) for p in products]
