"""What the rules' context derives from a cookie is worked out once per verified cookie.

The visitor.* and cart.* keys (the cart's totals, the leading affinities) are
kept with the codec's copy of a cookie it verified. These tests hold the kept figures to what a visitor
without them gets, and show they are not used once anything changed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from shopwindow.catalog.feed import Catalog
from shopwindow.catalog.generate import generate_catalog
from shopwindow.visitor.context import context_for
from shopwindow.visitor.cookie import CookieCodec, Visitor
from shopwindow.visitor.events import Event, Weights, apply

NOW = int(time.time())
CATALOG = Catalog(generate_catalog(200, seed=7))
CODEC = CookieCodec("memo-test-secret", 365)


def _ctx(visitor: Visitor, catalog: Any = CATALOG, lead: float = 0.5) -> dict[str, Any]:
    return context_for(visitor, catalog, lead=lead, tz=UTC, now=datetime.fromtimestamp(NOW, UTC))


def _shopper() -> Visitor:
    """Mostly one category, a little of another, two things in the cart."""
    visitor = Visitor.fresh(NOW)
    products = list(CATALOG.products.values())
    main = [p for p in products if p.category == products[0].category]
    other = next(p for p in products if p.category != products[0].category)
    for product in [*main[:3], other]:
        apply(visitor, Event("view", product_id=product.id), CATALOG, Weights(), NOW)
    for product in main[3:5]:
        apply(visitor, Event("add_to_cart", product_id=product.id), CATALOG, Weights(), NOW)
    return visitor


def _fresh_view(visitor: Visitor) -> Visitor:
    """The same visitor with nothing kept: what context_for works out from scratch."""
    copy = visitor.copy()
    copy.derived = None
    return copy


def test_a_returning_cookie_reuses_what_was_worked_out() -> None:
    cookie = CODEC.encode(_shopper())
    first = CODEC.decode(cookie)
    assert first is not None and first.derived == [] and not first.changed
    ctx = _ctx(first)
    assert first.derived  # kept with the verified cookie
    second = CODEC.decode(cookie)
    assert second is not None and second.derived is first.derived
    again = _ctx(second)
    assert again == ctx == _ctx(_fresh_view(second))
    assert ctx["cart.items"] == 2 and ctx["visitor.categories"]
    # Answers for the cookie share the kept keys, read only. A visitor changed later
    # (events replace its lists, never change them) leaves an answer's context as it was.
    assert again["visitor.categories"] is ctx["visitor.categories"]
    kept = {key: list(value) if isinstance(value, list) else value for key, value in ctx.items()}
    products = list(CATALOG.products.values())
    for kind in ("view", "add_to_cart"):
        apply(second, Event(kind, product_id=products[-1].id), CATALOG, Weights(), NOW + 99 * 86400)
    assert _ctx(second) != ctx
    assert ctx == kept and again == kept


def test_a_changed_visitor_is_worked_out_afresh() -> None:
    cookie = CODEC.encode(_shopper())
    warm = CODEC.decode(cookie)
    assert warm is not None
    before = _ctx(warm)
    visitor = CODEC.decode(cookie)
    assert visitor is not None
    product = next(p for p in CATALOG.products.values() if p.id not in visitor.viewed)
    for _ in range(5):
        apply(visitor, Event("add_to_cart", product_id=product.id), CATALOG, Weights(), NOW)
    after = _ctx(visitor)
    assert after["cart.items"] == before["cart.items"] + 5
    assert after == _ctx(_fresh_view(visitor))
    # The cookie's own copy is untouched by what happened to this one.
    assert _ctx(CODEC.decode(cookie)) == before  # type: ignore[arg-type]


def test_another_catalog_or_lead_is_worked_out_afresh() -> None:
    cookie = CODEC.encode(_shopper())
    visitor = CODEC.decode(cookie)
    assert visitor is not None
    _ctx(visitor)
    # A catalog reloaded without the cart's products: no categories from it.
    other = Catalog(generate_catalog(50, seed=99))
    assert _ctx(visitor)["cart.categories"]
    assert _ctx(visitor, other) == _ctx(_fresh_view(visitor), other)
    assert _ctx(visitor)["visitor.category"] is not None
    assert _ctx(visitor, lead=0.99)["visitor.category"] is None
    assert _ctx(visitor, lead=0.99) == _ctx(_fresh_view(visitor), lead=0.99)
    assert _ctx(visitor, lead=0.01) == _ctx(_fresh_view(visitor), lead=0.01)


def test_the_sites_own_cart_is_never_taken_from_the_kept_figures() -> None:
    cookie = CODEC.encode(_shopper())
    visitor = CODEC.decode(cookie)
    assert visitor is not None
    _ctx(visitor)
    site_cart = [[next(iter(CATALOG.products)), 3, 10.0]]
    ctx = context_for(
        visitor,
        CATALOG,
        lead=0.5,
        tz=UTC,
        now=datetime.fromtimestamp(NOW, UTC),
        cart=site_cart,
    )
    assert ctx["cart.items"] == 3 and ctx["cart.value"] == 30.0


def test_the_context_has_every_key_once_in_order() -> None:
    """context_for fills a copy of its key list: no key may be missed or added on the side."""
    from shopwindow.visitor.context import _ALL_KEYS, _VISITOR_KEYS, _visitor_keys

    shopper = _shopper()
    ctx = _ctx(shopper)
    assert list(ctx) == list(_ALL_KEYS)
    assert list(_visitor_keys(shopper, CATALOG, 0.5, shopper.cart)) == list(_VISITOR_KEYS)
    assert ctx["country"] == "" and ctx["path"] == "/" and ctx["visitor.id"]
