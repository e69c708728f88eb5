"""Tests for loading and indexing the product feed, the generator and the demo catalog."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from shopwindow.catalog.feed import (
    Catalog,
    CatalogError,
    Product,
    build_catalog,
    load_catalog,
)
from shopwindow.catalog.generate import (
    BRANDS,
    DEMO_SIZE,
    generate_catalog,
    generate_demo,
    write_jsonl,
)

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "demo" / "catalog.jsonl"


def row(product_id: object = "w-run-001", **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": product_id,
        "name": f"Acme {product_id}",
        "url": f"/p/{product_id}",
        "image": "/_sw/static/img/running-shoes.svg",
        "price": 99.95,
        "currency": "EUR",
        "category": "running-shoes",
        "gender": "women",
        "in_stock": True,
    }
    base.update(fields)
    return base


def product(product_id: str, **fields: object) -> Product:
    values = row(product_id, **fields)
    for name in ("tags", "accessory_of", "similar_to"):
        if name in values:
            values[name] = tuple(values[name])  # type: ignore[arg-type]
    return Product(**values)  # type: ignore[arg-type]


def write_jsonl_lines(tmp_path: Path, lines: list[str], name: str = "feed.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jsonl_line(**fields: object) -> str:
    product_id = str(fields.pop("id", "w-run-001"))
    return json.dumps(row(product_id, **fields))


CSV_HEADER = "id,name,url,image,price,currency,category,gender,in_stock,tier,tags,accessory_of"


def csv_line(product_id: str = "w-run-001", **fields: str) -> str:
    values = {
        "id": product_id,
        "name": f"Acme {product_id}",
        "url": f"/p/{product_id}",
        "image": "/img/x.svg",
        "price": "59.95",
        "currency": "EUR",
        "category": "sneakers",
        "gender": "men",
        "in_stock": "true",
        "tier": "",
        "tags": "",
        "accessory_of": "",
    }
    values.update(fields)
    return ",".join(values.values())


# --- loading -----------------------------------------------------------------------------


def test_jsonl_row_with_every_field_loads_and_normalises(tmp_path: Path) -> None:
    path = write_jsonl_lines(
        tmp_path,
        [
            jsonl_line(
                id="w-run-001",
                category="Running Shoes",
                gender=" Women ",
                currency="eur",
                tier="Premium",
                tags=["color:black", "brand:acme", "waterproof"],
                popularity=71.5,
                accessory_of=["category:Running Shoes", "w-run-002"],
                similar_to=["w-run-002"],
            ),
            jsonl_line(id="w-run-002", gender="Female", price="49"),
        ],
    )

    catalog, errors = load_catalog(path)

    assert errors == []
    assert catalog.source == str(path)
    assert catalog.mtime == os.stat(path).st_mtime
    assert list(catalog.products) == ["w-run-001", "w-run-002"]
    first = catalog.get("w-run-001")
    assert first == Product(
        id="w-run-001",
        name="Acme w-run-001",
        url="/p/w-run-001",
        image="/_sw/static/img/running-shoes.svg",
        price=99.95,
        currency="EUR",
        category="running-shoes",
        gender="women",
        in_stock=True,
        tier="premium",
        tags=("color:black", "brand:acme", "waterproof"),
        popularity=71.5,
        accessory_of=("category:running-shoes", "w-run-002"),
        similar_to=("w-run-002",),
    )
    second = catalog.get("w-run-002")
    assert second is not None
    assert (second.gender, second.price, second.tier, second.tags) == (
        "women",
        49.0,
        "standard",
        (),
    )


def test_csv_splits_lists_on_pipes_and_reads_spreadsheet_booleans(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(
        "\n".join(
            [
                CSV_HEADER,
                csv_line("m-snk-001", in_stock="TRUE", tags="color:white|brand:velora| |vegan"),
                csv_line("m-snk-002", in_stock="0", accessory_of="category:Running Shoes|m-x"),
                csv_line("m-snk-003", in_stock="Yes", tier="budget"),
                csv_line("m-snk-004", in_stock="no", category="Running Shoes", gender="Male"),
                csv_line("m-snk-005", in_stock="1"),
                csv_line("m-snk-006", in_stock="false"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    catalog, errors = load_catalog(path)

    assert errors == []
    assert [p.in_stock for p in catalog] == [True, False, True, False, True, False]
    first = catalog.products["m-snk-001"]
    assert first.tags == ("color:white", "brand:velora", "vegan")
    assert first.tier == "standard"
    assert catalog.products["m-snk-002"].accessory_of == ("category:running-shoes", "m-x")
    assert catalog.products["m-snk-003"].tier == "budget"
    fourth = catalog.products["m-snk-004"]
    assert (fourth.category, fourth.gender) == ("running-shoes", "men")


BAD_JSONL_ROWS: list[tuple[str, str, str]] = [
    ("invalid JSON", '{"id": "x", ', "invalid JSON"),
    ("not an object", '["w-run-009"]', "expected a JSON object, got list"),
    ("missing name", json.dumps({k: v for k, v in row("x").items() if k != "name"}), "'name'"),
    ("empty name", jsonl_line(id="x", name=""), "missing required field 'name'"),
    ("blank name", jsonl_line(id="x", name="   "), "missing required field 'name'"),
    ("null category", jsonl_line(id="x", category=None), "missing required field 'category'"),
    ("missing in_stock", jsonl_line(id="x", in_stock=None), "missing required field 'in_stock'"),
    ("negative price", jsonl_line(id="x", price=-1), "price must be a non-negative number"),
    ("text price", jsonl_line(id="x", price="cheap"), "price must be a non-negative number"),
    ("boolean price", jsonl_line(id="x", price=True), "price must be a non-negative number"),
    ("missing price", jsonl_line(id="x", price=None), "missing required field 'price'"),
    ("in_stock word", jsonl_line(id="x", in_stock="maybe"), "in_stock must be a boolean"),
    ("in_stock number", jsonl_line(id="x", in_stock=2), "in_stock must be a boolean"),
    ("duplicate id", jsonl_line(id="w-run-001"), "duplicate id 'w-run-001' (first on line 1)"),
    ("javascript url", jsonl_line(id="x", url="javascript:alert(1)"), "url must start with"),
    ("relative url", jsonl_line(id="x", url="p/x"), "url must start with"),
    ("bad image", jsonl_line(id="x", image="data:image/png"), "image must start with"),
    ("tags not a list", jsonl_line(id="x", tags={"a": 1}), "tags must be a list of strings"),
    ("tag not a string", jsonl_line(id="x", tags=["ok", 3]), "tags must be a list of strings"),
    ("popularity word", jsonl_line(id="x", popularity="hot"), "popularity must be a number"),
    ("name not text", jsonl_line(id="x", name=["a"]), "name must be a string"),
]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [(line, reason) for _, line, reason in BAD_JSONL_ROWS],
    ids=[name for name, _, _ in BAD_JSONL_ROWS],
)
def test_a_bad_jsonl_row_is_reported_at_its_line_and_the_rest_loads(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    path = write_jsonl_lines(
        tmp_path,
        [jsonl_line(id="w-run-001"), "", "   ", bad_line, jsonl_line(id="w-run-002")],
    )

    catalog, errors = load_catalog(path)

    assert len(errors) == 1
    assert errors[0].file == str(path)
    assert errors[0].line == 4
    assert reason in errors[0].message
    assert str(errors[0]).startswith(f"{path}:4: ")
    assert list(catalog.products) == ["w-run-001", "w-run-002"]


def test_every_bad_row_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write_jsonl_lines(
        tmp_path,
        [
            jsonl_line(id="a"),
            jsonl_line(id="b", price=-5),
            jsonl_line(id="a"),
            "not json",
            jsonl_line(id="c"),
        ],
    )

    catalog, errors = load_catalog(path)

    assert [(e.line, e.message.split(" ")[0]) for e in errors] == [
        (2, "price"),
        (3, "duplicate"),
        (4, "invalid"),
    ]
    assert list(catalog.products) == ["a", "c"]


def test_catalog_error_reads_as_file_line_message() -> None:
    error = CatalogError("feed.csv", 7, "price must be a non-negative number, got '-1'")

    assert str(error) == "feed.csv:7: price must be a non-negative number, got '-1'"


BAD_CSV_ROWS: list[tuple[str, str, str]] = [
    ("empty name", csv_line("x", name=""), "missing required field 'name'"),
    ("negative price", csv_line("x", price="-0.5"), "price must be a non-negative number"),
    ("text price", csv_line("x", price="free"), "price must be a non-negative number"),
    ("in_stock word", csv_line("x", in_stock="sometimes"), "in_stock must be a boolean"),
    ("empty in_stock", csv_line("x", in_stock=""), "missing required field 'in_stock'"),
    ("duplicate id", csv_line("m-snk-001"), "duplicate id 'm-snk-001' (first on line 2)"),
    ("bad url", csv_line("x", url="ftp://x"), "url must start with"),
    ("short row", "x,Only a name", "missing required field 'url'"),
    ("long row", csv_line("x") + ",extra", "row has 13 fields, the header has 12"),
]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [(line, reason) for _, line, reason in BAD_CSV_ROWS],
    ids=[name for name, _, _ in BAD_CSV_ROWS],
)
def test_a_bad_csv_row_is_reported_at_its_line_counting_the_header(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(
        "\n".join([CSV_HEADER, csv_line("m-snk-001"), "", bad_line, csv_line("m-snk-002")]) + "\n",
        encoding="utf-8",
    )

    catalog, errors = load_catalog(path)

    assert [str(e) for e in errors] == [f"{path}:4: {errors[0].message}"]
    assert reason in errors[0].message
    assert list(catalog.products) == ["m-snk-001", "m-snk-002"]


def test_csv_line_numbers_stay_physical_after_a_quoted_multiline_field(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    multiline = csv_line("m-snk-001", name='"Acme Two-Line\nSneaker"')
    path.write_text(
        "\r\n".join([CSV_HEADER, multiline, csv_line("x", price="-1"), csv_line("m-snk-002")]),
        encoding="utf-8",
    )

    catalog, errors = load_catalog(path)

    assert [(e.line, e.message.split(" ")[0]) for e in errors] == [(4, "price")]
    assert catalog.products["m-snk-001"].name == "Acme Two-Line\nSneaker"
    assert "m-snk-002" in catalog


def test_csv_header_lacking_a_required_column_is_one_error_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("id,name,price\nx,Acme,1\n", encoding="utf-8")

    catalog, errors = load_catalog(path)

    assert len(catalog) == 0
    assert [e.line for e in errors] == [1]
    assert "url, currency, category, gender, in_stock" in errors[0].message


def test_csv_header_names_are_matched_loosely(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    header = "\ufeffID,Name,URL,Image,Price,Currency,Category,Gender,In Stock"
    path.write_text(f"{header}\nk-snk-001,Kid,/p/1,/i.svg,9,EUR,Sneakers,Kids,yes\n", "utf-8")

    catalog, errors = load_catalog(path)

    assert errors == []
    assert catalog.products["k-snk-001"].category == "sneakers"


def test_a_csv_row_with_bytes_that_are_not_utf8_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(
        "\n".join([CSV_HEADER, csv_line("a"), csv_line("b")]).encode()
        + b"\n"
        + csv_line("c", name="Caf\xe9").encode("latin-1")
        + b"\n"
    )

    catalog, errors = load_catalog(path)

    assert [(e.line, e.message) for e in errors] == [(4, "row is not valid UTF-8")]
    assert list(catalog.products) == ["a", "b"]


def test_ndjson_extension_is_json_lines(tmp_path: Path) -> None:
    path = write_jsonl_lines(tmp_path, [jsonl_line(id="a")], name="FEED.NDJSON")

    catalog, errors = load_catalog(path)

    assert (len(catalog), errors) == (1, [])


def test_xml_that_is_no_product_feed_is_one_error_naming_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text("<products/>", encoding="utf-8")

    catalog, errors = load_catalog(path)

    assert len(catalog) == 0
    assert [e.line for e in errors] == [1]
    assert "neither an RSS 2.0 <rss> nor an Atom <feed>" in errors[0].message


def test_a_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_catalog(tmp_path / "nowhere.jsonl")


def test_build_catalog_refuses_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate product id 'a'"):
        build_catalog([product("a"), product("a")])


def test_in_memory_catalog_has_no_mtime() -> None:
    catalog = build_catalog([product("a")])

    assert (catalog.source, catalog.mtime) == ("<memory>", 0.0)
    assert "a" in catalog and "b" not in catalog and 3 not in catalog
    assert catalog.get("b") is None


# --- indexes -----------------------------------------------------------------------------


@pytest.fixture
def shop() -> Catalog:
    shoe = {"category": "running-shoes"}
    return build_catalog(
        [
            product("w1", **shoe, popularity=50.0),
            product("w2", **shoe, popularity=90.0, in_stock=False),
            product("w3", **shoe, popularity=70.0, price=120.0),
            product("w4", **shoe, popularity=70.0, price=150.0, tier="premium"),
            product("m1", **shoe, gender="men", popularity=99.0),
            product("u-sock", category="socks", gender="unisex", popularity=10.0, price=9.0,
                    accessory_of=("category:running-shoes",), tags=("color:black",)),
            product("w-sock", category="socks", popularity=20.0, price=12.0,
                    accessory_of=("category:running-shoes",), tags=("color:black",)),
            product("m-sock", category="socks", gender="men", popularity=30.0, price=11.0,
                    accessory_of=("category:running-shoes",)),
            product("w-dress", category="dresses", popularity=40.0, similar_to=("w-dress-2",)),
            product("w-dress-2", category="dresses", similar_to=("w-dress", "gone", "w-dress-2")),
            product("w-bag", category="bags", accessory_of=("w-dress", "w-run-404"),
                    tags=("brand:acme",), popularity=5.0, in_stock=False),
            product("w-belt", category="accessories", accessory_of=("w-dress",),
                    similar_to=("w-dress-2",), popularity=60.0),
        ]
    )  # fmt: skip


def ids(products: object) -> list[str]:
    assert isinstance(products, tuple | list)
    return [p.id for p in products]


def test_in_category_puts_in_stock_first_then_popularity_then_id(shop: Catalog) -> None:
    assert ids(shop.in_category("women", "running-shoes")) == ["w3", "w4", "w1", "w2"]
    assert ids(shop.in_category(None, "running-shoes")) == ["m1", "w3", "w4", "w1", "w2"]
    assert ids(shop.in_category("men", "running-shoes")) == ["m1"]
    assert ids(shop.in_category("women", "hats")) == []


def test_a_gender_also_sees_unisex_products(shop: Catalog) -> None:
    assert ids(shop.in_category("women", "socks")) == ["w-sock", "u-sock"]
    assert ids(shop.in_category("men", "socks")) == ["m-sock", "u-sock"]
    assert ids(shop.in_category("unisex", "socks")) == ["u-sock"]
    assert ids(shop.in_category("kids", "socks")) == ["u-sock"]
    assert ids(shop.in_gender("kids")) == ["u-sock"]


def test_in_gender_uses_the_same_ordering(shop: Catalog) -> None:
    assert ids(shop.in_gender("men")) == ["m1", "m-sock", "u-sock"]
    women = ids(shop.in_gender("women"))
    assert women[-2:] == ["w2", "w-bag"]
    assert women[:2] == ["w3", "w4"]


def test_best_sellers_are_in_stock_only_most_popular_first(shop: Catalog) -> None:
    assert ids(shop.best_sellers("women")) == [
        "w3", "w4", "w-belt", "w1", "w-dress", "w-sock", "u-sock", "w-dress-2",
    ]  # fmt: skip
    assert ids(shop.best_sellers())[:3] == ["m1", "w3", "w4"]
    assert "w2" not in ids(shop.best_sellers())


def test_genders_categories_and_tags_are_indexed(shop: Catalog) -> None:
    assert shop.genders == {"women", "men", "unisex"}
    assert shop.categories == {"running-shoes", "socks", "dresses", "bags", "accessories"}
    assert shop.with_tag("color:black") == {"u-sock", "w-sock"}
    assert shop.with_tag("brand:nobody") == frozenset()


def test_category_accessories_match_the_shoppers_gender(shop: Catalog) -> None:
    assert ids(shop.accessories_for("w1")) == ["w-sock", "u-sock"]
    assert ids(shop.accessories_for("m1")) == ["m-sock", "u-sock"]
    assert ids(shop.accessories_for("w-sock")) == []
    assert ids(shop.accessories_for("unknown")) == []


def test_accessories_naming_a_product_are_found_from_it(shop: Catalog) -> None:
    assert ids(shop.accessories_for("w-dress")) == ["w-belt", "w-bag"]
    assert ids(shop.accessories_for("w-dress-2")) == []


def test_similar_ids_are_own_links_then_reverse_links(shop: Catalog) -> None:
    assert shop.similar_ids("w-dress") == ("w-dress-2",)
    assert shop.similar_ids("w-dress-2") == ("w-dress", "w-belt")
    assert shop.similar_ids("w-belt") == ("w-dress-2",)
    assert shop.similar_ids("w1") == ()


def test_by_price_lists_in_stock_products_cheapest_first(shop: Catalog) -> None:
    assert ids(shop.by_price("women", "running-shoes")) == ["w1", "w3", "w4"]
    assert ids(shop.by_price("women", "socks")) == ["u-sock", "w-sock"]


def test_nearest_by_price_walks_out_from_the_price(shop: Catalog) -> None:
    assert ids(shop.nearest_by_price("women", "running-shoes", 140.0, limit=2)) == ["w4", "w3"]
    assert ids(shop.nearest_by_price("women", "running-shoes", 105.0)) == ["w1", "w3", "w4"]
    assert ids(shop.nearest_by_price(None, "running-shoes", 0.0, limit=10, exclude=["w1"])) == [
        "m1",
        "w3",
        "w4",
    ]
    assert ids(shop.nearest_by_price("men", "dresses", 50.0)) == []


def test_product_to_json_is_plain_and_round_trips_through_a_file(tmp_path: Path) -> None:
    original = product("w1", tags=("color:red",), accessory_of=("category:jeans",))
    data = original.to_json()

    assert data["tags"] == ["color:red"]
    assert json.loads(json.dumps(data)) == data

    path = tmp_path / "out.jsonl"
    assert write_jsonl([original], path) == 1
    catalog, errors = load_catalog(path)
    assert (errors, catalog.get("w1")) == ([], original)


# --- generator -----------------------------------------------------------------------------


def test_generator_is_deterministic_by_seed() -> None:
    first = list(generate_catalog(500, seed=3))

    assert first == list(generate_catalog(500, seed=3))
    assert first != list(generate_catalog(500, seed=4))


@pytest.mark.parametrize("n", [0, 1, 7, 38, 1000, 2345])
def test_generator_makes_exactly_n_products_with_unique_ids(n: int) -> None:
    products = list(generate_catalog(n))

    assert len(products) == n
    assert len({p.id for p in products}) == n


def test_generator_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        list(generate_catalog(-1))


def test_a_generated_catalog_loads_back_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    products = list(generate_catalog(3000, seed=11))

    assert write_jsonl(products, path) == 3000
    catalog, errors = load_catalog(path)

    assert errors == []
    assert list(catalog) == products
    assert not (tmp_path / "big.jsonl.partial").exists()


def test_a_generated_catalog_covers_the_shop() -> None:
    catalog = build_catalog(generate_catalog(5000, seed=2))

    assert catalog.genders == {"women", "men", "kids", "unisex"}
    assert len(catalog.categories) == 13
    sold_out = sum(not p.in_stock for p in catalog) / len(catalog)
    premium = sum(p.tier == "premium" for p in catalog) / len(catalog)
    assert 0.08 <= sold_out <= 0.16
    assert 0.12 <= premium <= 0.18
    for p in catalog:
        for target in p.accessory_of:
            assert target.removeprefix("category:") in catalog.categories or target in catalog
        assert all(other in catalog for other in p.similar_to)
        assert any(t.startswith("color:") for t in p.tags)
        assert any(t.startswith("brand:") for t in p.tags)
    assert catalog.accessories_for(catalog.in_category("women", "running-shoes")[0].id)


# --- the demo shop's catalog ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Catalog:
    catalog, errors = load_catalog(DEMO_CATALOG)
    assert errors == []
    return catalog


def test_demo_file_is_what_the_generator_writes(demo: Catalog) -> None:
    """Rules and templates name demo ids; a generator change must not move them silently."""
    assert list(demo) == list(generate_demo())
    assert len(demo) == DEMO_SIZE


def test_demo_catalog_is_a_full_shop(demo: Catalog) -> None:
    assert len(demo) >= 300
    assert len(demo.categories) >= 10
    assert {"women", "men", "kids"} <= demo.genders
    assert demo.categories >= {
        "running-shoes", "sneakers", "boots", "sandals", "bags", "dresses", "jackets",
        "jeans", "t-shirts", "hoodies", "accessories", "socks", "insoles",
    }  # fmt: skip
    assert not [p for p in demo if p.gender == "men" and p.category == "dresses"]
    assert {p.category for p in demo if p.gender == "kids"} < demo.categories


def test_demo_products_look_like_a_shop(demo: Catalog) -> None:
    brands = {f"brand:{b.lower()}" for b in BRANDS}
    assert brands == {"brand:acme", "brand:northpeak", "brand:velora", "brand:kinetik",
                      "brand:urbanmile"}  # fmt: skip
    for p in demo:
        assert re.fullmatch(r"[wmku]-[a-z]+-\d{3}", p.id), p.id
        assert p.url == f"/p/{p.id}"
        assert p.image == f"/_sw/img/product/{p.id}.svg"
        assert p.currency == "EUR"
        assert 0 <= p.popularity <= 100
        assert p.price > 0
        assert len([t for t in p.tags if t in brands]) == 1
        assert any(t.startswith("color:") for t in p.tags)
        assert p.gender in {"women", "men", "kids", "unisex"}
        assert p.tier in {"standard", "premium", "budget"}
    assert len({p.name for p in demo}) == len(demo)


def test_demo_has_sold_out_and_premium_products_in_sensible_shares(demo: Catalog) -> None:
    sold_out = [p for p in demo if not p.in_stock]
    premium = [p for p in demo if p.tier == "premium"]

    assert 0.09 <= len(sold_out) / len(demo) <= 0.15
    assert 0.12 <= len(premium) / len(demo) <= 0.18
    for category in demo.categories:
        in_category = [p for p in demo if p.category == category]
        tier_price = {
            tier: [p.price for p in in_category if p.tier == tier]
            for tier in ("premium", "standard")
        }
        assert sum(tier_price["premium"]) / len(tier_price["premium"]) > sum(
            tier_price["standard"]
        ) / len(tier_price["standard"]), category


def test_every_large_demo_range_has_two_sold_out_products(demo: Catalog) -> None:
    for gender in ("women", "men", "kids"):
        for category in demo.categories:
            products = demo.in_category(gender, category)
            if len(products) > 6:
                assert sum(not p.in_stock for p in products) >= 2, (gender, category)


def test_every_sold_out_demo_product_has_four_in_stock_alternatives(demo: Catalog) -> None:
    for p in demo:
        if p.in_stock:
            continue
        alternatives = {q.id for q in demo.in_category(p.gender, p.category) if q.in_stock}
        alternatives |= {q.id for q in demo.accessories_for(p.id) if q.in_stock}
        alternatives |= {i for i in demo.similar_ids(p.id) if demo.products[i].in_stock}
        alternatives.discard(p.id)
        assert len(alternatives) >= 4, p.id
        assert any(demo.products[i].in_stock for i in demo.similar_ids(p.id)), p.id


def test_demo_accessories_are_linked(demo: Catalog) -> None:
    def links(category: str) -> set[str]:
        return {t for p in demo if p.category == category for t in p.accessory_of}

    assert links("socks") >= {"category:running-shoes", "category:sneakers"}
    assert "category:running-shoes" in links("insoles")
    linked_ids = {t for t in links("bags") | links("accessories") if t in demo}
    assert {demo.products[i].category for i in linked_ids} == {"dresses", "jackets"}
    for gender in ("women", "men", "kids"):
        shoe = demo.in_category(gender, "running-shoes")[0]
        assert {p.category for p in demo.accessories_for(shoe.id)} >= {"socks"}, gender


def test_every_demo_link_resolves(demo: Catalog) -> None:
    has: Callable[[str], bool] = demo.__contains__
    for p in demo:
        assert all(has(t) or t.removeprefix("category:") in demo.categories for t in p.accessory_of)
        assert all(has(i) for i in p.similar_to)


def test_numeric_json_ids_load_as_text(tmp_path: Path) -> None:
    path = write_jsonl_lines(tmp_path, [json.dumps(row(12345)), json.dumps(row(True))])

    catalog, errors = load_catalog(path)

    assert list(catalog.products) == ["12345"]
    assert [(e.line, e.message) for e in errors] == [(2, "id must be a string, got True")]
