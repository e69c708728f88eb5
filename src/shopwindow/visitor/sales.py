"""A sale's amount in the main feed's currency, for stats and profiles (markets sell in several)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopwindow.rules.markets import Markets
from shopwindow.visitor.context import Visit
from shopwindow.visitor.events import Event

if TYPE_CHECKING:  # types only: the shop imports what imports this
    from shopwindow.shop import Shop


def in_main_currency(shop: Shop, visit: Visit, event: Event, amount: float) -> float:
    """A sale's amount in the main feed's currency, so stats never add EUR to GBP.

    With markets, a sale is in its `currency` (else the visitor's market's) and is
    divided by the rate of the market that sells in it.
    """
    snap = shop.snapshot
    markets: Markets | None = snap.rules.data.get("markets") if snap is not None else None
    if markets is None:
        return amount
    currency = event.currency
    if currency is None:
        market = markets.by_prefix.get(visit.ctx.get("market") or "")
        currency = (market or markets.for_country(visit.country)).currency
    return markets.to_main(amount, currency)
