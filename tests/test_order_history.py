"""The order history the staff view shows, on both profile backends: receipts with their lines."""

from __future__ import annotations

from shopwindow.profiles.store import ProfileStore
from tests.test_profilestore import DAY, T0, line, store  # noqa: F401 - the shared backend fixture


def test_orders_are_receipts_with_their_lines_newest_first(store: ProfileStore) -> None:  # noqa: F811
    store.add_purchases(
        [
            line(product="shoe", price=90, at=T0),
            line(product="socks", price=9.5, full=False, at=T0),
            line(product="tee", price=25, store="", order_id="WEB-1", at=T0 + DAY),
            line(product="bag", price=60, store="Hamburg", at=T0 + 2 * DAY),
            line(customer="c2", product="other", at=T0 + 3 * DAY),
        ]
    )
    orders = store.orders("c1")
    assert [(o.channel, o.store, o.at) for o in orders] == [
        ("offline", "Hamburg", T0 + 2 * DAY),
        ("online", "", T0 + DAY),
        ("offline", "Berlin Mitte", T0),
    ]
    berlin = orders[-1]
    assert sorted(berlin.lines) == [("shoe", 9000, True), ("socks", 950, False)]
    assert berlin.total_cents == 9950
    assert orders[1].key == "online:WEB-1"
    assert [o.key for o in store.orders("c1", limit=2)] == [orders[0].key, orders[1].key]
    assert store.orders("nobody") == []


def test_a_reimport_adds_no_order_and_forget_erases_them(store: ProfileStore) -> None:  # noqa: F811
    batch = [line(product="shoe", at=T0), line(product="bag", store="Hamburg", at=T0 + DAY)]
    store.add_purchases(batch)
    first = store.orders("c1")
    assert store.add_purchases(batch) == 0
    assert store.orders("c1") == first
    assert store.forget("c1")
    assert store.orders("c1") == []
