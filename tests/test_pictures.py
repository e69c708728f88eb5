"""Drawn product pictures: the category's shape in the product's colours, served once per snapshot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shopwindow.catalog.feed import Product, build_catalog, load_catalog
from shopwindow.catalog.pictures import CATEGORY_DRAWINGS, PAINTS, drawing_for, paints, product_svg

SVG = "{http://www.w3.org/2000/svg}"


def product(**changes: object) -> Product:
    fields: dict[str, object] = {
        "id": "w-run-001",
        "name": "Stormward Trail Running Shoe",
        "url": "/p/w-run-001",
        "image": "",
        "price": 90.0,
        "currency": "EUR",
        "category": "running-shoes",
        "gender": "women",
        "in_stock": True,
        "tags": ("color:red",),
    }
    fields.update(changes)
    return Product(**fields)  # type: ignore[arg-type]


def fills(svg: bytes) -> set[str]:
    root = ET.fromstring(svg)
    return {el.get("fill", "") for el in root.iter()} | {el.get("stroke", "") for el in root.iter()}


def test_the_picture_is_painted_in_the_products_colour() -> None:
    red = product_svg(product(tags=("color:red",)))
    navy = product_svg(product(tags=("color:navy",)))
    assert PAINTS["red"] in fills(red) and PAINTS["red"] not in fills(navy)
    assert PAINTS["navy"] in fills(navy)


def test_a_second_colour_tag_paints_the_trim() -> None:
    two = product_svg(product(tags=("color:black", "color:pink")))
    assert {PAINTS["black"], PAINTS["pink"]} <= fills(two)


def test_each_category_has_its_own_shape() -> None:
    drawn = {product_svg(product(category=c, tags=("color:red",))) for c in CATEGORY_DRAWINGS}
    shapes = {CATEGORY_DRAWINGS[c] for c in CATEGORY_DRAWINGS}
    assert len(drawn) == len(shapes)


def test_an_accessory_is_drawn_as_what_its_name_says() -> None:
    cap = product(category="accessories", name="Aerostep Cap")
    belt = product(category="accessories", name="Lumaloop Belt")
    assert drawing_for(cap) is CATEGORY_DRAWINGS["caps"]
    assert drawing_for(belt) is CATEGORY_DRAWINGS["belts"]
    assert product_svg(cap) != product_svg(belt)


def test_premium_wears_a_ribbon_the_others_do_not() -> None:
    assert b"PREMIUM" in product_svg(product(tier="premium"))
    assert b"PREMIUM" not in product_svg(product(tier="standard"))


def test_unknown_colours_are_never_written_into_the_picture() -> None:
    svg = product_svg(product(tags=('color:"/><script>alert(1)</script>', "color:#12ab34")))
    assert b"<script" not in svg
    assert paints(('color:"/><script>',)) == paints(())
    assert "#12ab34" in fills(svg)


def test_the_name_is_escaped_in_the_title() -> None:
    svg = product_svg(product(name="Shoe </title><script>x()</script> & co"))
    root = ET.fromstring(svg)  # still well-formed
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text == "Shoe </title><script>x()</script> & co"  # type: ignore[union-attr]
    assert b"<script" not in svg


def test_a_feed_row_without_an_image_gets_a_drawn_one_and_its_own_image_wins(
    tmp_path: Path,
) -> None:
    feed = tmp_path / "feed.jsonl"
    base = (
        '"url":"/p/{0}","price":10,"currency":"EUR","category":"bags",'
        '"gender":"women","in_stock":true'
    )
    feed.write_text(
        "\n".join(
            [
                '{"id":"a","name":"A",' + base.format("a") + "}",
                '{"id":"b c","name":"B","image":"",' + base.format("b") + "}",
                '{"id":"d","name":"D","image":"https://cdn.example/d.jpg",'
                + base.format("d")
                + "}",
                '{"id":"e","name":"E","image_link":"https://cdn.example/e.jpg",'
                + base.format("e")
                + "}",
            ]
        )
    )
    catalog, errors = load_catalog(feed)
    assert errors == []
    assert catalog.products["a"].image == "/_sw/img/product/a.svg"
    assert catalog.products["b c"].image == "/_sw/img/product/b%20c.svg"
    assert catalog.products["d"].image == "https://cdn.example/d.jpg"
    assert catalog.products["e"].image == "https://cdn.example/e.jpg"


def test_the_catalog_draws_each_picture_once() -> None:
    catalog = build_catalog([product()])
    first = catalog.picture("w-run-001")
    assert first is not None
    assert catalog.picture("w-run-001") is first
    assert catalog.picture("nope") is None


def test_the_demo_catalog_shows_drawn_pictures(client: TestClient) -> None:
    page = client.get("/p/w-run-001")
    assert 'src="/_sw/img/product/w-run-001.svg"' in page.text


def test_the_picture_route_answers_svg_cached_for_everyone(client: TestClient) -> None:
    answer = client.get("/_sw/img/product/w-run-001.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.headers["cache-control"].startswith("public, max-age=604800")
    assert "set-cookie" not in answer.headers
    ET.fromstring(answer.content)
    again = client.get(
        "/_sw/img/product/w-run-001.svg", headers={"if-none-match": answer.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", ["/_sw/img/product/nope.svg", "/_sw/img/product/%3Cb%3E.svg"])
def test_an_unknown_product_has_no_picture(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "<b>" not in answer.text


def test_the_favicon_is_served_not_redirected(client: TestClient) -> None:
    answer = client.get("/favicon.ico", follow_redirects=False)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
