"""The recently-viewed strip: the visitor's last products, a sold-out one swapped for one in stock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from shopwindow.catalog.feed import Catalog, Product
from shopwindow.pages.cards import card
from shopwindow.shop import Shop, Snapshot


def recently_viewed_entries(
    catalog: Catalog, viewed: Sequence[str], exclude: str | None = None
) -> list[tuple[Product, str | None, bool]]:
    """Newest first, no duplicates; a sold-out item is swapped for a similar one in stock.

    Each entry is (product shown, name of the sold-out product it replaces, sold out).
    """
    out: list[tuple[Product, str | None, bool]] = []
    shown: set[str] = set()
    for pid in viewed:
        if pid == exclude or pid in shown:
            continue
        product = catalog.get(pid)
        if product is None:
            continue
        shown.add(pid)
        if product.in_stock:
            out.append((product, None, False))
            continue
        alt = _alternative(catalog, product, shown)
        if alt is not None:
            shown.add(alt.id)
            out.append((alt, product.name, False))
        else:
            out.append((product, None, True))
    return out


def recently_viewed_cards(
    shop: Shop, snap: Snapshot, viewed: Sequence[str], exclude: str | None = None
) -> list[Markup]:
    return [
        card(shop, snap, p, f"Instead of {instead}" if instead else None, sold_out)
        for p, instead, sold_out in recently_viewed_entries(snap.catalog, viewed, exclude)
    ]


def recently_viewed(
    catalog: Catalog, viewed: Sequence[str], exclude: str | None = None
) -> list[dict[str, Any]]:
    """The recently-viewed strip as JSON-ready dicts."""
    out = []
    for product, instead, sold_out in recently_viewed_entries(catalog, viewed, exclude):
        item: dict[str, Any] = {**product.to_json(), "sold_out": sold_out}
        if instead:
            item["instead_of"] = instead
        out.append(item)
    return out


def _alternative(catalog: Catalog, product: Product, taken: set[str]) -> Product | None:
    for sid in catalog.similar_ids(product.id):
        alt = catalog.get(sid)
        if alt is not None and alt.in_stock and alt.id not in taken:
            return alt
    near = catalog.nearest_by_price(
        product.gender, product.category, product.price, limit=1, exclude=taken | {product.id}
    )
    return near[0] if near else None


def render_recently_viewed(shop: Shop, items: list[Markup]) -> str:
    return shop.templates.get_template("_recently_viewed.html").render(recently_viewed=items)
