"""rules/posts.yaml through `shopwindow check`: every mistake with its file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from shopwindow.cli.main import main
from shopwindow.rules.posts import LABEL_PREFIX, NO_POSTS, read_posts
from shopwindow.rules.thenspec import CheckEnv
from shopwindow.rules.yamlsrc import parse
from tests.conftest import DEMO_CATALOG, DEMO_RULES, TEMPLATES

GOOD = """\
- id: ig-run
  channel: instagram
  image: /_sw/static/img/posts/ig-trail-weekend.svg
  width: 1080
  height: 1350
  tags:
    - {product: w-run-001, x: 310, y: 990}
"""


def check(folder: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(
        main,
        ["check", str(folder), "--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)],
        env={"SHOPWINDOW_CONFIG": ""},
    )
    return result.exit_code, result.stdout.splitlines()


def check_posts(rules_dir: Path, text: str) -> tuple[int, list[str]]:
    (rules_dir / "posts.yaml").write_text(text)
    return check(rules_dir)


def test_the_demo_posts_pass_check() -> None:
    code, out = check(DEMO_RULES)
    assert code == 0, out
    assert out[-1].startswith("ok: ")


def test_a_good_post_passes(rules_dir: Path) -> None:
    code, out = check_posts(rules_dir, GOOD)
    assert code == 0, out


# (what the marketer wrote, line:column of the error, what the error says)
MISTAKES = [
    (GOOD.replace("w-run-001", "w-run-999"), "7:17", "product 'w-run-999' is not in the catalog"),
    (
        GOOD.replace("x: 310", "x: 1081"),
        "7:31",
        "x=1081 is outside the image: x goes from 0 to 1080",
    ),
    (GOOD.replace("y: 990", "y: -4"), "7:39", "y=-4 is outside the image: y goes from 0 to 1350"),
    (
        GOOD.replace("instagram", "instagarm"),
        "2:12",
        "unknown channel 'instagarm'; did you mean 'instagram'?",
    ),
    (
        GOOD.replace("instagram", "myspace"),
        "2:12",
        "unknown channel 'myspace'; channels: instagram, tiktok",
    ),
    (GOOD + GOOD, "8:7", "duplicate post id 'ig-run' (first at "),
    (GOOD.replace("  width: 1080\n", ""), "1:3", "a post needs `width`"),
    (
        GOOD.replace("width: 1080", "width: wide"),
        "4:10",
        "expected the image's size in pixels, got text",
    ),
    (
        GOOD.replace("ig-run", "IG Run"),
        "1:7",
        "a post id uses lower-case letters, digits, '-' and '_'",
    ),
    (
        GOOD.replace("/_sw/static", "javascript:alert(1)//"),
        "3:10",
        "image 'javascript:alert(1)///img/posts/ig-trail-weekend.svg' must be a path on this site",
    ),
    (GOOD.replace("x: 310, ", "").replace("{product", "{product"), "7:7", "a tag needs `x`"),
    (GOOD.replace("x: 310", "x: 310, z: 1"), "7:36", "unknown tag field 'z'; known: product, x, y"),
    (GOOD + "  look: [w-run-002, nope-1]\n", "8:21", "product 'nope-1' is not in the catalog"),
    (GOOD + "  published: last week\n", "8:14", "published is a date, YYYY-MM-DD"),
    (GOOD + "  colour: red\n", "8:3", "unknown post field 'colour'"),
    (
        GOOD + "    - {product: w-run-001, x: 1, y: 1}\n",
        "8:17",
        "product 'w-run-001' is already tagged on this post",
    ),
    ("id: ig-run\n", "1:1", "posts.yaml is a list of posts"),
]


@pytest.mark.parametrize(("text", "where", "message"), MISTAKES, ids=[m[2][:40] for m in MISTAKES])
def test_a_mistake_is_reported_where_it_is(
    rules_dir: Path, text: str, where: str, message: str
) -> None:
    code, out = check_posts(rules_dir, text)
    assert code == 1
    errors = [line for line in out if "posts.yaml:" in line]
    expected = f"posts.yaml:{where}: {message}"
    assert any(expected in line for line in errors), (expected, out)


def test_every_mistake_in_a_file_is_reported_not_only_the_first(rules_dir: Path) -> None:
    text = GOOD.replace("w-run-001", "w-run-999").replace("instagram", "friendster")
    code, out = check_posts(
        rules_dir, text + GOOD.replace("ig-run", "ig-two").replace("y: 990", "y: 9000")
    )
    assert code == 1
    assert [line.split(": ", 1)[0].rsplit("posts.yaml:", 1)[1] for line in out] == [
        "2:12",
        "7:17",
        "14:39",
    ]


def test_a_broken_posts_file_keeps_the_served_rules(rules_dir: Path, make_client: object) -> None:
    from collections.abc import Callable

    from starlette.testclient import TestClient

    assert callable(make_client)
    make: Callable[..., TestClient] = make_client  # type: ignore[assignment]
    client = make()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    (rules_dir / "posts.yaml").write_text(GOOD.replace("x: 310", "x: 5000"))
    assert shop.reload_if_changed() is False
    assert "x=5000 is outside the image" in str(shop.snapshot.pending_errors[0])
    page = client.get("/lp/post/ig-trail-weekend")
    assert page.headers["x-shopwindow-rules"] == "post.ig-trail-weekend"


def test_posts_index_by_id_and_newest_first() -> None:
    text = GOOD + GOOD.replace("ig-run", "pin-old").replace(
        "channel: instagram", "channel: pinterest\n  published: 2025-01-01"
    )
    text += GOOD.replace("ig-run", "tt-new").replace(
        "channel: instagram", "channel: tiktok\n  published: 2026-02-01"
    )
    node, _ = parse(text, "posts.yaml")
    posts, errors = read_posts(node, CheckEnv())
    assert errors == []
    assert [p.id for p in posts.recent] == ["tt-new", "pin-old", "ig-run"]  # undated last
    assert posts.get(" TT-New ") is posts.by_id["tt-new"]  # as a UTM value may arrive
    assert posts.get("nope") is None and posts.get(None) is None
    assert posts.origin(LABEL_PREFIX + "ig-run") == ("posts", "posts.yaml:1:3")
    assert posts.origin("ig-run") is None
    empty, errors = read_posts(None, CheckEnv())
    assert empty is NO_POSTS and errors == []


def test_a_feed_without_a_tagged_product_still_loads_and_check_says_so(
    tmp_path: Path, rules_dir: Path, make_client: object
) -> None:
    """Delisting a product must not freeze the shop's stock and prices: the running shop takes
    the new feed and hides the tag; `shopwindow check` tells the marketer which tag it was."""
    from collections.abc import Callable

    from starlette.testclient import TestClient

    gone = "w-sock-003"
    feed = tmp_path / "feed.jsonl"
    lines = DEMO_CATALOG.read_text().splitlines()
    feed.write_text("\n".join(line for line in lines if f'"id":"{gone}"' not in line) + "\n")
    result = CliRunner().invoke(
        main,
        ["check", str(rules_dir), "--catalog", str(feed), "--templates", str(TEMPLATES)],
        env={"SHOPWINDOW_CONFIG": ""},
    )
    assert result.exit_code == 1
    assert [line.split("posts.yaml:")[1] for line in result.stdout.splitlines()] == [
        f"21:17: product '{gone}' is not in the catalog"
    ]
    make: Callable[..., TestClient] = make_client  # type: ignore[assignment]
    client = make(catalog=str(feed))
    page = client.get("/lp/post/ig-trail-weekend")
    assert page.status_code == 200
    assert page.headers["x-shopwindow-rules"] == "post.ig-trail-weekend"
    assert 'data-product-id="w-tee-003"' in page.text and gone not in page.text
