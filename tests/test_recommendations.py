"""Recommendation lists over catalogs: the demo shop's quality, each list's definition, edge cases."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from bench.micro import recommendations as benchmark
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.catalog.feed import Catalog, Product, build_catalog, load_catalog
from shopwindow.catalog.generate import generate_catalog
from shopwindow.catalog.recommendations import (
    DEFAULT_COUNT,
    DEFAULT_TITLE,
    LIST_NAMES,
    ListSpec,
    RecommendationList,
    list_specs,
    recommend,
)
from shopwindow.rules.pairings import Pairings
from shopwindow.rules.rulefiles import load_rules
from shopwindow.rules.rules import RuleSet
from shopwindow.rules.thenspec import CheckEnv
from shopwindow.settings import PROJECT_ROOT
from tests.oos_checks import check_answer

DEMO_CATALOG = PROJECT_ROOT / "demo" / "catalog.jsonl"
DEMO_RULES = PROJECT_ROOT / "rules"
GENDERS = (None, "women", "men", "kids")


@pytest.fixture(scope="module")
def demo() -> Catalog:
    catalog, errors = load_catalog(DEMO_CATALOG)
    assert not errors
    return catalog


@pytest.fixture(scope="module")
def demo_rules(demo: Catalog) -> RuleSet:
    rules, errors = load_rules(DEMO_RULES, UTC, CheckEnv(catalog=demo, categories=demo.categories))
    assert not errors
    return rules


def then_of(rules: RuleSet, rule_id: str) -> Any:
    rule = rules.rule(rule_id)
    assert rule is not None
    return rule.then


def shown(lists: tuple[RecommendationList, ...]) -> list[tuple[str, list[str]]]:
    return [(r.name, [p.id for p in r.products]) for r in lists]


def spec(name: str, count: int = 4) -> ListSpec:
    return ListSpec(name, count, DEFAULT_TITLE[name])


def item(product_id: str, **fields: Any) -> Product:
    values: dict[str, Any] = {
        "id": product_id,
        "name": product_id,
        "url": f"/p/{product_id}",
        "image": "/img.svg",
        "price": 100.0,
        "currency": "EUR",
        "category": "running-shoes",
        "gender": "women",
        "in_stock": True,
    }
    values.update(fields)
    return Product(**values)


# --- the demo shop --------------------------------------------------------------------


@pytest.mark.parametrize("gender", GENDERS)
def test_every_sold_out_demo_product_gets_four_recommendations_obeying_each_list(
    demo: Catalog, demo_rules: RuleSet, gender: str | None
) -> None:
    then = then_of(demo_rules, "sold-out")
    specs = list_specs(then)
    pairings: Pairings = demo_rules.data["pairings"]
    sold_out = [p for p in demo if not p.in_stock]
    assert len(sold_out) >= 50
    for product in sold_out:
        lists = recommend(demo, product, specs, visitor_gender=gender, pairings=pairings)
        total = check_answer(
            demo,
            product,
            shown(lists),
            visitor_gender=gender,
            pairings=pairings,
            limits={s.name: s.count for s in specs},
        )
        assert total >= 4, f"{product.id} for {gender}: only {total} recommendations"
        assert [r.name for r in lists] == [
            s.name for s in specs if s.name in {r.name for r in lists}
        ]
        for r in lists:
            assert len(r.products) <= r.count


def test_demo_running_shoes_get_full_similar_lists_paired_accessories_and_a_step_up(
    demo: Catalog, demo_rules: RuleSet
) -> None:
    """Quality, not only validity: the lists a marketer expects are there."""
    pairings: Pairings = demo_rules.data["pairings"]
    specs = (spec("similar"), spec("accessories"), spec("premium", 1))
    counts = {"similar": 0, "accessories": 0, "premium": 0}
    shoes = [p for p in demo if not p.in_stock and p.category == "running-shoes"]
    for product in shoes:
        lists = {r.name: r for r in recommend(demo, product, specs, pairings=pairings)}
        for name in counts:
            counts[name] += name in lists
        accessory_categories = {p.category for p in lists["accessories"].products}
        assert accessory_categories <= {"socks", "insoles"}
        assert accessory_categories == {"socks", "insoles"}, "pairings are taken in turn"
        assert len(lists["similar"].products) == 4
    # The dearest premium shoe has nothing above it; every other one has a step up.
    steps_up = sum(1 for p in shoes if p.tier != "premium")
    assert steps_up >= 6
    assert counts == {"similar": len(shoes), "accessories": len(shoes), "premium": steps_up}


def test_similar_puts_similar_to_links_first_then_nearest_price(demo: Catalog) -> None:
    product = demo.get("w-run-004")
    assert product is not None and not product.in_stock
    lists = recommend(demo, product, [spec("similar", 6)])
    ids = [p.id for p in lists[0].products]
    links = [pid for pid in demo.similar_ids(product.id) if demo.get(pid).in_stock]  # type: ignore[union-attr]
    assert ids[: len(links)] == links
    rest = lists[0].products[len(links) :]
    assert rest and all(p.category == product.category and p.in_stock for p in rest)


# --- definitions on small catalogs ------------------------------------------------------


def test_the_product_itself_and_sold_out_items_never_come_back() -> None:
    catalog = build_catalog(
        [
            item("a", in_stock=False, similar_to=("a", "b", "c"), tier="standard"),
            item("b", in_stock=False, price=101),
            item("c", price=102),
            item("d", price=300, tier="premium", in_stock=False),
            item("e", price=99, popularity=50),
        ]
    )
    product = catalog.get("a")
    assert product is not None
    lists = recommend(catalog, product, [spec(name) for name in LIST_NAMES])
    assert shown(lists) == [("similar", ["c", "e"])]


def test_premium_takes_the_only_step_up_even_when_similar_is_listed_first() -> None:
    catalog = build_catalog(
        [
            item("sold", in_stock=False, price=100),
            item("up", price=104, tier="premium"),
            item("near", price=98),
        ]
    )
    product = catalog.get("sold")
    assert product is not None
    lists = recommend(catalog, product, [spec("similar"), spec("premium")])
    assert shown(lists) == [("similar", ["near"]), ("premium", ["up"])]


def test_premium_is_a_higher_tier_first_then_a_higher_price_band() -> None:
    catalog = build_catalog(
        [
            item("sold", in_stock=False, price=100),
            item("lux", price=400, tier="luxury"),
            item("prem-dear", price=180, tier="premium"),
            item("prem-near", price=110, tier="premium"),
            item("prem-cheap", price=95, tier="premium"),
            item("band", price=130),
            item("band-budget", price=140, tier="budget"),
            item("not-enough", price=120),
            item("other-cat", price=150, tier="premium", category="boots"),
            item("other-gender", price=150, tier="premium", gender="men"),
        ]
    )
    product = catalog.get("sold")
    assert product is not None
    lists = recommend(catalog, product, [spec("premium", 10)])
    assert shown(lists) == [
        ("premium", ["prem-near", "prem-dear", "prem-cheap", "lux", "band"]),
    ]


def test_a_premium_product_steps_up_by_price_and_to_luxury() -> None:
    catalog = build_catalog(
        [
            item("sold", in_stock=False, price=200, tier="premium"),
            item("other-premium", price=210, tier="premium"),
            item("dear-premium", price=260, tier="premium"),
            item("lux", price=300, tier="luxury"),
        ]
    )
    product = catalog.get("sold")
    assert product is not None
    lists = recommend(catalog, product, [spec("premium")])
    assert shown(lists) == [("premium", ["lux", "dear-premium"])]


def test_a_free_product_steps_up_only_to_dearer_ones() -> None:
    catalog = build_catalog(
        [
            item("free", in_stock=False, price=0.0),
            item("also-free", price=0.0),
            item("paid", price=5.0),
        ]
    )
    product = catalog.get("free")
    assert product is not None
    assert shown(recommend(catalog, product, [spec("premium")])) == [("premium", ["paid"])]


def test_accessories_take_links_and_paired_categories_in_turn() -> None:
    catalog = build_catalog(
        [
            item("shoe", in_stock=False),
            item("lace", category="accessories", accessory_of=("shoe",), popularity=1),
            item("sock-1", category="socks", popularity=9, price=10),
            item("sock-2", category="socks", popularity=8, price=10),
            item("sock-out", category="socks", popularity=99, price=10, in_stock=False),
            item("insole", category="insoles", popularity=5, price=20),
            item("insole-men", category="insoles", popularity=50, price=20, gender="men"),
            item("insole-unisex", category="insoles", popularity=4, price=20, gender="unisex"),
        ]
    )
    product = catalog.get("shoe")
    assert product is not None
    pairings = {"running-shoes": ("socks", "insoles")}
    lists = recommend(catalog, product, [spec("accessories", 6)], pairings=pairings)
    assert shown(lists) == [
        ("accessories", ["lace", "sock-1", "insole", "sock-2", "insole-unisex"]),
    ]
    without = recommend(catalog, product, [spec("accessories", 6)])
    assert shown(without) == [("accessories", ["lace"])]


def test_popular_puts_the_live_ranking_first_and_fills_from_best_sellers() -> None:
    catalog = build_catalog(
        [
            item("sold", in_stock=False),
            item("best", category="jeans", popularity=90),
            item("second", category="jeans", popularity=80),
            item("quiet", category="hoodies", popularity=1),
            item("men", category="hoodies", popularity=99, gender="men"),
            item("gone", category="hoodies", popularity=99, in_stock=False),
        ]
    )
    product = catalog.get("sold")
    assert product is not None
    live = ("gone", "men", "quiet", "nowhere", "quiet")
    lists = recommend(catalog, product, [spec("popular", 3)], popular_now=live)
    assert shown(lists) == [("popular", ["quiet", "best", "second"])]
    men = recommend(catalog, product, [spec("popular", 3)], visitor_gender="men", popular_now=live)
    assert shown(men) == [("popular", ["men"])]


def test_a_unisex_product_without_a_known_gender_gets_popular_items_of_every_gender() -> None:
    catalog = build_catalog(
        [
            item("bag", in_stock=False, gender="unisex", category="bags"),
            item("other-bag", gender="unisex", category="bags"),
            item("womens-bag", gender="women", category="bags"),
            item("mens-top", gender="men", category="t-shirts", popularity=70),
            item("womens-top", gender="women", category="t-shirts", popularity=60),
        ]
    )
    product = catalog.get("bag")
    assert product is not None
    lists = recommend(catalog, product, [spec("similar"), spec("popular")])
    assert shown(lists) == [
        ("similar", ["other-bag"]),
        ("popular", ["mens-top", "womens-top", "womens-bag"]),
    ]
    women = recommend(catalog, product, [spec("similar"), spec("popular")], visitor_gender="women")
    assert shown(women) == [
        ("similar", ["other-bag", "womens-bag"]),
        ("popular", ["womens-top"]),
    ]


def test_spares_let_a_visitor_leave_products_out_and_still_see_the_count() -> None:
    catalog = build_catalog(
        [item("sold", in_stock=False)] + [item(f"s{i}", price=100 + i) for i in range(1, 8)]
    )
    product = catalog.get("sold")
    assert product is not None
    (lst,) = recommend(catalog, product, [spec("similar", 3)], spare=2)
    assert [p.id for p in lst.products] == ["s1", "s2", "s3", "s4", "s5"]
    assert [p.id for p in lst.shown()] == ["s1", "s2", "s3"]
    assert [p.id for p in lst.shown({"s2"})] == ["s1", "s3", "s4"]


def test_a_list_asked_for_twice_is_shown_once() -> None:
    catalog = build_catalog([item("sold", in_stock=False), item("a", price=99)])
    product = catalog.get("sold")
    assert product is not None
    lists = recommend(catalog, product, [spec("similar", 1), spec("similar", 3)])
    assert [(r.name, r.count) for r in lists] == [("similar", 1)]


def test_list_specs_read_a_rule_then_in_its_order_with_defaults() -> None:
    then = {
        "lists": [
            {"name": "popular", "count": 2},
            {"name": "similar", "title": "Like this"},
            {"name": "popular", "count": 9},
        ]
    }
    assert list_specs(then) == (
        ListSpec("popular", 2, DEFAULT_TITLE["popular"]),
        ListSpec("similar", DEFAULT_COUNT["similar"], "Like this"),
    )
    assert list_specs({"lists": {"name": "premium"}}) == (
        ListSpec("premium", DEFAULT_COUNT["premium"], DEFAULT_TITLE["premium"]),
    )
    assert list_specs({}) == ()


def test_a_page_finds_its_product_by_the_path_of_the_feed_url() -> None:
    catalog = build_catalog(
        [
            item("a", url="https://shop.example/products/a?ref=feed"),
            item("b", url="/p/b"),
            item("c", url="/p/b"),
        ]
    )
    assert catalog.at_path("/products/a") is catalog.get("a")
    assert catalog.at_path("/p/b") is catalog.get("b")
    assert catalog.at_path("/p/c") is None


# --- any catalog --------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(40, 400),
    seed=st.integers(0, 10_000),
    names=st.lists(st.sampled_from(LIST_NAMES), min_size=1, max_size=4, unique=True),
    counts=st.lists(st.integers(1, 8), min_size=4, max_size=4),
    gender=st.sampled_from(GENDERS),
    pick=st.integers(0, 10_000),
    live=st.lists(st.integers(0, 10_000), max_size=30),
)
def test_any_generated_catalog_obeys_every_list_definition(
    size: int,
    seed: int,
    names: list[str],
    counts: list[int],
    gender: str | None,
    pick: int,
    live: list[int],
) -> None:
    catalog = build_catalog(generate_catalog(size, seed))
    products = sorted(catalog, key=lambda p: p.id)
    product = products[pick % len(products)]
    popular_now = tuple(products[i % len(products)].id for i in live)
    specs = [spec(name, count) for name, count in zip(names, counts, strict=False)]
    pairings = {"running-shoes": ("socks", "insoles"), "dresses": ("bags",)}
    lists = recommend(
        catalog, product, specs, visitor_gender=gender, pairings=pairings, popular_now=popular_now
    )
    check_answer(
        catalog,
        product,
        shown(lists),
        visitor_gender=gender,
        pairings=pairings,
        popular_now=tuple(dict.fromkeys(popular_now)),
        limits={s.name: s.count for s in specs},
    )
    by_name = {s.name: s.count for s in specs}
    for r in lists:
        assert 1 <= len(r.products) <= by_name[r.name]
    present = {r.name for r in lists}
    assert [r.name for r in lists] == [s.name for s in specs if s.name in present]


def test_the_benchmark_call_recommends_for_sold_out_products_of_the_size_asked() -> None:
    run = benchmark(1000)
    assert all(run() >= 4 for _ in range(200))
