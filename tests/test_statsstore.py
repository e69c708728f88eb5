"""The stats store's contract, run against SQLite and a real Redis alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from shopwindow.stats.store import (
    NO_SPLIT,
    Click,
    Exposure,
    Purchase,
    StatsLimits,
    StatsStore,
    Totals,
    Trace,
)
from shopwindow.stats.store_redis import RedisStatsStore
from shopwindow.stats.store_sqlite import SqliteStatsStore

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
HOUR = 3600.0
DAY = 86400.0
WINDOW = 24 * HOUR

Make = Callable[..., StatsStore]


def limits(**changes: Any) -> StatsLimits:
    values: dict[str, Any] = {
        "attribution_seconds": WINDOW,
        "retention_seconds": 90 * DAY,
        "decision_log_size": 5,
        "decision_log_seconds": 30 * DAY,
        "timezone": UTC,
    }
    values.update(changes)
    return StatsLimits(**values)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """Stores over one shared database: each call is another node (or a restarted one)."""
    opened: list[StatsStore] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_server").url

        def make(**changes: Any) -> StatsStore:
            store: StatsStore = RedisStatsStore(url, limits(**changes))
            opened.append(store)
            return store

    else:
        path = tmp_path / "shopwindow.sqlite3"

        def make(**changes: Any) -> StatsStore:
            store: StatsStore = SqliteStatsStore(path, limits(**changes))
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Make) -> StatsStore:
    return make_store()


def row(store: StatsStore, rule: str, variant: str, since: str | None = None) -> Totals:
    for totals in store.totals(since, rule):
        if totals.variant == variant:
            return totals
    return Totals(rule, variant)


def test_each_visitor_counts_once_and_every_exposure_counts(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "v1", "gender-home", "a"),
            Exposure(T0 + 1, "v1", "gender-home", "a"),
            Exposure(T0 + 2, "v2", "gender-home", "a"),
            Exposure(T0 + 3, "v3", "gender-home", "holdout"),
            Exposure(T0 + 4, "v3", "country-home", NO_SPLIT),
        ]
    )
    a = row(store, "gender-home", "a")
    assert (a.visitors, a.exposures) == (2, 3)
    held = row(store, "gender-home", "holdout")
    assert (held.visitors, held.exposures) == (1, 1)
    assert row(store, "country-home", NO_SPLIT).visitors == 1


def test_a_purchase_at_the_end_of_the_window_counts_and_one_second_later_does_not(
    store: StatsStore,
) -> None:
    store.apply(
        [
            Exposure(T0, "inside", "r", "a"),
            Exposure(T0, "outside", "r", "a"),
            Purchase(T0 + WINDOW, "inside", "o-1", 50.0),
            Purchase(T0 + WINDOW + 1, "outside", "o-2", 70.0),
        ]
    )
    a = row(store, "r", "a")
    assert (a.visitors, a.converters, a.orders, a.revenue) == (2, 1, 1, 50.0)


def test_a_purchase_before_the_first_exposure_is_not_attributed(store: StatsStore) -> None:
    store.apply([Purchase(T0 - 1, "v", "o-early", 10.0), Exposure(T0, "v", "r", "a")])
    store.apply([Purchase(T0 - 0.5, "v", "o-late-report", 10.0)])  # reported late, bought before
    assert row(store, "r", "a").converters == 0


def test_a_new_exposure_restarts_the_window(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "v", "r", "a"),
            Exposure(T0 + 20 * HOUR, "v", "r", "a"),
            Purchase(T0 + 40 * HOUR, "v", "o-1", 30.0),
        ]
    )
    assert row(store, "r", "a").converters == 1


def test_the_window_is_a_setting(make_store: Make) -> None:
    store = make_store(attribution_seconds=HOUR)
    store.apply([Exposure(T0, "v", "r", "a"), Purchase(T0 + HOUR + 1, "v", "o-1", 30.0)])
    assert row(store, "r", "a").converters == 0


def test_converters_are_distinct_orders_and_revenue_add_up(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "v", "r", "b"),
            Purchase(T0 + 10, "v", "o-1", 19.9),
            Purchase(T0 + 20, "v", "o-2", 30.1),
            Purchase(T0 + 30, "v", None, 5.0),  # a site that sends no order id
        ]
    )
    b = row(store, "r", "b")
    assert (b.converters, b.orders, b.revenue) == (1, 3, 55.0)


def test_the_same_order_sent_twice_counts_once(make_store: Make) -> None:
    node_a, node_b = make_store(), make_store()
    node_a.apply([Exposure(T0, "v", "r", "a"), Purchase(T0 + 5, "v", "o-9", 40.0)])
    node_b.apply([Purchase(T0 + 6, "v", "o-9", 40.0)])  # the beacon retried on another node
    a = row(node_a, "r", "a")
    assert (a.orders, a.revenue) == (1, 40.0)


def test_a_purchase_counts_for_every_rule_the_visitor_saw_recently(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "v", "gender-home", "a"),
            Exposure(T0 + 1, "v", "first-order", "holdout"),
            Exposure(T0 - 2 * WINDOW, "v", "old-rule", NO_SPLIT),
            Purchase(T0 + 60, "v", "o-1", 80.0),
        ]
    )
    assert row(store, "gender-home", "a").converters == 1
    assert row(store, "first-order", "holdout").converters == 1
    assert row(store, "old-rule", NO_SPLIT).converters == 0


def test_a_click_naming_a_rule_counts_for_that_rule_only(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "v", "gender-home", "b"),
            Exposure(T0, "v", "bag-discount", NO_SPLIT),
            Click(T0 + 5, "v", "bag-discount"),
            Click(T0 + 6, "v", "bag-discount"),
            Click(T0 + 7, "v", None),  # no rule named: every recent exposure
            Click(T0 + 8, "v", "never-shown"),
        ]
    )
    bag = row(store, "bag-discount", NO_SPLIT)
    assert (bag.clicks, bag.clickers) == (3, 1)
    home = row(store, "gender-home", "b")
    assert (home.clicks, home.clickers) == (1, 1)
    assert store.totals(rule="never-shown") == []


def test_a_visitor_moved_to_another_variant_counts_there_from_then_on(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "v", "r", "a"),
            Purchase(T0 + 1, "v", "o-1", 10.0),
            Exposure(T0 + 2, "v", "r", "b"),  # the weights changed and the cookie was lost
            Purchase(T0 + 3, "v", "o-2", 20.0),
        ]
    )
    a, b = row(store, "r", "a"), row(store, "r", "b")
    assert (a.visitors, a.converters, a.revenue) == (1, 1, 10.0)
    assert (b.visitors, b.converters, b.revenue) == (1, 1, 20.0)


def test_since_selects_visitors_by_the_day_they_first_saw_the_rule(store: StatsStore) -> None:
    store.apply(
        [
            Exposure(T0, "early", "r", "a"),  # 2023-11-14
            Exposure(T0 + DAY, "late", "r", "a"),  # 2023-11-15
            Purchase(T0 + DAY + 60, "early", "o-1", 10.0),  # early's window is over
            Exposure(T0 + DAY + 100, "early", "r", "a"),
            Purchase(T0 + DAY + 200, "early", "o-2", 10.0),
            Purchase(T0 + DAY + 300, "late", "o-3", 10.0),
        ]
    )
    everyone = row(store, "r", "a")
    assert (everyone.visitors, everyone.converters, everyone.orders) == (2, 2, 2)
    cohort = row(store, "r", "a", since="2023-11-15")
    assert (cohort.visitors, cohort.converters, cohort.orders) == (1, 1, 1)
    assert row(store, "r", "a", since="2023-11-16").visitors == 0


def test_rule_filter(store: StatsStore) -> None:
    store.apply([Exposure(T0, "v", "r1", "a"), Exposure(T0, "v", "r2", NO_SPLIT)])
    assert [t.rule for t in store.totals(rule="r2")] == ["r2"]
    assert sorted(t.rule for t in store.totals()) == ["r1", "r2"]


def test_counts_and_logs_outlive_the_store_object(make_store: Make) -> None:
    first = make_store()
    first.apply([Exposure(T0, "v", "r", "a")])
    first.close()
    again = make_store()
    again.apply([Purchase(T0 + 10, "v", "o-1", 12.5)])
    a = row(again, "r", "a")
    assert (a.visitors, a.converters, a.revenue) == (1, 1, 12.5)


def test_the_exposure_log_is_shared_by_nodes(make_store: Make) -> None:
    node_a, node_b = make_store(), make_store()
    node_a.apply([Exposure(T0, "v", "r", "a")])
    node_b.apply([Exposure(T0 + 1, "v", "r", "a"), Click(T0 + 2, "v", "r")])
    node_a.apply([Purchase(T0 + 3, "v", "o-1", 9.0)])
    a = row(node_b, "r", "a")
    assert (a.visitors, a.exposures, a.clickers, a.converters) == (1, 2, 1, 1)


def test_counters_are_kept_when_old_exposure_logs_are_pruned(store: StatsStore) -> None:
    store.apply([Exposure(T0, "v", "r", "a"), Purchase(T0 + 1, "v", "o-1", 3.0)])
    store.prune(T0 + 365 * DAY)
    a = row(store, "r", "a")
    assert (a.visitors, a.converters) == (1, 1)


def test_a_visitor_back_after_the_retention_counts_as_new(store: StatsStore) -> None:
    store.apply([Exposure(T0, "v", "r", "a"), Exposure(T0 + 91 * DAY, "v", "r", "a")])
    assert row(store, "r", "a").visitors == 2


def trace(at: float, visitor: str, customer: str | None = None) -> Trace:
    return Trace(
        at=at,
        visitor=visitor,
        customer=customer,
        path="/",
        placement="homepage",
        labels=("gender-home:a",),
        rules={"gender-home": {"variant": "a", "read": {"visitor.gender": "women"}}},
    )


def test_the_decision_log_keeps_the_newest_entries_only(make_store: Make) -> None:
    import time

    store = make_store()
    now = time.time()
    store.apply([trace(now + i, f"v{i}") for i in range(8)])
    kept = store.traces(limit=100)
    assert [t.visitor for t in kept] == ["v7", "v6", "v5", "v4", "v3"]
    assert kept[0].rules["gender-home"]["read"] == {"visitor.gender": "women"}


def test_the_decision_log_answers_for_one_visitor_or_customer(store: StatsStore) -> None:
    import time

    now = time.time()
    store.apply(
        [
            trace(now, "shopper", "c-42"),
            trace(now + 1, "someone-else"),
            trace(now + 2, "shopper", "c-42"),
        ]
    )
    assert [t.at for t in store.traces(visitor="shopper")] == [now + 2, now]
    assert len(store.traces(customer="c-42", limit=1)) == 1
    assert store.traces(visitor="nobody") == []


def test_the_decision_log_forgets_entries_past_its_retention(make_store: Make) -> None:
    import time

    store = make_store(decision_log_seconds=DAY)
    now = time.time()
    store.apply([trace(now - 2 * DAY, "old"), trace(now, "new")])
    assert [t.visitor for t in store.traces()] == ["new"]
    store.prune(now)
    assert [t.visitor for t in make_store(decision_log_seconds=365 * DAY).traces()] == ["new"]


@pytest.mark.redis
def test_redis_keys_are_prefixed_and_visitor_logs_expire(redis_server: Any) -> None:
    import redis

    store = RedisStatsStore(redis_server.url, limits(retention_seconds=7 * DAY))
    store.apply([Exposure(T0, "v", "r", "a"), trace(T0, "v")])
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    keys = sorted(client.keys("*"))
    assert keys and all(k.startswith("sw:stats:") for k in keys)
    assert 0 < client.ttl("sw:stats:x:v") <= 7 * DAY
    client.close()
    store.close()
