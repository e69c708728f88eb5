"""Shop the post over HTTP: a visitor from a post lands on its products; the gallery; the stats."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.catalog.feed import load_catalog
from shopwindow.cli.main import main
from tests.conftest import DEMO_CATALOG, DEMO_RULES, SECRET, LiveServer
from tests.origin_site import OriginSite, html

CATALOG, _ = load_catalog(DEMO_CATALOG)
POST = "ig-trail-weekend"
LABEL = f"post.{POST}"
# How Instagram's link sticker and a profile link arrive: UTM tags plus Meta's own click id.
INSTAGRAM_URL = (
    "/?utm_source=instagram&utm_medium=social&utm_campaign=spring_trail"
    f"&utm_content={POST}&fbclid=PAZXh0bgNhZW0CMTEAAaZ2nW1Xl3d4"
)
CARD = re.compile(r'<a class="card[^"]*" href="[^"]*" data-product-id="([^"]+)"')
TAG = re.compile(r'<a class="post-tag[^"]*" href="([^"]+)"[^>]*data-product-id="([^"]+)"')
GRID = re.compile(r'<section class="grid post-products".*?</section>', re.S)
LOOK = re.compile(r'<section class="strip look".*?</section>', re.S)
TOKEN = "stats-token-for-posts"


def demo_post() -> dict[str, Any]:
    """The demo post as the file has it: its tagged product ids in order."""
    import yaml

    posts = yaml.safe_load((DEMO_RULES / "posts.yaml").read_text())
    found: dict[str, Any] = next(p for p in posts if p["id"] == POST)
    return found


def tagged_ids() -> list[str]:
    return [t["product"] for t in demo_post()["tags"]]


def assert_lands_on_the_post(page: str) -> None:
    """The tagged products first, in their order, each sold-out one in its place replaced by
    an in-stock product of its category; nothing sold out anywhere on the page."""
    tagged = tagged_ids()
    sold_out = [pid for pid in tagged if not CATALOG.get(pid).in_stock]  # type: ignore[union-attr]
    assert sold_out, "the demo post tags a sold-out product"
    grid = CARD.findall(GRID.search(page).group(0))  # type: ignore[union-attr]
    assert len(grid) == len(tagged)
    for pid, shown in zip(tagged, grid, strict=True):
        original = CATALOG.get(pid)
        assert original is not None
        if original.in_stock:
            assert shown == pid
        else:
            stand_in = CATALOG.get(shown)
            assert stand_in is not None and stand_in.in_stock and shown not in tagged
            assert stand_in.category == original.category
    every_id = set(re.findall(r'data-product-id="([^"]+)"', page))
    assert every_id, page
    for pid in every_id:
        product = CATALOG.get(pid)
        assert product is not None and product.in_stock, pid
    for pid in sold_out:
        assert pid not in page
    tags = TAG.findall(page)
    assert [pid for _, pid in tags] == grid  # a tag for every product, on the picture
    look = CARD.findall(LOOK.search(page).group(0))  # type: ignore[union-attr]
    assert look and not set(look) & set(grid)


def test_a_visitor_from_an_instagram_post_lands_on_its_products(client: TestClient) -> None:
    page = client.get(INSTAGRAM_URL)
    assert page.status_code == 200
    assert page.headers["x-shopwindow-rules"] == LABEL
    assert page.headers["x-shopwindow-landing"] == f"post; {POST}"
    assert page.headers["cache-control"] == "private, no-store"
    assert_lands_on_the_post(page.text)
    assert 'src="/_sw/static/img/posts/ig-trail-weekend.svg"' in page.text
    image = client.get("/_sw/static/img/posts/ig-trail-weekend.svg")
    assert image.status_code == 200 and image.text.startswith("<svg")


def test_the_real_server_lands_a_post_visitor_on_its_products(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    page = httpx.get(server.url + INSTAGRAM_URL, timeout=10)
    assert page.status_code == 200
    assert page.headers["x-shopwindow-rules"] == LABEL
    assert_lands_on_the_post(page.text)
    short = httpx.get(f"{server.url}/lp/post/{POST}", timeout=10)
    assert CARD.findall(short.text) == CARD.findall(page.text)


@pytest.mark.parametrize(
    "url",
    [
        f"/lp/post/{POST}",
        f"/lp/post/{POST}/",
        f"/lp/post/{POST.upper()}",
        f"/lp/capsule?utm_source=instagram&utm_content={POST}",  # a landing rule's own path
        f"/?utm_source=tiktok&utm_content=%20{POST}%20",
        f"/lp/post/pin-summer-dress?utm_content={POST}",  # the path names the post first
    ],
)
def test_every_landing_url_naming_the_post_lands_on_it(client: TestClient, url: str) -> None:
    page = client.get(url)
    assert page.status_code == 200
    want = "post.pin-summer-dress" if "pin-summer" in url else LABEL
    assert page.headers["x-shopwindow-rules"] == want


def test_a_post_path_refuses_other_methods_and_deeper_paths(client: TestClient) -> None:
    refused = client.post(f"/lp/post/{POST}")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert refused.headers["content-type"].startswith("text/plain")
    deeper = client.get(f"/lp/post/{POST}/<script>", follow_redirects=False)
    assert deeper.headers.get("x-shopwindow-rules") != LABEL
    assert "<script>" not in deeper.text


def test_a_post_taken_down_lands_like_an_unknown_campaign(client: TestClient) -> None:
    page = client.get("/lp/post/ig-deleted-last-year?utm_source=instagram")
    assert page.status_code == 200
    assert page.headers["x-shopwindow-landing"].startswith("best-sellers")
    assert "post." not in page.headers.get("x-shopwindow-rules", "")
    other = client.get("/?utm_source=newsletter&utm_content=banner-a")
    assert not other.headers["x-shopwindow-landing"].startswith("post")


def test_the_post_page_as_json(client: TestClient) -> None:
    body = client.get(f"/lp/post/{POST}", headers={"accept": "application/json"}).json()
    assert body["kind"] == "post"
    assert body["post"]["id"] == POST and body["post"]["label"] == LABEL
    assert body["post"]["link"] == f"/lp/post/{POST}"
    tagged = tagged_ids()
    products = body["products"]
    assert [p["replaces"] or p["id"] for p in products] == tagged
    assert all(p["in_stock"] for p in products + body["look"])
    tag = body["post"]["tags"][0]
    first = demo_post()["tags"][0]
    assert tag["left"] == round(100 * first["x"] / 1080, 2)
    assert tag["top"] == round(100 * first["y"] / 1350, 2)


def test_tags_are_accessible_links(client: TestClient) -> None:
    page = client.get(f"/lp/post/{POST}").text
    tags = re.findall(r'<a class="post-tag[^"]*"[^>]*>', page)
    assert len(tags) == len(tagged_ids())
    for tag in tags:
        assert 'aria-label="' in tag and f'data-sw-click="{LABEL}"' in tag
    sold_out = next(p for p in tagged_ids() if not CATALOG.get(p).in_stock)  # type: ignore[union-attr]
    name = CATALOG.get(sold_out).name.replace("'", "&#39;")  # type: ignore[union-attr]
    assert f'aria-label="{name} is sold out: see ' in page
    assert 'alt="Flat lay of a red running tee' in page


# --- the gallery ---------------------------------------------------------------------


HOSTILE = """\
- id: ig-hostile
  channel: instagram
  image: /_sw/static/img/posts/ig-trail-weekend.svg
  width: 1080
  height: 1350
  alt: 'Run" onerror="alert(1)'
  title: "</a><img src=x onerror=alert(2)>"
  caption: "<script>alert('caption')</script> & more"
  tags:
    - {product: w-run-001, x: 310, y: 990}
- id: tt-plain
  channel: tiktok
  image: https://cdn.example/tt.jpg
  width: 1080
  height: 1920
  caption: "Plain"
  published: 2026-01-01
  tags:
    - {product: w-snk-004, x: 10, y: 10}
"""


@pytest.fixture
def hostile(rules_dir: Path, make_client: Callable[..., TestClient]) -> TestClient:
    (rules_dir / "posts.yaml").write_text(HOSTILE)
    return make_client()


def test_the_gallery_escapes_captions_titles_and_alt_text(hostile: TestClient) -> None:
    page = hostile.get("/_sw/fragments/shoppable")
    assert page.status_code == 200
    text = page.text
    assert "<script>" not in text and "<img src=x" not in text
    assert 'onerror="alert(1)' not in text
    assert "&lt;script&gt;alert(&#39;caption&#39;)&lt;/script&gt; &amp; more" in text
    assert 'alt="Run&#34; onerror=&#34;alert(1)"' in text
    assert "&lt;/a&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    as_json = hostile.get("/_sw/fragments/shoppable", headers={"accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    captions = [p["caption"] for p in as_json.json()["posts"]]
    assert "<script>alert('caption')</script> & more" in captions  # data, for the site to escape
    landing = hostile.get("/lp/post/ig-hostile")
    assert "<script>alert" not in landing.text and "<img src=x" not in landing.text


def test_the_gallery_shows_the_posts_asked_for_in_that_order(client: TestClient) -> None:
    page = client.get("/_sw/fragments/shoppable?posts=pin-summer-dress,nope,ig-trail-weekend")
    assert page.status_code == 200
    assert page.headers["x-shopwindow-rules"] == "post.pin-summer-dress, post.ig-trail-weekend"
    assert re.findall(r'data-sw-post="([^"]+)"', page.text) == [
        "pin-summer-dress",
        "ig-trail-weekend",
    ]
    assert f'href="/lp/post/{POST}"' in page.text
    assert page.headers["cache-control"] == "private, no-store"


def test_without_a_list_the_gallery_shows_the_newest_posts(client: TestClient) -> None:
    import yaml

    posts = yaml.safe_load((DEMO_RULES / "posts.yaml").read_text())
    newest = [p["id"] for p in sorted(posts, key=lambda p: str(p["published"]), reverse=True)]
    body = client.get("/_sw/fragments/shoppable", headers={"accept": "application/json"}).json()
    assert [p["id"] for p in body["posts"]] == newest
    two = client.get("/_sw/fragments/shoppable?limit=2", headers={"accept": "application/json"})
    assert [p["id"] for p in two.json()["posts"]] == newest[:2]
    tiktok = client.get("/_sw/fragments/shoppable?channel=tiktok").text
    assert re.findall(r'data-sw-post="([^"]+)"', tiktok) == ["tt-city-sneakers"]


@pytest.mark.parametrize(
    "query",
    [
        "posts=<script>alert(1)</script>",
        "posts=" + ",".join(["ig-trail-weekend"] * 300),  # under max_query_bytes (8 KB: 414 above)
        "limit=99999999999999999999",
        "limit=-1&channel=%00",
        "posts=%ff%fe",
    ],
)
def test_hostile_gallery_queries_get_a_gallery_never_an_error(
    client: TestClient, query: str
) -> None:
    page = client.get("/_sw/fragments/shoppable?" + query)
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert len(page.headers.get("x-shopwindow-rules", "").split(",")) <= 12


def test_the_gallery_fills_a_slot_of_an_origin_page(make_client: Callable[..., TestClient]) -> None:
    site = OriginSite(
        {
            "/blog/": html(
                '<html><body><h1>Blog</h1><div data-sw-slot="shoppable">'
                "<p>posts</p></div></body></html>"
            )
        }
    )
    try:
        client = make_client(origin=site.url)
        page = client.get("/blog/?posts=tt-city-sneakers")
        assert page.status_code == 200
        assert 'data-sw-post="tt-city-sneakers"' in page.text
        assert "<p>posts</p>" not in page.text
        assert "post.tt-city-sneakers" in page.headers["x-shopwindow-rules"]
    finally:
        site.close()


# --- posts are counted like rules ----------------------------------------------------------


@pytest.fixture
def counted(make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    yield make_client(stats_token=TOKEN)


def test_exposures_clicks_and_conversions_are_counted_per_post(
    counted: TestClient, rules_dir: Path
) -> None:
    client = counted
    assert client.get(INSTAGRAM_URL).status_code == 200
    first = tagged_ids()[0]
    click = {"type": "click", "rule": LABEL, "product_id": first}
    assert client.post("/_sw/events", json=click).status_code == 200
    client.post(
        "/_sw/events",
        json={
            "type": "purchase",
            "order_id": "P-1",
            "items": [{"product_id": first, "price": 52.95}],
        },
    )
    client.cookies.clear()
    client.get("/_sw/fragments/shoppable?posts=ig-trail-weekend,tt-city-sneakers")

    stats = client.get("/_sw/stats", headers={"authorization": f"Bearer {TOKEN}"}).json()
    by_rule = {e["rule"]: e for e in stats["experiments"]}
    post = by_rule[LABEL]
    assert post["placement"] == "posts"
    assert post["where"].endswith("posts.yaml:9:3")
    row = post["variants"][0]
    assert (row["visitors"], row["exposures"], row["clicks"], row["conversions"]) == (2, 2, 1, 1)
    assert row["revenue"] == 52.95
    assert by_rule["post.tt-city-sneakers"]["variants"][0]["visitors"] == 1

    result = CliRunner().invoke(
        main, ["stats", "--rules", str(rules_dir)], env={"SHOPWINDOW_SECRET": SECRET}
    )
    assert result.exit_code == 0, result.output
    assert f"{LABEL}  (posts, " in result.output


def test_the_client_script_beacons_clicks_inside_data_sw_click(client: TestClient) -> None:
    script = client.get("/_sw/sw.js").text
    assert 'closest("[data-sw-click]")' in script
    assert 'track("click"' in script


# --- explain -----------------------------------------------------------------------------


def test_explain_says_a_post_wins_and_what_it_shows(rules_dir: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["explain", INSTAGRAM_URL, "--rules", str(rules_dir), "--json"],
        env={"SHOPWINDOW_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    assert report["context"]["post.id"] == POST
    assert report["context"]["post.channel"] == "instagram"
    assert report["answer"]["rules"] == [LABEL]
    shows = report["answer"]["shows"]
    assert shows["landing"].startswith(f"post; {POST}")
    assert shows["products"][: len(tagged_ids()) - 1] == tagged_ids()[:-1]


def test_the_bench_call_plans_posts() -> None:
    from bench.micro import shoppable_post as benchmark

    run = benchmark(400)
    assert all(run() >= 3 for _ in range(5))  # the tags shown (one replaced) and some look
