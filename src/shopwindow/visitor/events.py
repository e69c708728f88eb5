"""The site's beacon events: checked one by one, then folded into the visitor."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shopwindow.visitor.cookie import (
    MAX_CART,
    MAX_CATEGORIES,
    MAX_FULL_PRICE,
    MAX_ID_LEN,
    MAX_POPUPS,
    MAX_SEARCH_LEN,
    MAX_SEARCHES,
    MAX_VIEWED,
    Visitor,
)

EVENT_TYPES = (
    "view",
    "add_to_cart",
    "remove_from_cart",
    "search",
    "purchase",
    "identify",
    "logout",
    "click",
    "popup_shown",
    "popup_dismissed",
    "popup_converted",
)
_PRODUCT_EVENTS = frozenset({"view", "add_to_cart", "remove_from_cart"})
_POPUP_EVENTS = frozenset({"popup_shown", "popup_dismissed", "popup_converted"})
_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,64}$")
_PROOF = re.compile(r"^[0-9A-Za-z.]{1,160}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SPACE = re.compile(r"\s+")
MAX_ITEMS = 50


class ProductInfo(Protocol):
    gender: str
    category: str
    price: float


class Catalog(Protocol):
    def get(self, product_id: str) -> Any: ...

    def canonical_id(self, product_id: str) -> str: ...


class EventError(ValueError):
    pass


@dataclass(slots=True)  # not frozen: up to 50 per beacon, and frozen ones cost 3× to build
class Event:
    type: str
    product_id: str | None = None
    quantity: int = 1
    price: float | None = None
    query: str | None = None
    order_id: str | None = None
    items: tuple[tuple[str, float, bool], ...] = ()  # (product_id, price, full_price)
    customer_id: str | None = None
    rule: str | None = None
    variant: str | None = None
    # identify's proof from the shop's backend (visitor/identity.py); checked by the beacon
    user_hash: str | None = None
    token: str | None = None
    currency: str | None = None  # a purchase's, when the page names it (markets)


@dataclass(frozen=True, slots=True)
class Weights:
    view: float = 1.0
    cart: float = 3.0
    purchase: float = 5.0
    half_life_days: float = 30.0


def parse_event(raw: Any, catalog: Catalog) -> Event:
    """A checked Event, or EventError saying what is wrong with it."""
    if not isinstance(raw, dict):
        raise EventError("an event is a JSON object")
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        raise EventError(f"unknown type {kind!r}; use one of {', '.join(EVENT_TYPES)}")
    if kind in _PRODUCT_EVENTS:
        pid = _id(raw, "product_id")
        product = catalog.get(pid)
        if product is None:
            raise EventError(f"unknown product_id {pid!r}")
        pid = product.id  # a variant's id (a size's SKU) counts for its product
        qty = raw.get("quantity", 1)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= 99:
            raise EventError("quantity must be a whole number from 1 to 99")
        return Event(kind, product_id=pid, quantity=qty, price=_price(raw.get("price")))
    if kind == "search":
        query = raw.get("query")
        if not isinstance(query, str) or not query.strip():
            raise EventError("search needs a non-empty `query`")
        return Event(kind, query=_SPACE.sub(" ", query).strip().lower()[:MAX_SEARCH_LEN])
    if kind == "purchase":
        items = raw.get("items")
        if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
            raise EventError(f"purchase needs `items`: a list of 1 to {MAX_ITEMS} products")
        parsed = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise EventError(f"items[{n}] is not an object")
            pid = _id(item, "product_id", where=f"items[{n}].")
            price = _price(item.get("price"))
            full = item.get("full_price", True)
            if not isinstance(full, bool):
                raise EventError(f"items[{n}].full_price must be true or false")
            pid = catalog.canonical_id(pid)
            parsed.append((pid, price if price is not None else 0.0, full))
        order = _id(raw, "order_id") if raw.get("order_id") is not None else None
        currency = raw.get("currency")
        if currency is not None and (
            not isinstance(currency, str) or not _CURRENCY.match(currency.upper())
        ):
            raise EventError("currency must be a three-letter code such as EUR")
        return Event(
            kind,
            order_id=order,
            items=tuple(parsed),
            currency=currency.upper() if currency else None,
        )
    if kind == "identify" and "customer_id" in raw and raw["customer_id"] is None:
        return Event("logout")  # identify with null: the shopper signed out
    if kind == "identify":
        return Event(
            kind,
            customer_id=_id(raw, "customer_id"),
            user_hash=_proof(raw, "user_hash"),
            token=_proof(raw, "token"),
        )
    if kind == "logout":
        return Event(kind)
    rule = _id(raw, "rule") if (kind in _POPUP_EVENTS or raw.get("rule") is not None) else None
    variant = _id(raw, "variant") if raw.get("variant") is not None else None
    ref = _id(raw, "product_id") if raw.get("product_id") is not None else None
    return Event(kind, rule=rule, variant=variant, product_id=ref)


def _id(raw: Mapping[str, Any], name: str, where: str = "") -> str:
    value = raw.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _ID.match(value):
        raise EventError(f"{where}{name} must be 1-{MAX_ID_LEN} letters, digits or - _ . : @ +")
    return value


def _proof(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _PROOF.match(value):
        raise EventError(f"{name} must be the text the shop's backend made (letters, digits, .)")
    return value


def _price(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise EventError("price must be a number of 0 or more")
    return float(value)


def apply(visitor: Visitor, event: Event, catalog: Catalog, weights: Weights, now: int) -> None:
    """Fold one checked event into the visitor's state (bounded, whatever arrives)."""
    visitor.changed = True
    kind = event.type
    if kind == "view":
        pid = event.product_id or ""
        visitor.viewed = [pid, *(p for p in visitor.viewed if p != pid)][:MAX_VIEWED]
        _affinity(visitor, catalog.get(pid), weights.view, weights, now)
    elif kind == "add_to_cart":
        pid = event.product_id or ""
        product = catalog.get(pid)
        price = event.price if event.price is not None else float(product.price)
        # A new list, never a change in place: copies of a visitor share it (Visitor).
        if any(line[0] == pid for line in visitor.cart):
            visitor.cart = [
                [line[0], min(99, line[1] + event.quantity), line[2]] if line[0] == pid else line
                for line in visitor.cart
            ]
        else:
            visitor.cart = [*visitor.cart, [pid, event.quantity, price]][-MAX_CART:]
        _affinity(visitor, product, weights.cart, weights, now)
    elif kind == "remove_from_cart":
        visitor.cart = [line for line in visitor.cart if line[0] != event.product_id]
    elif kind == "search":
        q = event.query or ""
        visitor.searches = [q, *(s for s in visitor.searches if s != q)][:MAX_SEARCHES]
    elif kind == "purchase":
        visitor.orders += 1
        visitor.purchase_session = visitor.sessions
        bought = {pid for pid, _, _ in event.items}
        visitor.cart = [line for line in visitor.cart if line[0] not in bought]
        for pid, _, full in event.items:
            if full and pid not in visitor.full_price:
                visitor.full_price = [pid, *visitor.full_price][:MAX_FULL_PRICE]
            _affinity(visitor, catalog.get(pid), weights.purchase, weights, now)
    elif kind == "identify":
        # Only a proven claim gets here (placements/beacon.py). Another customer on this device
        # starts from a fresh visitor: nothing of the first one goes to the second.
        if visitor.customer_id != event.customer_id:
            if visitor.customer_id:
                restart(visitor, now)
            visitor.customer_id = event.customer_id
    elif kind == "logout":
        restart(visitor, now)
    elif kind in _POPUP_EVENTS and event.rule and kind != "popup_shown":
        # The server counts a show when it serves the popup (popupcaps.record_show);
        # the browser's popup_shown is a report for the event sinks, not a second show.
        record_popup(visitor, event.rule, kind, now)


def restart(visitor: Visitor, now: int) -> None:
    """The device unlinked: a fresh visitor, with nothing of the customer's left in it."""
    fresh = Visitor.fresh(now)
    for name in Visitor.__slots__:
        setattr(visitor, name, getattr(fresh, name))


def record_popup(visitor: Visitor, rule_id: str, kind: str, now: int) -> None:
    """Popup history for caps: shows per session and day, and the last dismissal."""
    day = now // 86400
    entry = visitor.popups.get(rule_id) or [0, 0, 0, 0, 0, 0]
    if kind == "popup_shown":
        entry[0] += 1
        entry[2] = entry[2] + 1 if entry[1] == visitor.sessions else 1
        entry[1] = visitor.sessions
        entry[4] = entry[4] + 1 if entry[3] == day else 1
        entry[3] = day
    elif kind == "popup_dismissed":
        entry[5] = now
    visitor.popups.pop(rule_id, None)
    visitor.popups[rule_id] = entry  # most recent last, so the oldest is dropped first
    while len(visitor.popups) > MAX_POPUPS:
        visitor.popups.pop(next(iter(visitor.popups)))
    visitor.changed = True


def _affinity(visitor: Visitor, product: Any, weight: float, weights: Weights, now: int) -> None:
    if product is None or weight <= 0:
        return
    if visitor.affinity_at and now > visitor.affinity_at and weights.half_life_days > 0:
        factor = math.pow(0.5, (now - visitor.affinity_at) / (weights.half_life_days * 86400))
        if factor < 0.999:
            visitor.gender = {k: v * factor for k, v in visitor.gender.items() if v * factor > 0.05}
            visitor.category = {
                k: v * factor for k, v in visitor.category.items() if v * factor > 0.05
            }
    visitor.affinity_at = now
    # New dicts, never a change in place: copies of a visitor share them (Visitor).
    gender = product.gender
    if gender in ("women", "men", "kids"):
        visitor.gender = {**visitor.gender, gender: visitor.gender.get(gender, 0.0) + weight}
    cat = product.category
    scores = {**visitor.category, cat: visitor.category.get(cat, 0.0) + weight}
    if len(scores) > MAX_CATEGORIES:
        del scores[min(scores, key=scores.__getitem__)]
    visitor.category = scores


def weights_from(settings: Any) -> Weights:
    return Weights(
        settings.affinity_view,
        settings.affinity_cart,
        settings.affinity_purchase,
        settings.affinity_half_life_days,
    )
