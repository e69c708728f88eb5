"""Memory stays bounded however many distinct visitors, addresses and values arrive.

Every cache is an LRU with a size; nothing reachable from the shop or a module
grows with the number of distinct visitors. `make bench` drives 1,000,000 of
them; here the same holds at small sizes.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cachetools import Cache
from lru import LRU
from starlette.testclient import TestClient

import shopwindow
from shopwindow.serve import metrics
from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET


def shopwindow_modules() -> Iterator[Any]:
    for info in pkgutil.walk_packages(shopwindow.__path__, "shopwindow."):
        if info.ispkg or info.name in (
            "shopwindow.__main__",
            "bench.harness",
            "shopwindow.catalog.generate",
        ):
            continue
        yield importlib.import_module(info.name)


def is_lru_function(value: Any) -> bool:
    return callable(value) and hasattr(value, "cache_info") and hasattr(value, "cache_clear")


def cache_size(value: Any) -> float | None:
    """The most a cache object holds (cachetools or lru-dict), None for anything else."""
    if isinstance(value, Cache):
        return float(value.maxsize)
    if isinstance(value, LRU):
        return float(value.get_size())
    return None


def smaller(cache: Any, size: int) -> Any:
    """An empty cache of the same kind holding at most `size` entries."""
    return LRU(size) if isinstance(cache, LRU) else type(cache)(maxsize=size)


def metric_children(counter: Any) -> int:
    return len(counter._metrics)


# --- bugs found by these checks -------------------------------------------------------


def test_unknown_event_types_do_not_grow_the_metrics(client: TestClient) -> None:
    """Each made-up event type used to become its own Prometheus label: unbounded memory."""
    before = metric_children(metrics.EVENTS)
    for n in range(300):
        response = client.post("/_sw/events", json={"type": f"made-up-{n}"})
        assert response.status_code == 400
    assert metric_children(metrics.EVENTS) <= before + 1
    text = client.get("/metrics").text
    assert "made-up-" not in text
    assert 'shopwindow_events_total{outcome="rejected",type="unknown"}' in text


# --- every cache has a size -----------------------------------------------------------


def test_every_module_level_cache_is_an_lru_with_a_size() -> None:
    found = []
    for module in shopwindow_modules():
        for name, value in vars(module).items():
            if (size := cache_size(value)) is not None:
                found.append(f"{module.__name__}.{name}")
                assert size and size < float("inf"), name
            elif is_lru_function(value) and getattr(value, "__module__", "") == module.__name__:
                found.append(f"{module.__name__}.{name}")
                assert value.cache_info().maxsize is not None, f"{module.__name__}.{name}"
    # The audit saw the caches it is about (a rename would otherwise pass silently).
    for expected in (
        "shopwindow.visitor.network.canonical_ip",
        "shopwindow.visitor.device._classify",
        "shopwindow.visitor.channel._referrer_host",
    ):
        assert expected in found, (expected, found)


def instance_caches(root: Any, depth: int = 3) -> Iterator[tuple[str, Any]]:
    """Caches held by the shop's objects (the codec, geo, proxies, placements' state)."""
    seen: set[int] = set()

    def walk(obj: Any, path: str, level: int) -> Iterator[tuple[str, Any]]:
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        if cache_size(obj) is not None or is_lru_function(obj):
            yield path, obj
            return
        if isinstance(obj, dict):
            for key, value in list(obj.items()):
                yield from walk(value, f"{path}[{key!r}]", level + 1)
            return
        if isinstance(obj, list | tuple):
            for index, value in enumerate(obj):
                yield from walk(value, f"{path}[{index}]", level + 1)
            return
        if type(obj).__module__.startswith("shopwindow"):
            names = list(getattr(obj, "__dict__", {}))
            for klass in type(obj).__mro__:
                names += list(getattr(klass, "__slots__", ()))
            for name in names:
                value = getattr(obj, name, None)
                if value is not None:
                    yield from walk(value, f"{path}.{name}", level + 1)

    yield from walk(root, "shop", 0)


def test_every_cache_the_shop_holds_has_a_size(client: TestClient) -> None:
    client.get("/?utm_source=google&utm_term=running+shoes")  # the landing state exists
    shop = client.app.state.shop  # type: ignore[attr-defined]
    caches = dict(instance_caches(shop, depth=4))
    assert any(path.startswith("shop.codec") for path in caches), caches
    # Cards, page shells and picks belong to the snapshot they were rendered from.
    for name in ("cards", "shells", "picks"):
        assert f"shop.current[0].derived.{name}" in caches, caches
    for path, cache in caches.items():
        if (size := cache_size(cache)) is not None:
            assert size < float("inf"), path
        else:
            assert cache.cache_info().maxsize is not None, path


# --- nothing grows with distinct visitors -----------------------------------------------


def visitor_cookie(n: int) -> str:
    visitor = Visitor.fresh(int(time.time()))
    visitor.id = f"visitor-{n}"
    visitor.viewed = [f"w-run-{n % 7:03d}", f"m-jkt-{n % 5:03d}"]
    visitor.searches = [f"search words {n}"]
    visitor.category = {"running-shoes": 2.0 + n % 3}
    return CookieCodec(SECRET, 365).encode(visitor)


def distinct_visitor(client: TestClient, n: int) -> None:
    """One request from a visitor nobody has seen: new id, address, browser, referrer, ad."""
    headers = {
        "Cookie": f"sw={visitor_cookie(n)}",
        "X-Forwarded-For": f"198.51.{n // 250 % 250}.{n % 250}",
        "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) Probe/{n}",
        "Accept-Language": f"de-DE,de;q=0.{n % 9 + 1}",
        "Referer": f"https://blog{n}.example/post/{n}",
        "Accept-Encoding": f"gzip;q=0.{n % 9 + 1}, br",
    }
    paths = (
        f"/?utm_source=news{n}&utm_campaign=c{n}&utm_term=running+shoes+{n}",
        "/",
        f"/_sw/popup?trigger=exit&product=x{n}",
        f"/_sw/fragments/recently-viewed?exclude=w-run-{n % 7:03d}",
    )
    client.get(paths[n % len(paths)], headers=headers)
    if n % 5 == 0:
        client.post(
            "/_sw/events",
            json=[{"type": "search", "query": f"query {n}"}, {"type": f"bogus-{n}"}],
            headers=headers,
        )


def container_sizes(roots: dict[str, Any], depth: int = 4) -> dict[str, int]:
    """Lengths of every dict, list, set and Counter reachable from roots (caches included)."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()

    def walk(obj: Any, path: str, level: int) -> None:
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        if isinstance(obj, str | bytes | int | float | bool | type(None)):
            return
        if (size := cache_size(obj)) is not None:
            sizes[f"{path} (lru {int(size)})"] = len(obj)  # evicts at its maxsize
            return
        if isinstance(obj, dict | list | set | frozenset):
            sizes[path] = len(obj)
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)
            for key, value in list(items)[:50]:
                walk(value, f"{path}[{key!r}]"[:200], level + 1)
            return
        if is_lru_function(obj):
            sizes[f"{path} (lru {obj.cache_info().maxsize})"] = obj.cache_info().currsize
            return
        module = type(obj).__module__
        if module.startswith(("shopwindow", "prometheus_client")):
            names = list(getattr(obj, "__dict__", {}))
            for klass in type(obj).__mro__:
                names += list(getattr(klass, "__slots__", ()))
            for name in names:
                if name in ("catalog", "rules", "snap", "_snap", "snapshot"):
                    continue  # immutable data loaded from files, not visitor state
                value = getattr(obj, name, None)
                walk(value, f"{path}.{name}", level + 1)

    for name, root in roots.items():
        walk(root, name, 0)
    return sizes


def roots_of(client: TestClient) -> dict[str, Any]:
    shop = client.app.state.shop  # type: ignore[attr-defined]
    roots: dict[str, Any] = {
        "shop.services": shop.services,
        "shop.hooks": shop.hooks,
        "shop.codec": shop.codec,
    }
    for module in shopwindow_modules():
        for name, value in vars(module).items():
            if name.startswith("__") or isinstance(value, type):
                continue
            holds_state = isinstance(value, dict | list | set | Cache | LRU) or type(
                value
            ).__module__.startswith(("shopwindow", "prometheus_client"))
            if holds_state or is_lru_function(value):
                roots[f"{module.__name__}.{name}"] = value
    roots["edge.proxies"] = shop.edge.proxies._cached_is_trusted
    roots["snapshot.derived"] = shop.snapshot.derived
    return roots


@pytest.fixture
def small_caches(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], None]:
    """Every cache cut to SMALL entries, so a few hundred visitors fill them all."""

    def shrink(shop: Any) -> None:
        # The counting queues are capped too (their flushers drain them meanwhile).
        monkeypatch.setattr("shopwindow.stats.counting.MAX_PENDING", SMALL)
        monkeypatch.setattr("shopwindow.stats.unmatched.MAX_PENDING", SMALL)
        # A bounded set that empties itself when full.
        monkeypatch.setattr("shopwindow.serve.responses.MAX_PLAIN_PATHS", SMALL)
        for module in shopwindow_modules():
            for name, value in list(vars(module).items()):
                if cache_size(value) is not None:
                    monkeypatch.setattr(module, name, smaller(value, SMALL))
                elif is_lru_function(value) and getattr(value, "__module__", "") == module.__name__:
                    monkeypatch.setattr(
                        module, name, functools.lru_cache(maxsize=SMALL)(value.__wrapped__)
                    )
        shop.codec._cache = smaller(shop.codec._cache, SMALL)
        derived = shop.snapshot.derived
        for name in ("cards", "shells", "picks"):
            setattr(derived, name, smaller(getattr(derived, name), SMALL))
        proxies = shop.edge.proxies
        proxies._cached_is_trusted = functools.lru_cache(maxsize=SMALL)(proxies._lookup)

    return shrink


SMALL = 64


def test_nothing_grows_with_distinct_visitors(
    make_client: Callable[..., TestClient], small_caches: Callable[[Any], None]
) -> None:
    client = make_client(peer="10.0.0.1", trusted_proxies=["10.0.0.0/8"])
    small_caches(client.app.state.shop)  # type: ignore[attr-defined]
    n = 0
    for n in range(400):
        distinct_visitor(client, n)
    first = container_sizes(roots_of(client))
    for n in range(400, 1000):
        distinct_visitor(client, n)
    second = container_sizes(roots_of(client))
    grown = {
        path: (first.get(path, 0), size)
        for path, size in second.items()
        if "(lru " not in path and size > max(first.get(path, 0), SMALL)
    }
    assert not grown, grown
    full = [path for path, size in second.items() if f"(lru {SMALL})" in path and size == SMALL]
    assert len(full) >= 5, full  # the visitors did fill the caches they reach
    for path, size in second.items():
        if f"(lru {SMALL})" in path:
            assert size <= SMALL, (path, size)
