"""Landing rule fields a marketer may use: redirect, hero image, hand-picked ids, splits, reloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from tests.landing_support import google, grid_ids, headline

RULES = """
- id: boots-to-category
  when:
    campaign.category: boots
  then:
    redirect: /{country}/{gender}/{category}/

- id: picked-for-spring
  when:
    landing.slug: spring-picks
  then:
    headline: "Spring picks"
    hero_image: /_sw/static/img/sneakers.svg
    products: {ids: [w-snk-003, m-run-002, w-snk-001], limit: 2}

- id: sneaker-test
  when:
    campaign.category: sneakers
  then:
    headline: "Sneakers"
    products: {category: sneakers}
  split:
    variants:
      plain: 50
      bold: {weight: 50, then: {headline: "Step into sneakers"}}
"""


def write_rules(rules_dir: Path, text: str = RULES) -> None:
    (rules_dir / "landing-pages.yaml").write_text(text)


def test_redirect_fills_placeholders_from_the_keyword(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    write_rules(rules_dir)
    client = make_client()
    response = client.get(google("kids boots"))
    assert response.status_code == 302
    # The visitor's query (gclid, utm_*) rides along, as sent.
    assert response.headers["location"] == "/us/kids/boots/" + google("kids boots")[1:]
    assert response.headers["x-shopwindow-rules"] == "boots-to-category"
    assert response.headers["x-shopwindow-landing"] == "redirect"
    # No gender in the keyword or the visitor's history: the country store, never a broken path.
    assert client.get(google("boots")).headers["location"] == "/us/" + google("boots")[1:]


def test_hand_picked_products_and_hero_image(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    write_rules(rules_dir)
    response = make_client().get("/lp/spring-picks")
    assert grid_ids(response.text) == ["w-snk-003", "m-run-002"]
    assert '<img src="/_sw/static/img/sneakers.svg"' in response.text


def test_split_variants_are_sticky_and_named(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    write_rules(rules_dir)
    seen: dict[str, str] = {}
    for _ in range(12):
        client = make_client()  # a new visitor each time
        first = client.get(google("sneakers"))
        label = first.headers["x-shopwindow-rules"]
        again = client.get(google("sneakers"))
        assert again.headers["x-shopwindow-rules"] == label  # the variant sticks
        seen[label] = headline(first.text)
    assert seen.get("sneaker-test:bold", "Step into sneakers") == "Step into sneakers"
    assert seen.get("sneaker-test:plain", "Sneakers") == "Sneakers"
    assert len(seen) == 2


def test_an_edit_goes_live_and_a_broken_one_keeps_the_last_good_rules(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    client = make_client()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    assert client.get(google("kids boots")).headers["x-shopwindow-landing"].startswith("category")
    write_rules(rules_dir)
    assert shop.reload_if_changed()
    assert client.get(google("kids boots")).status_code == 302
    (rules_dir / "landing-pages.yaml").write_text(RULES.replace("teaser", "x") + "- id: [\n")
    assert not shop.reload_if_changed()
    assert client.get(google("kids boots")).status_code == 302


def test_head_request(client: TestClient) -> None:
    response = client.head("/lp/summer-sandals/")
    assert response.status_code == 200
    assert response.headers["x-shopwindow-rules"] == "summer-sandals"


def test_a_new_catalog_is_warmed_off_the_request_path(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    import time

    from tests.conftest import DEMO_CATALOG

    feed = tmp_path / "catalog.jsonl"
    lines = DEMO_CATALOG.read_text().splitlines()
    feed.write_text("\n".join(lines) + "\n")
    client = make_client(catalog=str(feed))
    shop = client.app.state.shop  # type: ignore[attr-defined]
    url = google("womens running shoes")
    before = grid_ids(client.get(url).text)
    # The best seller leaves the feed: once the new catalog is warm it leaves the page.
    feed.write_text("\n".join(line for line in lines if before[0] not in line) + "\n")
    assert shop.reload_if_changed()
    deadline = time.monotonic() + 10
    while True:
        response = client.get(url)
        assert response.status_code == 200
        ids = grid_ids(response.text)
        assert ids in (before, [i for i in before if i != before[0]] + ids[len(before) - 1 :])
        if before[0] not in ids:
            break
        assert time.monotonic() < deadline, "the new catalog never reached the landing page"
        time.sleep(0.05)


def test_demo_rules_accept_a_feed_without_some_categories(
    tmp_path: Path, rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    """A summer feed without jackets is no broken rule; a near-miss name still is."""
    from click.testing import CliRunner

    from shopwindow.cli.main import main
    from tests.conftest import DEMO_CATALOG

    feed = tmp_path / "summer.jsonl"
    feed.write_text("\n".join(DEMO_CATALOG.read_text().splitlines()[:100]) + "\n")
    # Posts tag products: check reports the ones this feed lacks (tests/test_posts.py).
    (rules_dir / "posts.yaml").unlink()
    result = CliRunner().invoke(main, ["check", str(rules_dir), "--catalog", str(feed)])
    assert result.exit_code == 0, result.output
    page = make_client(catalog=str(feed)).get(
        "/?utm_source=newsletter&utm_medium=email&utm_campaign=new-season-2026"
    )
    assert page.status_code == 200
    assert grid_ids(page.text) == []
    assert "Nothing here right now" in page.text

    path = rules_dir / "landing-pages.yaml"
    path.write_text(path.read_text().replace("category: sandals,", "category: sandal,"))
    result = CliRunner().invoke(main, ["check", str(rules_dir), "--catalog", str(feed)])
    assert result.exit_code == 1
    assert "category 'sandal' is not in the catalog; did you mean 'sandals'?" in result.output


def test_landing_prefix_is_a_setting(make_client: Callable[..., TestClient]) -> None:
    client = make_client(landing_prefix="/go/")
    response = client.get("/go/summer-sandals")
    assert response.headers["x-shopwindow-rules"] == "summer-sandals"
    assert "x-shopwindow-landing" not in client.get("/lp/summer-sandals").headers
