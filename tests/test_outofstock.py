"""The out-of-stock placement over HTTP: the fragment, the product page, rules, reloads."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from starlette.requests import Request
from starlette.testclient import TestClient

from shopwindow.catalog.feed import Catalog, load_catalog
from shopwindow.cli.main import main
from shopwindow.placements.outofstock import SPARE
from shopwindow.settings import PROJECT_ROOT
from shopwindow.shop import Shop
from tests.oos_checks import check_answer

FRAGMENT = "/_sw/fragments/recommendations"
JSON = {"accept": "application/json"}
DEMO_CATALOG = PROJECT_ROOT / "demo" / "catalog.jsonl"
CARD = re.compile(r'data-product-id="([^"]+)"')
LIST = re.compile(r'data-sw-list="([a-z]+)"')


def shop_of(client: TestClient) -> Shop:
    shop: Shop = client.app.state.shop  # type: ignore[attr-defined]
    return shop


def catalog_of(client: TestClient) -> Catalog:
    snap = shop_of(client).snapshot
    assert snap is not None
    return snap.catalog


def lists_json(client: TestClient, product_id: str, **kw: Any) -> list[tuple[str, list[str]]]:
    response = client.get(FRAGMENT, params={"product_id": product_id}, headers=JSON, **kw)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return [(r["name"], [p["id"] for p in r["products"]]) for r in response.json()["lists"]]


def lists_html(html: str) -> list[tuple[str, list[str]]]:
    """The lists of a rendered block, in page order, with their product ids."""
    out: list[tuple[str, list[str]]] = []
    parts = LIST.split(html)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        out.append((name, CARD.findall(body)))
    return out


def events(client: TestClient, *batch: dict[str, Any]) -> None:
    response = client.post("/_sw/events", json=list(batch))
    assert response.status_code == 200, response.text


def counts_of(rule_then: dict[str, Any]) -> dict[str, int]:
    return {entry["name"]: entry["count"] for entry in rule_then["lists"]}


# --- the demo shop over HTTP ----------------------------------------------------------


def test_every_sold_out_demo_product_gets_four_recommendations_as_html_and_json(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    catalog = catalog_of(client)
    snap = shop_of(client).snapshot
    assert snap is not None
    pairings = snap.rules.data["pairings"]
    sold_out = sorted(p.id for p in catalog if not p.in_stock)
    assert len(sold_out) >= 50
    for product_id in sold_out:
        product = catalog.get(product_id)
        assert product is not None
        as_json = lists_json(client, product_id)
        response = client.get(FRAGMENT, params={"product_id": product_id})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["x-shopwindow-rules"] == "sold-out"
        assert response.headers["cache-control"] == "private, no-store"
        as_html = lists_html(response.text)
        assert as_html == as_json
        total = check_answer(catalog, product, as_json, pairings=pairings)
        assert total >= 4, f"{product_id}: {total} recommendations"
        assert [name for name, _ in as_json] == [
            name for name in ("similar", "premium", "accessories", "popular")
            if name in dict(as_json)
        ]  # fmt: skip


def test_the_product_page_shows_the_block_and_names_the_rule(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    page = client.get("/p/w-run-004")
    assert page.status_code == 200
    assert page.headers["x-shopwindow-rules"] == "sold-out"
    slot = page.text.split('data-sw-slot="recommendations"', 1)[1].split("data-sw-slot=", 1)[0]
    assert "Sold out, but you may like these" in slot
    assert lists_html(slot) == lists_json(client, "w-run-004")
    in_stock = client.get("/p/w-run-001")
    assert in_stock.headers["x-shopwindow-rules"] == "cross-sell"
    names = [name for name, _ in lists_html(in_stock.text)]
    assert names == ["accessories", "similar"]
    assert "Complete the look" in in_stock.text
    assert "w-run-001" not in {pid for _, ids in lists_html(in_stock.text) for pid in ids}


def test_in_stock_cross_sell_obeys_the_same_definitions(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    catalog = catalog_of(client)
    snap = shop_of(client).snapshot
    assert snap is not None
    for product in sorted(catalog, key=lambda p: p.id)[::9]:
        if not product.in_stock:
            continue
        lists = lists_json(client, product.id)
        check_answer(catalog, product, lists, pairings=snap.rules.data["pairings"])
        assert {name for name, _ in lists} <= {"accessories", "similar"}


def test_a_visitor_with_a_clear_gender_never_sees_another_gender(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    catalog = catalog_of(client)
    snap = shop_of(client).snapshot
    assert snap is not None
    events(client, *({"type": "view", "product_id": f"m-hood-00{i}"} for i in range(1, 6)))
    for product_id in ("w-run-004", "w-dress-003", "k-snk-004", "u-bag-002", "u-bag-004"):
        product = catalog.get(product_id)
        assert product is not None
        lists = lists_json(client, product_id)
        assert sum(len(ids) for _, ids in lists) >= 4
        pairings = snap.rules.data["pairings"]
        check_answer(catalog, product, lists, visitor_gender="men", pairings=pairings)
    similar = dict(lists_json(client, "w-run-004"))["similar"]
    assert {catalog.get(pid).gender for pid in similar} <= {"men", "unisex"}  # type: ignore[union-attr]
    assert {catalog.get(pid).category for pid in similar} == {"running-shoes"}  # type: ignore[union-attr]


def test_regular_buyers_see_premium_first_and_a_cart_puts_accessories_first(
    make_client: Callable[..., TestClient],
) -> None:
    first_time = make_client()
    assert [name for name, _ in lists_json(first_time, "w-run-020")] == [
        "similar",
        "premium",
        "accessories",
        "popular",
    ]
    buyer = make_client()
    bought = {"type": "purchase", "items": [{"product_id": "u-bag-001", "price": 50}]}
    events(buyer, bought, {**bought, "order_id": "o-2"})
    response = buyer.get(FRAGMENT, params={"product_id": "w-run-020"}, headers=JSON)
    assert response.headers["x-shopwindow-rules"] == "sold-out-premium-first"
    body = response.json()
    assert [r["name"] for r in body["lists"]] == ["premium", "similar", "popular"]
    assert body["lists"][0]["title"] == "The premium version"
    assert len(body["lists"][0]["products"]) == 2
    assert body["title"] == "Sold out: treat yourself instead"

    shopper = make_client()
    events(shopper, {"type": "add_to_cart", "product_id": "u-sock-002"})
    response = shopper.get(FRAGMENT, params={"product_id": "w-run-020"}, headers=JSON)
    assert response.headers["x-shopwindow-rules"] == "sold-out-cart"
    names = [r["name"] for r in response.json()["lists"]]
    assert names == ["accessories", "similar", "premium"]
    counts = [len(r["products"]) for r in response.json()["lists"]]
    assert counts == [4, 4, 1]


def test_rules_change_the_order_and_the_counts(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    rules = rules_dir / "out-of-stock.yaml"
    rules.write_text(
        "- id: short\n"
        "  when: {product.in_stock: false}\n"
        "  then:\n"
        "    lists:\n"
        "      - {name: popular, count: 2}\n"
        "      - {name: similar, count: 3}\n"
    )
    client = make_client()
    lists = lists_json(client, "w-run-004")
    assert [(name, len(ids)) for name, ids in lists] == [("popular", 2), ("similar", 3)]
    rules.write_text(
        "- id: long\n"
        "  when: {product.in_stock: false}\n"
        "  then:\n"
        "    lists:\n"
        "      - {name: similar, count: 6}\n"
        "      - {name: accessories, count: 5}\n"
        "      - {name: premium, count: 1}\n"
    )
    os.utime(rules, (os.stat(rules).st_atime, os.stat(rules).st_mtime + 5))
    assert shop_of(client).reload_if_changed()
    response = client.get(FRAGMENT, params={"product_id": "w-run-004"}, headers=JSON)
    assert response.headers["x-shopwindow-rules"] == "long"
    lists = [(r["name"], len(r["products"])) for r in response.json()["lists"]]
    assert lists == [("similar", 6), ("accessories", 5), ("premium", 1)]
    # No rule for in-stock pages in this file: nothing is shown there.
    page = client.get("/p/w-run-001")
    assert "x-shopwindow-rules" not in page.headers
    assert lists_html(page.text) == []
    assert client.get(FRAGMENT, params={"product_id": "w-run-001"}).text == ""
    assert lists_json(client, "w-run-001") == []
    nothing = client.get(FRAGMENT, params={"product_id": "w-run-001"}, headers=JSON).json()
    assert nothing == {"product_id": "w-run-001", "in_stock": True, "title": "", "lists": []}


def test_a_split_rule_gives_each_variant_its_own_lists(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    (rules_dir / "out-of-stock.yaml").write_text(
        "- id: layout\n"
        "  when: {product.in_stock: false}\n"
        "  then:\n"
        "    lists: [{name: similar, count: 2}]\n"
        "  split:\n"
        "    variants:\n"
        "      a: 50\n"
        "      b: {weight: 50, then: {lists: [{name: popular, count: 3}]}}\n"
    )
    seen: dict[str, list[tuple[str, int]]] = {}
    for _ in range(30):
        client = make_client()
        response = client.get(FRAGMENT, params={"product_id": "w-run-004"}, headers=JSON)
        label = response.headers["x-shopwindow-rules"]
        seen[label] = [(r["name"], len(r["products"])) for r in response.json()["lists"]]
        again = client.get(FRAGMENT, params={"product_id": "w-run-004"}, headers=JSON)
        assert again.headers["x-shopwindow-rules"] == label  # sticky per visitor
        if len(seen) == 2:
            break
    assert seen == {"layout:a": [("similar", 2)], "layout:b": [("popular", 3)]}


def test_a_product_coming_back_in_stock_after_a_catalog_reload(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    feed = tmp_path / "catalog.jsonl"
    rows = [json.loads(line) for line in DEMO_CATALOG.read_text().splitlines() if line]
    feed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    client = make_client(catalog=str(feed))
    gone, back = "w-run-004", "w-run-020"  # both sold out, same range
    before = lists_json(client, gone)  # also fills the segment cache
    assert back not in {pid for _, ids in before for pid in ids}
    assert client.get(f"/p/{back}").headers["x-shopwindow-rules"] == "sold-out"

    model = next(r for r in rows if r["id"] == gone)
    for r in rows:
        if r["id"] == back:  # restocked at the sold-out product's price, same style
            r.update(in_stock=True, price=model["price"], tags=model["tags"])
    feed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.utime(feed, (os.stat(feed).st_atime, os.stat(feed).st_mtime + 5))
    assert shop_of(client).reload_if_changed()

    after = dict(lists_json(client, gone))
    linked = set(catalog_of(client).similar_ids(gone))
    unlinked = [pid for pid in after["similar"] if pid not in linked]
    # Same price and style: the nearest unlinked product, or one of the links.
    assert back in linked or unlinked[0] == back
    assert back in after["similar"]
    page = client.get(f"/p/{back}")
    assert page.headers["x-shopwindow-rules"] == "cross-sell"
    assert "Add to cart" in page.text


def test_the_visitors_cart_is_left_out_without_shrinking_the_list(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    (rules_dir / "out-of-stock.yaml").write_text(
        "- id: accessories-only\n"
        "  when: {product.in_stock: false}\n"
        "  then:\n"
        "    lists: [{name: accessories, count: 3}]\n"
    )
    client = make_client(cart_cookie="cart")
    plain = dict(lists_json(client, "w-run-004"))["accessories"]
    assert len(plain) == 3
    cart = json.dumps([{"product_id": plain[0], "quantity": 1, "price": 10.0}])
    other = make_client(cart_cookie="cart")
    other.cookies.set("cart", quote(cart))
    mine = dict(lists_json(other, "w-run-004"))["accessories"]
    assert plain[0] not in mine
    assert mine[:2] == plain[1:] and len(mine) == 3
    html = other.get(FRAGMENT, params={"product_id": "w-run-004"}).text
    assert plain[0] not in html
    # The segment's cached answer is untouched by that visitor.
    assert dict(lists_json(client, "w-run-004"))["accessories"] == plain
    assert SPARE >= 1


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"product_id": ""}, 400),
        ({"product_id": "nope"}, 404),
        ({"product_id": "<script>alert(1)</script>"}, 404),
        ({"product_id": "w-run-004\x00"}, 404),
        ({"product_id": "x" * 5000}, 404),
    ],
)
def test_bad_product_ids_get_a_clear_error_and_are_never_echoed(
    client: TestClient, params: dict[str, str], status: int
) -> None:
    for headers in ({}, JSON):
        response = client.get(FRAGMENT, params=params, headers=headers)
        assert response.status_code == status
        assert "<script>" not in response.text and "xxxxx" not in response.text
    assert client.get("/p/%3Cscript%3E").status_code == 404


def test_the_recommendations_slot_reads_the_product_from_the_query(
    make_client: Callable[..., TestClient],
) -> None:
    from shopwindow.serve.request import visit_of

    client = make_client()
    shop = shop_of(client)
    snap = shop.snapshot
    assert snap is not None
    slot = shop.hooks.fragments["recommendations"]

    path = {"value": "/p/w-run-004"}

    def fill(query: str) -> tuple[str, list[str]]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path["value"],
            "query_string": query.encode(),
            "headers": [],
            "client": ("203.0.113.9", 5000),
            "app": client.app,
            "scheme": "http",
            "server": ("testserver", 80),
        }
        request = Request(scope)
        result: tuple[str, list[str]] = asyncio.run(
            slot(request, shop, snap, visit_of(request, snap))
        )
        return result

    html, labels = fill("product_id=w-run-004")
    assert labels == ["sold-out"]
    assert lists_html(html) == lists_json(client, "w-run-004")
    assert fill("product_id=missing") == ("", [])
    # Without ?product_id=, the page whose path is a product's feed url.
    assert fill("") == (html, ["sold-out"])
    path["value"] = "/some/other/page"
    assert fill("") == ("", [])


# --- checking the rules ---------------------------------------------------------------


def run_check(rules_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", str(rules_dir)])
    return result.exit_code, result.output


def test_check_accepts_the_demo_rules_and_reports_bad_lists_with_their_position(
    rules_dir: Path,
) -> None:
    assert run_check(rules_dir)[0] == 0
    (rules_dir / "out-of-stock.yaml").write_text(
        "- id: bad\n"
        "  then:\n"
        "    lists:\n"
        "      - {name: similar}\n"
        "      - {name: similar, count: 2}\n"
        "      - {name: bestsellers}\n"
        "      - {name: premium, count: 99}\n"
        "    pairings:\n"
        "      - {category: running-shoes, accessories: [sockz]}\n"
    )
    code, output = run_check(rules_dir)
    assert code == 1
    assert re.search(r"out-of-stock\.yaml:5:\d+: list 'similar' is already in this rule", output)
    assert re.search(r"out-of-stock\.yaml:6:\d+: `name`: expected one of similar, premium", output)
    assert re.search(r"out-of-stock\.yaml:7:\d+: `count`: expected a number from 1 to 24", output)
    assert re.search(r"out-of-stock\.yaml:9:\d+: category 'sockz' is not in the catalog", output)


def test_check_reports_a_broken_pairings_file(rules_dir: Path) -> None:
    (rules_dir / "pairings.yaml").write_text(
        "running-shoes: [socks, insole]\nsocks: socks\nboots: {a: b}\nsneaker: [7]\n"
    )
    code, output = run_check(rules_dir)
    assert code == 1
    assert (
        "pairings.yaml:1:24: category 'insole' is not in the catalog; did you mean 'insoles'?"
        in output
    )
    assert "pairings.yaml:2:8: 'socks' cannot be its own accessory" in output
    assert "pairings.yaml:3:8: list the accessory categories" in output
    assert "pairings.yaml:4:1: category 'sneaker' is not in the catalog; did you mean" in output
    assert "pairings.yaml:4:11: expected a category name, got a number" in output
    (rules_dir / "pairings.yaml").write_text("- running-shoes\n")
    code, output = run_check(rules_dir)
    assert code == 1 and "pairings.yaml:1:1: pairings.yaml maps a category" in output


def test_a_smaller_catalog_keeps_the_pairings_valid_and_reloading(
    make_client: Callable[..., TestClient], rules_dir: Path, tmp_path: Path
) -> None:
    """A feed without socks or insoles must not stop the rules (and catalog reloads)."""
    feed = tmp_path / "catalog.jsonl"
    kept = [
        line
        for line in DEMO_CATALOG.read_text().splitlines()
        if '"category":"socks"' not in line and '"category":"insoles"' not in line
    ]
    assert len(kept) < len(DEMO_CATALOG.read_text().splitlines())
    feed.write_text("\n".join(kept) + "\n")
    # Posts tag products: check reports the ones this feed lacks (tests/test_posts.py).
    (rules_dir / "posts.yaml").unlink()
    result = CliRunner().invoke(main, ["check", str(rules_dir), "--catalog", str(feed)])
    assert result.exit_code == 0, result.output
    client = make_client(catalog=str(feed))
    lists = dict(lists_json(client, "w-run-004"))
    assert "accessories" not in lists  # nothing to pair with, and no empty list
    assert len(lists["similar"]) == 4


def test_a_rules_own_pairings_replace_the_files_for_its_visitors(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    (rules_dir / "out-of-stock.yaml").write_text(
        "- id: runners\n"
        "  when: {product.in_stock: false}\n"
        "  then:\n"
        "    lists: [{name: accessories, count: 8}]\n"
        "    pairings:\n"
        "      - {category: running-shoes, accessories: [t-shirts]}\n"
    )
    client = make_client()
    catalog = catalog_of(client)
    ids = dict(lists_json(client, "w-run-004"))["accessories"]
    linked = {p.id for p in catalog.accessories_for("w-run-004")}
    categories = {catalog.get(pid).category for pid in ids if pid not in linked}  # type: ignore[union-attr]
    assert categories == {"t-shirts"}


def test_the_demo_catalog_has_what_these_tests_rely_on() -> None:
    catalog, _ = load_catalog(DEMO_CATALOG)
    assert not catalog.get("w-run-004").in_stock  # type: ignore[union-attr]
    assert not catalog.get("w-run-020").in_stock  # type: ignore[union-attr]
    assert catalog.get("w-run-001").in_stock  # type: ignore[union-attr]
    assert catalog.get("u-sock-002").in_stock  # type: ignore[union-attr]


def test_explain_shows_which_rule_a_product_page_gets(rules_dir: Path) -> None:
    runner = CliRunner()
    sold = runner.invoke(main, ["explain", "/p/w-run-004", "--rules", str(rules_dir), "--json"])
    assert sold.exit_code == 0, sold.output
    report = json.loads(sold.output)
    assert report["answer"]["rules"] == ["sold-out"]
    assert report["context"]["product.in_stock"] is False
    assert report["context"]["product.category"] == "running-shoes"
    fragment = runner.invoke(
        main,
        ["explain", f"{FRAGMENT}?product_id=w-run-001", "--rules", str(rules_dir)],
    )
    assert fragment.exit_code == 0
    assert "WINS  cross-sell" in fragment.output
    unknown = runner.invoke(main, ["explain", "/p/nope", "--rules", str(rules_dir), "--json"])
    assert json.loads(unknown.output)["answer"]["rules"] == []
