"""A market's view of the catalog: its own feed, or the main feed's prices in its currency."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from shopwindow.catalog.feed import Catalog, Product, load_catalog
from shopwindow.rules.markets import Market

log = logging.getLogger("shopwindow")


def market_catalog(base: Catalog, market: Market, rules_folder: str) -> Catalog:
    """The catalog as the market's visitors see it: its own feed, or prices converted."""
    prices = market.prices
    if prices.feed:
        path = Path(rules_folder) / prices.feed
        try:
            own, errors = load_catalog(path, currency=market.currency)
        except OSError as exc:
            log.error(
                "market %s: cannot read %s: %s; showing the main feed", market.prefix, path, exc
            )
            return base
        for error in errors:
            log.warning("market %s: %s", market.prefix, error)
        return own
    same = prices.rate == 1.0 and prices.ending is None and prices.step == 0.01
    if same and all(p.currency == market.currency for p in base):
        return base
    converted: list[Product] = [
        dataclasses.replace(p, price=prices.convert(p.price), currency=market.currency)
        for p in base
    ]
    return Catalog(
        converted,
        source=base.source,
        mtime=base.mtime,
        aliases=base.aliases,
        feed_format=base.feed_format,
    )
