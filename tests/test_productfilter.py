"""The landing product filter: exact, ranked, and in agreement with a plain scan of the catalog."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.catalog.feed import UNISEX, Catalog, Product, build_catalog, load_catalog
from shopwindow.catalog.generate import generate_catalog
from shopwindow.catalog.productfilter import (
    ProductFilter,
    filter_products,
    timed_attribute_filter,
    timed_category_filter,
)
from tests.conftest import DEMO_CATALOG

DEMO, _ = load_catalog(DEMO_CATALOG)
GENERATED = build_catalog(generate_catalog(3000, seed=11))


def scan(catalog: Catalog, flt: ProductFilter) -> list[Product]:
    """The slow truth: every product tested, then ranked in stock first, by popularity, by id."""
    found = []
    for p in catalog:
        if flt.gender is not None and p.gender not in (flt.gender, UNISEX):
            continue
        if flt.category is not None and p.category != flt.category:
            continue
        if flt.in_stock_only and not p.in_stock:
            continue
        tags = {*p.tags, f"tier:{p.tier}"}
        if not set(flt.tags) <= tags:
            continue
        found.append(p)
    found.sort(key=lambda p: (not p.in_stock, -p.popularity, p.id))
    return found[: flt.limit]


def filters(catalog: Catalog) -> st.SearchStrategy[ProductFilter]:
    tags = sorted({t for p in catalog for t in p.tags} | {f"tier:{p.tier}" for p in catalog})
    genders = sorted(g for g in catalog.genders if g != UNISEX)
    return st.builds(
        ProductFilter.of,
        gender=st.none() | st.sampled_from([*genders, UNISEX]),
        category=st.none() | st.sampled_from(sorted(catalog.categories)),
        tags=st.lists(st.sampled_from(tags), max_size=3),
        limit=st.integers(1, 100),
        in_stock_only=st.booleans(),
    )


@settings(max_examples=300, deadline=None)
@given(filters(DEMO))
def test_index_agrees_with_a_scan_of_the_demo_catalog(flt: ProductFilter) -> None:
    assert filter_products(DEMO, flt) == scan(DEMO, flt)


@settings(max_examples=150, deadline=None)
@given(filters(GENERATED))
def test_index_agrees_with_a_scan_of_a_generated_catalog(flt: ProductFilter) -> None:
    assert filter_products(GENERATED, flt) == scan(GENERATED, flt)


def test_womens_running_shoes_are_exactly_that() -> None:
    found = filter_products(DEMO, ProductFilter.of("women", "running-shoes"))
    assert found
    assert {(p.gender, p.category) for p in found} == {("women", "running-shoes")}
    in_stock = [p.in_stock for p in found]
    assert in_stock == sorted(in_stock, reverse=True)  # in stock first
    first_sold_out = in_stock.index(False) if False in in_stock else len(found)
    ranked = [p.popularity for p in found[:first_sold_out]]
    assert ranked == sorted(ranked, reverse=True)  # then by popularity


def test_hand_picked_ids_keep_their_order_and_still_filter() -> None:
    ids = ["m-run-001", "w-run-003", "nope", "w-run-001"]
    picked = filter_products(DEMO, ProductFilter.of(gender="women", ids=ids))
    assert [p.id for p in picked] == ["w-run-003", "w-run-001"]


def test_tier_reads_as_a_tag() -> None:
    found = filter_products(DEMO, ProductFilter.of(category="boots", tier="premium"))
    assert found and all(p.tier == "premium" for p in found)
    assert ProductFilter.of(category="boots", tier="premium").tags == ("tier:premium",)


def test_a_new_catalog_gets_a_new_index() -> None:
    first = build_catalog(generate_catalog(50, seed=1))
    second = build_catalog(generate_catalog(50, seed=2))
    flt = ProductFilter.of(category="sneakers")
    assert filter_products(first, flt) == scan(first, flt)
    assert filter_products(second, flt) == scan(second, flt)


def test_benchmark_calls_return_real_results() -> None:
    assert len(timed_category_filter(GENERATED)()) == 24
    for p in timed_attribute_filter(GENERATED)():
        assert {"brand:acme", "color:black"} <= set(p.tags)


def test_a_repeated_multi_tag_filter_gives_the_same_answer() -> None:
    flt = ProductFilter.of("women", "sneakers", ["brand:velora", "color:white"], in_stock_only=True)
    first = filter_products(GENERATED, flt)
    assert first == filter_products(GENERATED, flt) == scan(GENERATED, flt)
    wider = ProductFilter.of("women", "sneakers", ["brand:velora", "color:white"], limit=100)
    assert filter_products(GENERATED, wider) == scan(GENERATED, wider)
