"""One suite, both profile backends: SQLite in a temp folder and a real redis-server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopwindow.profiles.model import Activity, PurchaseLine, email_hash, order_key
from shopwindow.profiles.store import ProfileStore, StoreUnavailable
from shopwindow.profiles.store_redis import RedisProfiles
from shopwindow.profiles.store_sqlite import SQLiteProfiles

DAY = 86400
T0 = 1_700_000_000


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    backend: ProfileStore
    if request.param == "sqlite":
        backend = SQLiteProfiles(str(tmp_path / "profiles.sqlite3"))
    else:
        server = request.getfixturevalue("redis_server")
        # A patient timeout: this suite checks what is stored, not how fast.
        backend = RedisProfiles(server.url, timeout=2.0)
    yield backend
    backend.close()


def line(
    customer: str = "c1",
    product: str = "sku-1",
    price: float = 10.0,
    *,
    full: bool = True,
    store: str = "Berlin Mitte",
    at: int = T0,
    order_id: str | None = None,
    email: str = "",
) -> PurchaseLine:
    channel = "offline" if store else "online"
    return PurchaseLine(
        customer,
        product,
        round(price * 100),
        full,
        store,
        at,
        order_key(channel, order_id, store, at),
        email_hash(email, "s") if email else "",
    )


def test_an_unknown_customer_has_no_profile(store: ProfileStore) -> None:
    assert store.get("nobody") is None
    assert store.customer_for_email(email_hash("x@example.com", "s")) is None


def test_orders_count_per_receipt_online_and_in_store(store: ProfileStore) -> None:
    added = store.add_purchases(
        [
            line(product="a", price=49.9, at=T0),  # one receipt, two lines
            line(product="b", price=19.9, full=False, at=T0),
            line(product="c", price=5, store="Hamburg", at=T0 + DAY),
            line(product="d", price=30, store="", at=T0 + 2 * DAY, order_id="W1"),
        ]
    )
    assert added == 4
    p = store.get("c1")
    assert p is not None
    assert (p.offline_orders, p.online_orders, p.orders) == (2, 1, 3)
    assert p.lifetime_value_cents == 4990 + 1990 + 500 + 3000
    assert p.lifetime_value == pytest.approx(104.8)
    assert (p.first_seen, p.last_seen) == (T0, T0 + 2 * DAY)


def test_a_reimport_adds_nothing(store: ProfileStore) -> None:
    lines = [line(product=f"p{n}", at=T0 + n) for n in range(30)]
    assert store.add_purchases(lines) == 30
    before = store.get("c1")
    assert store.add_purchases(lines) == 0
    assert store.add_purchases([*lines[:5], line(product="new", at=T0 + 1000)]) == 1
    after = store.get("c1")
    assert before is not None and after is not None
    assert after.offline_orders == before.offline_orders + 1
    assert after.lifetime_value_cents == before.lifetime_value_cents + 1000


def test_the_same_line_twice_in_one_batch_counts_once(store: ProfileStore) -> None:
    assert store.add_purchases([line(), line()]) == 1
    p = store.get("c1")
    assert p is not None and p.lifetime_value_cents == 1000


def test_preferred_store_has_most_orders_then_the_latest_sale(store: ProfileStore) -> None:
    store.add_purchases(
        [
            line(product="a", store="Hamburg", at=T0),
            line(product="b", store="Hamburg", at=T0),  # same receipt: still one order
            line(product="c", store="Berlin", at=T0 + 10),
        ]
    )
    p = store.get("c1")
    assert p is not None and p.preferred_store == "Berlin"  # 1:1 orders, Berlin sold last
    store.add_purchases([line(product="d", store="Hamburg", at=T0 + 5)])
    p = store.get("c1")
    assert p is not None and p.preferred_store == "Hamburg"  # 2 orders to 1


def test_online_only_customers_have_no_preferred_store(store: ProfileStore) -> None:
    store.add_purchases([line(store="", order_id="W9")])
    p = store.get("c1")
    assert p is not None and p.preferred_store is None and p.online_orders == 1


def test_products_newest_first_and_full_price_once_is_full_price(store: ProfileStore) -> None:
    store.add_purchases(
        [
            line(product="shoe", full=False, at=T0),
            line(product="bag", full=False, at=T0 + 1),
            line(product="shoe", full=True, at=T0 + 2, price=99),
        ]
    )
    p = store.get("c1")
    assert p is not None
    assert p.products == (("shoe", True), ("bag", False))
    assert p.full_price == ["shoe"]


def test_customers_are_apart(store: ProfileStore) -> None:
    store.add_purchases([line("c1"), line("c2", price=3), line("c1:x", price=7)])
    one, two, odd = store.get("c1"), store.get("c2"), store.get("c1:x")
    assert one is not None and two is not None and odd is not None
    assert (one.lifetime_value_cents, two.lifetime_value_cents, odd.lifetime_value_cents) == (
        1000,
        300,
        700,
    )


def test_email_is_stored_as_a_keyed_hash_and_finds_the_customer(store: ProfileStore) -> None:
    store.add_purchases([line("c7", email="Anna@Example.com ")])
    digest = email_hash("anna@example.com", "s")
    assert store.customer_for_email(digest) == "c7"
    p = store.get("c7")
    assert p is not None and p.email_hash == digest
    assert "anna" not in repr(p).lower()
    assert email_hash("anna@example.com", "another secret") != digest


def test_activity_alone_makes_a_customer_known(store: ProfileStore) -> None:
    store.update_activity({"c3": Activity(viewed=("a",), first_seen=T0, last_seen=T0)})
    p = store.get("c3")
    assert p is not None and p.orders == 0 and p.activity.viewed == ("a",)
    assert (p.first_seen, p.last_seen) == (T0, T0)


def test_activity_reports_merge(store: ProfileStore) -> None:
    store.update_activity(
        {
            "c1": Activity(
                viewed=("a", "b"),
                gender={"women": 3.0},
                category={"boots": 2.0},
                affinity_at=T0,
                cart=(("a", 1, 50.0),),
                popups={"first-order": (1, 2, 1, 100, 1, 0)},
                first_seen=T0,
                last_seen=T0,
            )
        }
    )
    store.update_activity(
        {
            "c1": Activity(
                viewed=("c", "a"),
                gender={"women": 1.0, "men": 2.0},
                category={"bags": 1.0},
                affinity_at=T0,
                cart=None,  # this device said nothing about the cart
                popups={"first-order": (1, 1, 1, 100, 1, T0 + 60), "bag": (1, 1, 1, 101, 1, 0)},
                first_seen=T0 + 100,
                last_seen=T0 + 100,
            )
        }
    )
    p = store.get("c1")
    assert p is not None
    act = p.activity
    assert act.viewed == ("c", "a", "b")
    assert act.gender == {"women": 3.0, "men": 2.0}
    assert act.category == {"boots": 2.0, "bags": 1.0}
    assert act.cart == (("a", 1, 50.0),)
    assert act.popups["first-order"] == (1, 2, 1, 100, 1, T0 + 60)
    assert act.popups["bag"] == (1, 1, 1, 101, 1, 0)
    assert (p.first_seen, p.last_seen) == (T0, T0 + 100)
    store.update_activity({"c1": Activity(cart=())})
    p = store.get("c1")
    assert p is not None and p.activity.cart == () and p.activity.viewed == ("c", "a", "b")


def test_concurrent_writers_lose_nothing(store: ProfileStore) -> None:
    """Two nodes' flushers writing the same customer at once: every popup survives."""
    errors: list[Exception] = []

    def write(prefix: str) -> None:
        try:
            for n in range(15):
                store.update_activity({"c1": Activity(popups={f"{prefix}{n}": (1, 1, 1, n, 1, 0)})})
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    p = store.get("c1")
    assert p is not None
    # 30 rules written, the store keeps the 12 most recent: days 9..14 of both writers.
    assert set(p.activity.popups) == {f"{x}{n}" for x in "ab" for n in range(9, 15)}


def test_ping(store: ProfileStore) -> None:
    store.ping()


def test_sqlite_in_a_folder_that_does_not_exist_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteProfiles(str(tmp_path / "missing" / "p.sqlite3"))
    with pytest.raises(StoreUnavailable):
        store.get("c1")
    with pytest.raises(StoreUnavailable):
        store.add_purchases([line()])


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "p.sqlite3"
    SQLiteProfiles(str(path)).add_purchases([line()])
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.redis
def test_redis_down_is_unavailable_not_an_error(redis_server: object) -> None:
    from tests.conftest import RedisServer

    assert isinstance(redis_server, RedisServer)
    store = RedisProfiles(redis_server.url, timeout=0.05, bulk_timeout=0.05)
    store.add_purchases([line()])
    redis_server.stop()
    with pytest.raises(StoreUnavailable):
        store.get("c1")
    with pytest.raises(StoreUnavailable):
        store.add_purchases([line(product="x")])
    redis_server.start()
    assert store.get("c1") is None  # a fresh server (no persistence in the fixture): reachable
    store.close()


@pytest.mark.redis
def test_redis_keys_live_under_the_profile_prefix(redis_server: object) -> None:
    import redis

    from tests.conftest import RedisServer

    assert isinstance(redis_server, RedisServer)
    store = RedisProfiles(redis_server.url, timeout=1.0)
    store.add_purchases([line(email="a@example.com")])
    store.update_activity({"c1": Activity(viewed=("a",))})
    keys = sorted(k.decode() for k in redis.Redis.from_url(redis_server.url).keys("*"))
    assert keys and all(k.startswith("sw:profile:") for k in keys)
    store.close()


def test_forget_erases_a_customer_and_only_them(store: ProfileStore) -> None:
    store.add_purchases([line("c1", email="a@example.com"), line("c2", email="b@example.com")])
    store.update_activity({"c1": Activity(viewed=("a",))})
    assert store.forget("c1") is True
    assert store.get("c1") is None
    assert store.customer_for_email(email_hash("a@example.com", "s")) is None
    assert store.customer_for_email(email_hash("b@example.com", "s")) == "c2"
    assert store.get("c2") is not None
    assert store.forget("c1") is False
    # Erased means a re-import starts afresh, not "already there".
    assert store.add_purchases([line("c1")]) == 1


def test_an_order_reported_again_later_is_the_same_order(store: ProfileStore) -> None:
    """A beacon retried a second later, or an export with a corrected time."""
    first = line(store="", order_id="W-7", at=T0)
    assert store.add_purchases([first]) == 1
    assert store.add_purchases([line(store="", order_id="W-7", at=T0 + 1)]) == 0
    p = store.get("c1")
    assert p is not None and (p.online_orders, p.lifetime_value_cents) == (1, 1000)


def test_drop_reminders_are_listed_per_drop_once_per_customer(store: ProfileStore) -> None:
    store.remind("c1", "capsule-drop", T0)
    store.remind("c2", "capsule-drop", T0 + 5)
    store.remind("c1", "capsule-drop", T0 + 9)  # asked again: still one reminder
    store.remind("c2", "winter-drop", T0 + 1)
    assert [(r.drop, r.customer_id, r.at) for r in store.reminders()] == [
        ("capsule-drop", "c2", T0 + 5),
        ("capsule-drop", "c1", T0 + 9),
        ("winter-drop", "c2", T0 + 1),
    ]
    assert [r.customer_id for r in store.reminders("winter-drop")] == ["c2"]
    assert store.reminders("no-such-drop") == []


def test_forget_erases_a_customers_drop_reminders(store: ProfileStore) -> None:
    store.remind("c1", "capsule-drop", T0)
    store.remind("c2", "capsule-drop", T0)
    assert store.forget("c1") is True
    assert [r.customer_id for r in store.reminders()] == ["c2"]
