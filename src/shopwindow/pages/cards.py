"""Product cards rendered once per snapshot (snap.derived) and reused in every list and strip."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from shopwindow.catalog.feed import Product
from shopwindow.shop import Shop, Snapshot


def card(
    shop: Shop, snap: Snapshot, product: Product, note: str | None = None, sold_out: bool = False
) -> Markup:
    """The card HTML for a product: the same for every shopper, so it is rendered once."""
    found = snap.derived.cards
    key = (product.id, note, sold_out)
    html = found.get(key)
    if html is None:
        data: dict[str, Any] = {**product.to_json(), "sold_out": sold_out}
        html = Markup(shop.templates.get_template("card.html").render(p=data, note=note))
        found[key] = html
    return html


def cards(shop: Shop, snap: Snapshot, products: list[Product]) -> list[Markup]:
    return [card(shop, snap, p) for p in products]
