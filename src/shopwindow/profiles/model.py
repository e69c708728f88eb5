"""The 360 profile of a customer, and the pure rules that merge what devices and stores report."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from shopwindow.visitor.cookie import (
    MAX_CART,
    MAX_CATEGORIES,
    MAX_FULL_PRICE,
    MAX_POPUPS,
    MAX_VIEWED,
)

MAX_PRODUCTS = 50  # products bought that a profile read returns, newest first
GENDER_KEYS = 4

# A popup history entry, as visitor.popups keeps it (see events.record_popup):
# [shown total, session of last show, shown in that session,
#  day of last show, shown that day, dismissed at (epoch s)]
PopupEntry = list[int]


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    """One product bought: a line of a store receipt or of an online order."""

    customer_id: str
    product_id: str
    price_cents: int
    full_price: bool
    store: str  # "" for an online order
    at: int  # epoch seconds
    order_key: str  # lines with the same key are one order
    email_hash: str = ""

    @property
    def channel(self) -> str:
        return "offline" if self.store else "online"

    @property
    def key(self) -> str:
        """What makes a line the same line again: a re-import of it adds nothing.

        The moment of sale is in the order key when there is no order id; with
        one, a beacon retried a second later is still the same line.
        """
        text = "\x1f".join(
            (
                self.customer_id,
                self.order_key,
                self.product_id,
                str(self.price_cents),
                "1" if self.full_price else "0",
                self.store,
            )
        )
        digest = hashlib.blake2b(text.encode(), digest_size=12).digest()
        return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Order:
    """One order as the store keeps it: a store receipt or an online order, with its lines."""

    key: str
    store: str  # "" for an online order
    at: int  # epoch seconds of its latest line
    lines: tuple[tuple[str, int, bool], ...]  # (product id, price in cents, full price)

    @property
    def channel(self) -> str:
        return "offline" if self.store else "online"

    @property
    def total_cents(self) -> int:
        return sum(cents for _, cents, _ in self.lines)


MAX_ORDERS = 50  # orders a history read returns, newest first


def orders_of(lines: Iterable[tuple[str, str, int, str, int, bool]], limit: int) -> list[Order]:
    """(order key, store, at, product id, cents, full price) rows, newest first, as orders."""
    grouped: dict[str, list[tuple[str, str, int, str, int, bool]]] = {}
    for row in lines:
        group = grouped.get(row[0])
        if group is None:
            if len(grouped) >= limit:
                continue
            group = grouped[row[0]] = []
        group.append(row)
    return [
        Order(
            key=key,
            store=rows[0][1],
            at=max(r[2] for r in rows),
            lines=tuple((r[3], r[4], r[5]) for r in rows),
        )
        for key, rows in grouped.items()
    ]


def order_key(channel: str, order_id: str | None, store: str, at: int) -> str:
    """Lines of one order share a key: its order id, else the store and the moment of sale."""
    if order_id:
        return f"{channel}:{order_id}"
    return f"{channel}:{store}@{at}"


@dataclass(frozen=True, slots=True)
class Activity:
    """What devices report of an identified customer: views, affinity, cart, popup history."""

    viewed: tuple[str, ...] = ()  # newest first
    gender: Mapping[str, float] = field(default_factory=dict)
    category: Mapping[str, float] = field(default_factory=dict)
    affinity_at: int = 0
    cart: tuple[tuple[str, int, float], ...] | None = None  # None: this report says nothing
    popups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    first_seen: int = 0
    last_seen: int = 0

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "r": list(self.viewed),
                "g": dict(self.gender),
                "c": dict(self.category),
                "a": self.affinity_at,
                "k": [list(line) for line in self.cart] if self.cart is not None else None,
                "u": {k: list(v) for k, v in self.popups.items()},
                "f": self.first_seen,
                "t": self.last_seen,
            }
        )

    @staticmethod
    def from_json(raw: bytes | str | None) -> Activity:
        """What a store holds; anything unreadable reads as no activity (never an error)."""
        if not raw:
            return NO_ACTIVITY
        try:
            d = orjson.loads(raw)
            cart = d.get("k")
            return Activity(
                viewed=tuple(str(p) for p in d.get("r", ()))[:MAX_VIEWED],
                gender={str(k): float(v) for k, v in d.get("g", {}).items()},
                category={str(k): float(v) for k, v in d.get("c", {}).items()},
                affinity_at=int(d.get("a", 0)),
                cart=tuple((str(p), int(q), float(x)) for p, q, x in cart)
                if cart is not None
                else None,
                popups={
                    str(k): tuple(int(n) for n in v)
                    for k, v in d.get("u", {}).items()
                    if isinstance(v, list) and len(v) == 6
                },
                first_seen=int(d.get("f", 0)),
                last_seen=int(d.get("t", 0)),
            )
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
            return NO_ACTIVITY


NO_ACTIVITY = Activity()


@dataclass(frozen=True, slots=True)
class DropReminder:
    """An identified customer asked to hear when a drop (its scheduled rule) opens."""

    drop: str
    customer_id: str
    at: int  # epoch seconds of the (latest) ask

    def to_json(self) -> dict[str, Any]:
        return {"drop": self.drop, "customer_id": self.customer_id, "at": self.at}


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything the profile store knows of one customer, online and in store."""

    customer_id: str
    online_orders: int = 0
    offline_orders: int = 0
    lifetime_value_cents: int = 0
    preferred_store: str | None = None
    first_seen: int = 0
    last_seen: int = 0
    email_hash: str = ""
    products: tuple[tuple[str, bool], ...] = ()  # (product id, ever bought at full price)
    activity: Activity = NO_ACTIVITY

    @property
    def orders(self) -> int:
        return self.online_orders + self.offline_orders

    @property
    def lifetime_value(self) -> float:
        return self.lifetime_value_cents / 100

    @property
    def full_price(self) -> list[str]:
        return [pid for pid, full in self.products if full]

    def to_json(self) -> dict[str, Any]:
        """For operators (`shopwindow profile show`), never for visitors."""
        act = self.activity
        return {
            "customer_id": self.customer_id,
            "orders": self.orders,
            "online_orders": self.online_orders,
            "offline_orders": self.offline_orders,
            "lifetime_value": self.lifetime_value,
            "preferred_store": self.preferred_store,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "email_hash": self.email_hash,
            "products": [{"product_id": p, "full_price": f} for p, f in self.products],
            "viewed": list(act.viewed),
            "affinity": {"gender": dict(act.gender), "category": dict(act.category)},
            "cart": [list(line) for line in act.cart or ()],
            "popups": {k: list(v) for k, v in act.popups.items()},
        }


def seen_span(*pairs: tuple[int, int]) -> tuple[int, int]:
    """First and last seen over several sources; 0 means 'never'."""
    firsts = [f for f, _ in pairs if f]
    lasts = [t for _, t in pairs if t]
    return (min(firsts) if firsts else 0, max(lasts) if lasts else 0)


def email_hash(email: str, secret: str) -> str:
    """An email as the store keeps it: keyed with the shop's secret, so it cannot be reversed
    by hashing a list of addresses without that secret."""
    normal = email.strip().lower()
    mac = hmac.new(secret.encode(), b"shopwindow.email:" + normal.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


# --- merging -----------------------------------------------------------------


def merge_popup(a: Sequence[int] | None, b: Sequence[int] | None) -> tuple[int, ...]:
    """Two devices' history of one popup: the most of each count, the newest dismissal.

    (session, shown that session) and (day, shown that day) are kept as pairs:
    the later session or day wins, and on the same one the larger count.
    """
    if a is None:
        return tuple(b or (0, 0, 0, 0, 0, 0))
    if b is None:
        return tuple(a)
    session = max((a[1], a[2]), (b[1], b[2]))
    day = max((a[3], a[4]), (b[3], b[4]))
    return (max(a[0], b[0]), *session, *day, max(a[5], b[5]))


def popup_recency(entry: Sequence[int]) -> int:
    return max(entry[3] * 86400, entry[5])


def merge_popups(
    old: Mapping[str, Sequence[int]], new: Mapping[str, Sequence[int]]
) -> dict[str, tuple[int, ...]]:
    merged = {rule: merge_popup(old.get(rule), new.get(rule)) for rule in {*old, *new}}
    newest = sorted(merged, key=lambda r: (popup_recency(merged[r]), r))[-MAX_POPUPS:]
    return {rule: merged[rule] for rule in newest}


def decayed(
    scores: Mapping[str, float], since: int, until: int, half_life_days: float
) -> dict[str, float]:
    if until <= since or half_life_days <= 0 or not since:
        return dict(scores)
    factor = math.pow(0.5, (until - since) / (half_life_days * 86400))
    return {k: v * factor for k, v in scores.items() if v * factor > 0.05}


def merge_scores(
    a: Mapping[str, float],
    a_at: int,
    b: Mapping[str, float],
    b_at: int,
    half_life_days: float,
    cap: int,
) -> tuple[dict[str, float], int]:
    """Affinity from two devices: both decayed to the newer moment, then the larger per key."""
    at = max(a_at, b_at)
    x = decayed(a, a_at, at, half_life_days)
    y = decayed(b, b_at, at, half_life_days)
    out = {k: round(max(x.get(k, 0.0), y.get(k, 0.0)), 3) for k in {*x, *y}}
    if len(out) > cap:
        out = dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))[:cap])
    return out, at


def newest_unique(*lists: Iterable[str], cap: int) -> tuple[str, ...]:
    out: list[str] = []
    for items in lists:
        for item in items:
            if item not in out:
                out.append(item)
                if len(out) == cap:
                    return tuple(out)
    return tuple(out)


def merge_activity(old: Activity, new: Activity, half_life_days: float) -> Activity:
    """A device's report folded into what the store holds (the report's views come first)."""
    gender, at = merge_scores(
        old.gender, old.affinity_at, new.gender, new.affinity_at, half_life_days, GENDER_KEYS
    )
    category, _ = merge_scores(
        old.category, old.affinity_at, new.category, new.affinity_at, half_life_days, MAX_CATEGORIES
    )
    first, last = seen_span((old.first_seen, old.last_seen), (new.first_seen, new.last_seen))
    return Activity(
        viewed=newest_unique(new.viewed, old.viewed, cap=MAX_VIEWED),
        gender=gender,
        category=category,
        affinity_at=at,
        cart=(new.cart if new.cart is not None else old.cart),
        popups=merge_popups(old.popups, new.popups),
        first_seen=first,
        last_seen=last,
    )


def cart_of(lines: Sequence[Sequence[Any]]) -> tuple[tuple[str, int, float], ...]:
    return tuple((str(p), int(q), float(x)) for p, q, x in lines[:MAX_CART])


def full_price_union(own: Sequence[str], profile: Profile) -> list[str]:
    return list(newest_unique(own, profile.full_price, cap=MAX_FULL_PRICE))
