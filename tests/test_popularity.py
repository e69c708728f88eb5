"""Popular now: decayed counts in process and in a real Redis, fed by beacon events."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from shopwindow.app import create_app
from shopwindow.catalog.popularity import (
    REBASE_HALF_LIVES,
    LocalPopularity,
    RedisPopularity,
    store_for,
)
from shopwindow.settings import Settings
from tests.conftest import RedisServer, free_port

FRAGMENT = "/_sw/fragments/recommendations"
JSON = {"accept": "application/json"}


def degraded() -> float:
    value = REGISTRY.get_sample_value("shopwindow_degraded_total", {"part": "popularity"})
    return value or 0.0


def popular_of(client: TestClient, product_id: str = "w-run-004") -> list[str]:
    response = client.get(FRAGMENT, params={"product_id": product_id}, headers=JSON)
    assert response.status_code == 200
    lists = {r["name"]: [p["id"] for p in r["products"]] for r in response.json()["lists"]}
    return lists.get("popular", [])


def quiet_hoodie(client: TestClient) -> str:
    """An in-stock women's hoodie that the feed ranks far from the top."""
    snap = client.app.state.shop.snapshot  # type: ignore[attr-defined]
    best = list(snap.catalog.best_sellers("women"))
    hoodies = [p for p in best if p.category == "hoodies" and p.gender == "women"]
    pick = hoodies[-1]
    assert best.index(pick) > 40
    return str(pick.id)


# --- in process -------------------------------------------------------------------------


def test_older_events_count_half_per_half_life() -> None:
    store = LocalPopularity(half_life=100.0, refresh=0.0)
    store.record("old", 4.0, now=1000.0)
    store.record("new", 3.0, now=1100.0)
    ranking = store.ranking(now=1100.0)
    assert ranking.ids == ("new", "old")
    assert ranking.scores == pytest.approx((3.0, 2.0))


def test_scores_stay_finite_and_ordered_over_many_half_lives() -> None:
    store = LocalPopularity(half_life=1.0, refresh=0.0)
    for step in range(10 * REBASE_HALF_LIVES):
        store.record("steady", 1.0, now=float(step))
    store.record("burst", 10.0, now=10.0 * REBASE_HALF_LIVES)
    ranking = store.ranking(now=10.0 * REBASE_HALF_LIVES)
    assert ranking.ids == ("burst", "steady")
    # One a half-life, the last a half-life ago: 1/2 + 1/4 + 1/8 + ... = 1.
    assert ranking.scores[1] == pytest.approx(1.0, rel=0.01)


def test_memory_stays_bounded_and_keeps_the_most_popular() -> None:
    store = LocalPopularity(half_life=3600.0, max_products=10, refresh=0.0)
    for n in range(1000):
        store.record(f"p{n}", float(n % 100), now=0.0)
        assert len(store) <= 12
    assert set(store.ranking(now=0.0).ids) <= {f"p{n}" for n in range(1000) if n % 100 >= 89}


def test_the_ranking_is_recomputed_at_most_once_per_refresh_and_versioned_by_order() -> None:
    store = LocalPopularity(half_life=3600.0, refresh=1.0)
    store.record("a", 1.0, now=0.0)
    first = store.ranking(now=0.0)
    store.record("b", 5.0, now=0.5)
    assert store.ranking(now=0.5) is first
    second = store.ranking(now=1.0)
    assert second.ids == ("b", "a") and second.version == first.version + 1
    store.record("b", 1.0, now=2.0)
    third = store.ranking(now=2.0)
    assert third.ids == second.ids and third.version == second.version


def test_without_redis_the_shop_counts_in_process() -> None:
    assert isinstance(store_for("", 6.0), LocalPopularity)
    assert isinstance(store_for("redis://127.0.0.1:1/0", 6.0), RedisPopularity)


def test_a_purchase_puts_a_product_first_in_popular_now_for_every_visitor(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    hoodie = quiet_hoodie(client)
    assert hoodie not in popular_of(client)
    client.post(
        "/_sw/events",
        json={"type": "purchase", "items": [{"product_id": hoodie, "price": 40}]},
    )
    client.cookies.clear()  # another visitor
    deadline = time.monotonic() + 5  # the ranking is taken again at most once a second
    while popular_of(client)[:1] != [hoodie]:
        assert time.monotonic() < deadline, "the purchase never made it popular"
        time.sleep(0.1)


def test_bots_declined_consent_and_unknown_products_do_not_count(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    store = client.app.state.shop.services.outofstock.popularity  # type: ignore[attr-defined]
    hoodie = quiet_hoodie(client)
    view = {"type": "view", "product_id": hoodie}
    bot = {"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
    assert client.post("/_sw/events", json=view, headers=bot).status_code == 200
    assert client.post("/_sw/events", json=view, headers={"sec-gpc": "1"}).status_code == 200
    ghost = {"type": "purchase", "items": [{"product_id": "not-in-feed", "price": 1}]}
    assert client.post("/_sw/events", json=ghost).status_code == 200
    assert len(store) == 0
    assert client.post("/_sw/events", json=[view, view, view]).status_code == 200
    assert len(store) == 1
    assert store.ranking(time.time()).scores == pytest.approx((1.0,), rel=0.01)


# --- Redis ------------------------------------------------------------------------------


@pytest.fixture
def nodes(redis_server: RedisServer) -> Iterator[Callable[..., RedisPopularity]]:
    made: list[RedisPopularity] = []

    def node(**kw: float) -> RedisPopularity:
        store = RedisPopularity(redis_server.url, kw.pop("half_life", 100.0), **kw)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield node
    for store in made:
        store.close()


@pytest.mark.redis
def test_nodes_share_one_ranking_through_redis(nodes: Callable[..., RedisPopularity]) -> None:
    a, b = nodes(), nodes()
    a.record("x", 2.0, now=1000.0)
    b.record("y", 1.0, now=1000.0)
    b.record("x", 2.0, now=1000.0)
    a.sync(now=1000.0)
    b.sync(now=1000.0)
    a.sync(now=1000.0)
    for node in (a, b):
        assert node.healthy
        ranking = node.ranking(now=1000.0)
        assert ranking.ids == ("x", "y")
        assert ranking.scores == pytest.approx((4.0, 1.0))


@pytest.mark.redis
def test_redis_scores_decay_by_half_life(nodes: Callable[..., RedisPopularity]) -> None:
    node = nodes(half_life=10.0)
    node.record("old", 4.0, now=5000.0)
    node.sync(now=5000.0)
    node.record("new", 3.0, now=5010.0)
    node.sync(now=5010.0)
    ranking = node.ranking(now=5010.0)
    assert ranking.ids == ("new", "old")
    assert ranking.scores == pytest.approx((3.0, 2.0))


@pytest.mark.redis
def test_a_new_period_carries_the_last_ones_scores_once(
    nodes: Callable[..., RedisPopularity], redis_server: RedisServer
) -> None:
    span = 1.0 * REBASE_HALF_LIVES
    end = 1000 * span + span - 1  # one half-life before period 1001 starts
    a, b = nodes(half_life=1.0), nodes(half_life=1.0)
    a.record("x", 16.0, now=end)
    a.sync(now=end)
    later = 1001 * span + 1  # two half-lives later, in the next period
    a.record("y", 1.0, now=later)
    a.sync(now=later)
    b.sync(now=later)
    for node in (a, b):
        ranking = node.ranking(now=later)
        assert ranking.ids == ("x", "y")
        assert ranking.scores == pytest.approx((4.0, 1.0))
    client = redis.Redis.from_url(redis_server.url)
    assert client.exists(a.key(1001)) and client.ttl(a.key(1001)) > 0
    client.close()


@pytest.mark.redis
def test_the_shared_set_stays_bounded(
    nodes: Callable[..., RedisPopularity], redis_server: RedisServer
) -> None:
    node = nodes(max_products=5)
    for n in range(40):
        node.record(f"p{n}", float(n), now=100.0)
    node.sync(now=100.0)
    client = redis.Redis.from_url(redis_server.url)
    assert client.zcard(node.key(node._period(100.0)[0])) <= 5
    client.close()
    assert node.ranking(now=100.0).ids == ("p39", "p38", "p37", "p36", "p35")


@pytest.mark.redis
def test_redis_down_serves_local_counts_counts_it_and_catches_up_when_back(
    nodes: Callable[..., RedisPopularity], redis_server: RedisServer
) -> None:
    node = nodes(retry_after=5.0)
    node.record("before", 1.0, now=100.0)
    node.sync(now=100.0)
    assert node.healthy
    redis_server.stop()
    node.record("during", 5.0, now=101.0)
    failures = degraded()
    node.sync(now=101.0)
    assert degraded() == failures + 1
    assert not node.healthy
    assert node.ranking(now=101.0).ids == ("during", "before")  # this node's own counts
    node.sync(now=102.0)  # within retry_after: not even tried
    assert degraded() == failures + 1
    redis_server.start()
    node.sync(now=107.0)
    assert node.healthy
    other = nodes()
    other.sync(now=107.0)
    assert other.ranking(now=107.0).ids == ("during",)  # "before" was lost with the server


def test_a_redis_that_never_answers_times_out_into_local_counts() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts connections, never speaks
        port = silent.getsockname()[1]
        node = RedisPopularity(f"redis://127.0.0.1:{port}/0", 100.0, timeout=0.05)
        node.record("x", 1.0, now=10.0)
        failures = degraded()
        node.sync(now=10.0)
        node.close()
    assert degraded() == failures + 1
    assert node.ranking(now=10.0).ids == ("x",)


def test_a_shop_whose_redis_is_down_still_recommends_and_reports_it(
    make_client: Callable[..., TestClient],
) -> None:
    failures = degraded()
    client = make_client(redis=f"redis://127.0.0.1:{free_port()}/0")
    assert degraded() >= failures + 1
    hoodie = quiet_hoodie(client)
    client.post("/_sw/events", json={"type": "purchase", "items": [{"product_id": hoodie}]})
    client.cookies.clear()  # the buyer's own answer leaves out what they bought
    assert popular_of(client)[0] == hoodie
    metrics = client.get("/metrics").text
    assert 'shopwindow_degraded_total{part="popularity"}' in metrics


@pytest.mark.redis
def test_shops_sharing_redis_share_popular_now(
    make_client: Callable[..., TestClient], redis_server: RedisServer
) -> None:
    one = make_client(redis=redis_server.url, popular_sync_seconds=0.05)
    other = make_client(redis=redis_server.url, popular_sync_seconds=0.05)
    hoodie = quiet_hoodie(one)
    assert hoodie not in popular_of(other)
    one.post("/_sw/events", json={"type": "purchase", "items": [{"product_id": hoodie}]})
    deadline = time.monotonic() + 10
    while popular_of(other)[:1] != [hoodie]:
        assert time.monotonic() < deadline, "the other node never saw the purchase"
        time.sleep(0.05)


@pytest.mark.redis
def test_counts_are_sent_to_redis_on_shutdown(
    make_settings: Callable[..., Settings], redis_server: RedisServer
) -> None:
    app = create_app(
        make_settings(redis=redis_server.url, popular_sync_seconds=3600.0), watch=False
    )
    with TestClient(app) as client:
        hoodie = quiet_hoodie(client)
        client.post("/_sw/events", json={"type": "view", "product_id": hoodie})
    reader = RedisPopularity(redis_server.url, 6.0 * 3600)
    reader.sync(now=time.time())
    assert reader.ranking(now=time.time()).ids == (hoodie,)
    reader.close()
