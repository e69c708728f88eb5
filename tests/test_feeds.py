"""Shop feeds as shops export them: Merchant Center TSV and XML, Shopify CSV, told apart by content."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.app import create_app
from shopwindow.catalog.categorymap import load_category_map
from shopwindow.catalog.feed import Catalog, load_catalog
from shopwindow.catalog.formats import MERCHANT_TSV, MERCHANT_XML, SHOPIFY_CSV, detect
from shopwindow.cli.main import main
from shopwindow.visitor.events import EventError, parse_event
from tests.conftest import build_settings
from tests.landing_support import grid_ids, headline

FEEDS = Path(__file__).parent / "feeds"
TSV = FEEDS / "merchant-center.tsv"
XML = FEEDS / "merchant-center.xml"
SHOPIFY = FEEDS / "shopify-products.csv"


def tsv_rows() -> list[dict[str, str]]:
    with TSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def shopify_rows() -> list[dict[str, str]]:
    with SHOPIFY.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_fixtures_hold_at_least_fifty_rows_each() -> None:
    assert len(tsv_rows()) >= 50
    assert XML.read_text(encoding="utf-8").count("<item>") >= 50
    assert len(shopify_rows()) >= 50


@pytest.mark.parametrize(
    ("feed", "name", "expected"),
    [
        (TSV, "feed.csv", MERCHANT_TSV),  # a TSV named .csv
        (XML, "feed.txt", MERCHANT_XML),
        (SHOPIFY, "export.tsv", SHOPIFY_CSV),
    ],
)
def test_the_format_comes_from_the_content_not_the_name(
    tmp_path: Path, feed: Path, name: str, expected: str
) -> None:
    copy = tmp_path / name
    shutil.copy(feed, copy)
    assert detect(copy.read_bytes()) == expected
    catalog, _ = load_catalog(copy)
    reference, _ = load_catalog(feed)
    assert catalog.feed_format == expected
    assert [p.to_json() for p in catalog] == [p.to_json() for p in reference]


def test_merchant_center_variants_fold_into_one_product_per_item_group() -> None:
    catalog, _ = load_catalog(TSV)
    rows = tsv_rows()
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row["item_group_id"] or row["id"]].append(row)
    bad = {"BAD-PRICE", "BAD-AVAIL"}
    assert set(catalog.products) == set(groups) - bad
    for group_id, members in groups.items():
        if group_id in bad:
            continue
        product = catalog.products[group_id]
        assert {f"size:{r['size']}" for r in members if r["size"]} <= set(product.tags)
        assert {f"color:{r['color'].lower()}" for r in members} <= set(product.tags)
        assert product.in_stock == any(
            r["availability"] in ("in_stock", "in stock") for r in members
        )
        # Each variant's own id still finds its product.
        for row in members:
            assert catalog.get(row["id"]) is product
        # The name is the product's, not one size's.
        assert not any(product.name.endswith(r["size"]) for r in members if r["size"])
        assert product.currency == "EUR"
    assert catalog.products["TRL-100"].name == "Kinetik Stormward Women's Trail Running Shoe"


def test_merchant_center_fields_become_gender_category_price_and_image() -> None:
    catalog, _ = load_catalog(TSV)
    # age_group kids / toddler -> kids, whatever `gender` says.
    assert catalog.products["KID-400"].gender == "kids"
    assert catalog.products["TOD-900"].gender == "kids"
    assert catalog.products["TRL-100"].gender == "women"
    assert catalog.products["TRL-200"].gender == "men"
    # product_type first, then google_product_category (path or numeric id).
    assert catalog.products["TRL-100"].category == "running-shoes"
    assert catalog.products["JKT-700"].category == "jackets"  # "... > Coats & Jackets"
    assert catalog.products["DRS-950"].category == "dresses"  # id 2271
    assert catalog.products["BAG-001"].category == "bags"
    assert catalog.products["TRL-200"].price == 99.95  # its sale_price
    # image_link is optional: a product without one is given its drawn picture
    assert catalog.products["RD-300"].image == "/_sw/img/product/RD-300.svg"
    assert catalog.products["BAG-001"].image.endswith("/img/bag-001.jpg")
    assert "brand:kinetik" in catalog.products["TRL-100"].tags


def test_merchant_center_rows_it_cannot_use_are_reported_on_their_lines() -> None:
    _, errors = load_catalog(TSV)
    lines = {row["id"]: n for n, row in enumerate(tsv_rows(), start=2)}
    found = {(e.line, e.message.split(":")[0]) for e in errors}
    assert found == {(lines["BAD-PRICE"], "BAD-PRICE"), (lines["BAD-AVAIL"], "BAD-AVAIL")}
    assert any("missing required field 'price'" in e.message for e in errors)


def test_merchant_center_xml_reads_like_the_tsv_in_its_own_currency() -> None:
    xml, xml_errors = load_catalog(XML)
    tsv, _ = load_catalog(TSV)
    assert set(xml.products) == set(tsv.products)
    assert set(xml.aliases) == set(tsv.aliases)
    for product in xml:
        twin = tsv.products[product.id]
        assert (product.category, product.gender, product.in_stock) == (
            twin.category,
            twin.gender,
            twin.in_stock,
        )
        assert product.currency == "USD"
        assert product.url.startswith("https://us.shop.example/")
    text = XML.read_text(encoding="utf-8").splitlines()
    for error in xml_errors:
        # The line named is where that <item> starts.
        assert text[error.line - 1].strip() == "<item>"
    assert len(xml_errors) == 2


def test_an_atom_feed_with_g_fields(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
  <title>Shop</title>
  <entry>
    <g:id>TEE-1-S</g:id><title>Tee - S</title><link href="https://shop.example/tee"/>
    <g:price>20.00 GBP</g:price><g:availability>in stock</g:availability>
    <g:item_group_id>TEE-1</g:item_group_id><g:size>S</g:size>
    <g:google_product_category>Apparel &amp; Accessories &gt; Clothing &gt; Shirts &amp; Tops</g:google_product_category>
  </entry>
  <entry>
    <g:id>TEE-1-M</g:id><title>Tee - M</title><link href="https://shop.example/tee"/>
    <g:price>22.00 GBP</g:price><g:availability>out of stock</g:availability>
    <g:item_group_id>TEE-1</g:item_group_id><g:size>M</g:size>
  </entry>
</feed>
""",
        encoding="utf-8",
    )
    catalog, errors = load_catalog(feed)
    assert errors == []
    (tee,) = list(catalog)
    assert (tee.id, tee.name, tee.price, tee.currency, tee.category, tee.gender) == (
        "TEE-1",
        "Tee",
        20.0,
        "GBP",
        "t-shirts",
        "unisex",
    )
    assert catalog.get("TEE-1-M") is tee


def test_xml_with_entity_declarations_is_refused(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>&b;</g:id>'
        "</item></channel></rss>",
        encoding="utf-8",
    )
    catalog, errors = load_catalog(feed)
    assert len(catalog) == 0
    assert len(errors) == 1 and "XML refused" in errors[0].message


def test_shopify_export_groups_variants_by_handle_with_stock_and_tags() -> None:
    catalog, errors = load_catalog(SHOPIFY)
    rows = shopify_rows()
    by_handle: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_handle[row["Handle"]].append(row)
    first = {handle: members[0] for handle, members in by_handle.items()}
    shown = {
        h for h, row in first.items() if row["Status"] == "active" and row["Published"] != "FALSE"
    }
    assert set(catalog.products) == shown
    for handle in shown:
        product = catalog.products[handle]
        variants = [r for r in by_handle[handle] if r["Variant Price"]]
        stocked = [r for r in variants if int(r["Variant Inventory Qty"] or 0) > 0]
        assert product.in_stock == bool(stocked)
        assert product.name == first[handle]["Title"]
        assert product.url == f"/products/{handle}"
        assert product.currency == "EUR"
        for tag in first[handle]["Tags"].split(","):
            assert tag.strip() in product.tags
        for row in variants:
            if row["Variant SKU"] and not row["Variant Price"].replace(".", "").isdigit():
                continue
            assert catalog.get(row["Variant SKU"]) is product
    assert catalog.products["jumper-kids-sneaker"].gender == "kids"  # Age Group: Kids
    assert catalog.products["fleece-hoodie"].gender == "women"
    assert catalog.products["hiking-boot"].in_stock is False  # every variant at 0
    assert {"color:red", "color:navy", "size:38"} <= set(
        catalog.products["stormward-trail-womens"].tags
    )
    assert catalog.products["leather-tote"].category == "bags"
    assert catalog.products["rain-jacket"].category == "jackets"  # from Product Category
    reasons = sorted(e.message for e in errors)
    assert any("winter-preview-parka: status is draft" in r for r in reasons)
    assert any("old-season-cap: not published" in r for r in reasons)
    assert any("Variant Price must be a number" in r for r in reasons)


def test_a_shopify_export_takes_the_shops_currency(tmp_path: Path) -> None:
    catalog, _ = load_catalog(SHOPIFY, currency="gbp")
    assert {p.currency for p in catalog} == {"GBP"}


def test_the_marketer_extends_the_category_map(tmp_path: Path) -> None:
    mapping = tmp_path / "categories.yaml"
    mapping.write_text('"Clothing > Hoodies": sweaters\n"2271": summer-dresses\n')
    catalog, _ = load_catalog(TSV, categories=load_category_map(mapping))
    assert catalog.products["HD-500"].category == "sweaters"
    assert catalog.products["DRS-950"].category == "summer-dresses"
    assert catalog.products["TRL-100"].category == "running-shoes"  # defaults still apply
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="product type or Google category: category"):
        load_category_map(bad)


def test_beacons_naming_a_variant_count_for_its_product() -> None:
    catalog, _ = load_catalog(TSV)
    event = parse_event({"type": "view", "product_id": "TRL-100-RED-38"}, catalog)
    assert event.product_id == "TRL-100"
    bought = parse_event(
        {"type": "purchase", "items": [{"product_id": "SNK-960-WHI-42", "price": 99.0}]}, catalog
    )
    assert bought.items[0][0] == "SNK-960"
    with pytest.raises(EventError):
        parse_event({"type": "view", "product_id": "TRL-100-RED-99"}, catalog)


def test_catalog_check_reports_each_skipped_row_and_why(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["catalog", "check", str(SHOPIFY)], env={"SHOPWINDOW_CONFIG": ""})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{SHOPIFY}:" in lines[0] and lines[0].endswith("(row skipped)")
    assert sum(line.endswith("(row skipped)") for line in lines) == 4
    assert "Shopify product CSV, 9 products" in lines[-1]
    clean = tmp_path / "clean.tsv"
    clean.write_text(
        "".join(line for line in TSV.read_text().splitlines(True) if "BAD-" not in line)
    )
    result = runner.invoke(main, ["catalog", "check", str(clean)], env={"SHOPWINDOW_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert "Google Merchant Center (tab-separated), 14 products" in result.output


LANDING = """
- id: feed-running
  when:
    landing.slug: running
  then:
    headline: "Running shoes"
    products: {category: running-shoes}

- id: feed-picks
  when:
    landing.slug: picks
  then:
    headline: "Picked for you"
    products: {ids: [%s]}
"""


@pytest.mark.parametrize(
    ("feed", "picks"), [(TSV, ["TRL-200", "BAG-001"]), (XML, ["TRL-200", "BAG-001"])]
)
def test_a_merchant_center_feed_renders_on_a_landing_page(
    tmp_path: Path, feed: Path, picks: list[str]
) -> None:
    with _client(tmp_path, feed, "TRL-200-BLU-43, BAG-001") as client:
        catalog: Catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
        page = client.get("/lp/running")
        picked = grid_ids(client.get("/lp/picks").text)
    assert page.status_code == 200
    assert headline(page.text) == "Running shoes"
    shown = grid_ids(page.text)
    expected = {p.id for p in catalog if p.category == "running-shoes"}
    assert set(shown) == expected and len(shown) == len(expected) == 3  # one card per product
    assert "Kinetik Stormward Women&#39;s Trail Running Shoe<" in page.text
    assert "- 37" not in page.text
    # A rule naming a variant id shows its product.
    assert picked == picks


def test_a_shopify_export_renders_on_a_landing_page(tmp_path: Path) -> None:
    with _client(tmp_path, SHOPIFY, "GLIDE--BLA-44, fleece-hoodie") as client:
        page = client.get("/lp/running")
        picked = grid_ids(client.get("/lp/picks").text)
    assert page.status_code == 200
    assert set(grid_ids(page.text)) == {"stormward-trail-womens", "glide-road-mens"}
    assert picked == ["glide-road-mens", "fleece-hoodie"]


def _client(tmp_path: Path, feed: Path, picks: str) -> TestClient:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "landing-pages.yaml").write_text(LANDING % picks)
    app = create_app(build_settings(rules, catalog=str(feed)), watch=False)
    return TestClient(app, client=("203.0.113.9", 50000), follow_redirects=False)


def test_the_docs_list_the_built_in_category_map_and_their_example_loads(tmp_path: Path) -> None:
    import re

    from shopwindow.catalog.categorymap import DEFAULT_CATEGORIES

    text = (Path(__file__).parent.parent / "docs" / "catalog.md").read_text(encoding="utf-8")
    rows = {
        m.group(2): m.group(1).lower()
        for m in re.finditer(r"^\| (.+?) \| `([\w-]+)` \|$", text, re.M)
    }
    for name, category in DEFAULT_CATEGORIES.items():
        assert name in rows.get(category, ""), (name, category)
    example = re.search(r"```yml\n# categories.yaml.*?\n(.*?)```", text, re.S)
    assert example is not None
    mapping = tmp_path / "categories.yaml"
    mapping.write_text(example.group(1))
    categories = load_category_map(mapping)
    assert categories.category("Shoes > Running Shoes > Trail") == "running-shoes"
    assert categories.category("", "5322") == "sportswear"
