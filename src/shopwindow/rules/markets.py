"""Markets (rules/markets.yaml): which countries shop under which path prefix, currency and prices."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopwindow.rules.errors import RuleError
from shopwindow.rules.thenspec import CheckEnv
from shopwindow.rules.yamlsrc import Node

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_FIELDS = ("name", "prefix", "countries", "currency", "language", "delivery", "prices")
_PRICE_FIELDS = ("feed", "rate", "step", "ending")
EVERYWHERE = "*"


@dataclass(frozen=True, slots=True)
class Prices:
    """Where a market's prices come from: its own feed, or the main feed's times a rate."""

    feed: str = ""  # a feed of its own, relative to the rules folder
    rate: float = 1.0  # the market's price of one unit of the main feed's currency
    step: float = 0.01  # round to a multiple of this
    ending: float | None = None  # or end every price in this (0.99: 49.99)

    def convert(self, price: float) -> float:
        value = price * self.rate
        if self.ending is not None:
            whole = math.floor(value)
            # The nearest price with this ending, never below what the rate gives by more
            # than the ending itself ("49.99" for 50.20, not "50.99").
            value = (
                whole - 1 + self.ending
                if value - whole < self.ending - 0.5
                else whole + self.ending
            )
            return round(max(value, self.ending), 2)
        steps = round(value / self.step)
        return round(steps * self.step, 2)


@dataclass(frozen=True, slots=True)
class Market:
    name: str
    prefix: str  # the first path segment of its pages: "de" for /de/
    countries: frozenset[str]  # upper case; EVERYWHERE for the fallback market
    currency: str
    language: str = ""
    delivery: str = ""
    prices: Prices = Prices()

    @property
    def fallback(self) -> bool:
        return EVERYWHERE in self.countries


@dataclass(frozen=True, slots=True)
class Markets:
    """The declared markets; a country no market lists shops in the fallback market."""

    markets: tuple[Market, ...]
    by_country: Mapping[str, Market]
    by_prefix: Mapping[str, Market]
    fallback: Market

    def for_country(self, country: str) -> Market:
        return self.by_country.get(country.upper(), self.fallback)

    def for_path(self, path: str) -> Market | None:
        """The market whose prefix is the path's first segment, if any."""
        first = path.lstrip("/").partition("/")[0]
        return self.by_prefix.get(first)

    def to_main(self, amount: float, currency: str) -> float:
        """An amount in a market's currency in the main feed's, by that market's rate."""
        for market in self.markets:
            if market.currency == currency:
                return round(amount / market.prices.rate, 2)
        return amount  # a currency no market sells in: taken as the main feed's

    def market_of(self, path: str, country: str) -> Market:
        """The market a request is in: the one its path names, else the visitor's country's."""
        return self.for_path(path) or self.for_country(country)


def read_markets(root: Node | None, env: CheckEnv) -> tuple[Markets | None, list[RuleError]]:
    """markets.yaml: a list of markets; exactly one lists countries: "*" (everyone else)."""
    if root is None:
        return None, []
    if root.kind != "list" or not root.items:
        return None, [
            root.error("markets.yaml is a list of markets (name, prefix, countries, ...)")
        ]
    errors: list[RuleError] = []
    markets: list[Market] = []
    for item in root.items:
        market = _market(item, errors)
        if market is not None:
            markets.append(market)
    by_country: dict[str, Market] = {}
    by_prefix: dict[str, Market] = {}
    fallbacks: list[Market] = []
    for item, market in zip(root.items, markets, strict=False):
        if market.prefix in by_prefix:
            errors.append(item.error(f"prefix {market.prefix!r} belongs to two markets"))
        by_prefix[market.prefix] = market
        if market.fallback:
            fallbacks.append(market)
        for country in market.countries - {EVERYWHERE}:
            if country in by_country:
                errors.append(
                    item.error(
                        f"{country} is in two markets: {by_country[country].name!r} and {market.name!r}"
                    )
                )
            by_country[country] = market
    if not errors and len(fallbacks) != 1:
        errors.append(
            root.error('exactly one market lists countries: "*", for visitors from anywhere else')
        )
    if errors:
        return None, errors
    return Markets(tuple(markets), by_country, by_prefix, fallbacks[0]), []


def _market(item: Node, errors: list[RuleError]) -> Market | None:
    if item.kind != "map":
        errors.append(item.error("a market is a mapping: name, prefix, countries, currency, ..."))
        return None
    found = len(errors)
    for key, _ in item.entries:
        if key.value not in _FIELDS:
            errors.append(
                key.error(f"unknown market field {key.value!r}; use {', '.join(_FIELDS)}")
            )
    values: dict[str, Any] = {str(k.value): v for k, v in item.entries}
    for required in ("name", "prefix", "countries", "currency"):
        if required not in values:
            errors.append(item.error(f"a market needs {required!r}"))
    if len(errors) > found:
        return None
    name = str(values["name"].value)
    prefix_node = values["prefix"]
    prefix = str(prefix_node.value).strip("/")
    if not _PREFIX.match(prefix):
        errors.append(
            prefix_node.error(
                f"prefix must be a lower-case path segment like de, got {prefix_node.value!r}"
            )
        )
    countries_node = values["countries"]
    raw = countries_node.items if countries_node.kind == "list" else [countries_node]
    countries = set()
    for node in raw:
        code = str(node.value).upper()
        if code != EVERYWHERE and not _COUNTRY.match(code):
            errors.append(
                node.error(f'a country is a two-letter ISO code (DE) or "*", got {node.value!r}')
            )
        countries.add(code)
    currency_node = values["currency"]
    currency = str(currency_node.value).upper()
    if not _CURRENCY.match(currency):
        errors.append(
            currency_node.error(
                f"currency is a three-letter code (EUR), got {currency_node.value!r}"
            )
        )
    prices = _prices(values.get("prices"), errors)
    if len(errors) > found:
        return None
    return Market(
        name=name,
        prefix=prefix,
        countries=frozenset(countries),
        currency=currency,
        language=str(values["language"].value).lower() if "language" in values else "",
        delivery=str(values["delivery"].value) if "delivery" in values else "",
        prices=prices,
    )


def _prices(node: Node | None, errors: list[RuleError]) -> Prices:
    if node is None:
        return Prices()
    if node.kind != "map":
        errors.append(
            node.error("prices is {feed: FILE} or {rate: 0.86, step: 0.05 | ending: 0.99}")
        )
        return Prices()
    values = {str(k.value): v for k, v in node.entries}
    for key, _ in node.entries:
        if key.value not in _PRICE_FIELDS:
            errors.append(
                key.error(f"unknown prices field {key.value!r}; use {', '.join(_PRICE_FIELDS)}")
            )
    numbers: dict[str, float] = {}
    for field in ("rate", "step", "ending"):
        if field in values:
            value = values[field].value
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
                errors.append(
                    values[field].error(f"{field} must be a number above 0, got {value!r}")
                )
                continue
            numbers[field] = float(value)
    if "feed" in values:
        # Its own feed's prices are shown as they are; a rate only converts its sales.
        if "step" in values or "ending" in values:
            errors.append(
                node.error("a market with its own feed is not rounded: no step or ending")
            )
        feed = values["feed"]
        # The file names the rules folder it stands in (relative to where we run).
        if not (Path(feed.file).parent / str(feed.value)).is_file():
            errors.append(
                feed.error(f"market feed {feed.value!r} not found (relative to the rules folder)")
            )
        return Prices(feed=str(feed.value), rate=numbers.get("rate", 1.0))
    if "rate" not in values:
        errors.append(node.error("prices needs a rate (or a feed of the market's own)"))
    if "step" in numbers and "ending" in numbers:
        errors.append(node.error("round by step or by ending, not both"))
    if "ending" in numbers and numbers["ending"] >= 1:
        errors.append(values["ending"].error("ending is the part below 1, like 0.99 or 0.95"))
    return Prices(
        rate=numbers.get("rate", 1.0),
        step=numbers.get("step", 0.01),
        ending=numbers.get("ending"),
    )
