"""GET /_sw/popup over HTTP: every demo popup rule, every cap, and what bad input gets."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import TEMPLATES

MakeClient = Callable[..., TestClient]
JSON = {"Accept": "application/json"}
NOON = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())


class Clock:
    """time.time() under the test's control, so sessions, days and dismissals can pass."""

    def __init__(self, start: int) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, *, minutes: float = 0, days: float = 0) -> None:
        self.now += minutes * 60 + days * 86400


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(NOON)
    monkeypatch.setattr(time, "time", fake)
    return fake


def next_session(clock: Clock) -> None:
    clock.advance(minutes=31)  # longer than session_idle_minutes (30)


def send(client: TestClient, *events: dict[str, Any]) -> None:
    r = client.post("/_sw/events", json=list(events))
    assert r.status_code == 200, r.text


def add_to_cart(client: TestClient, *product_ids: str) -> None:
    send(client, *({"type": "add_to_cart", "product_id": pid} for pid in product_ids))


def ask(client: TestClient, *, as_json: bool = False, **params: str) -> httpx.Response:
    return client.get(
        "/_sw/popup", params={"trigger": "exit", **params}, headers=JSON if as_json else {}
    )


def decided(r: httpx.Response) -> str | None:
    return r.headers.get("x-shopwindow-rules")


def write_popups(rules_dir: Path, text: str) -> None:
    (rules_dir / "popups.yaml").write_text(text)


# --- the demo rules ---------------------------------------------------------------------


def test_nothing_applies_to_a_first_visit_with_an_empty_cart(client: TestClient) -> None:
    r = ask(client)
    assert r.status_code == 204
    assert r.content == b""
    assert decided(r) is None
    assert r.headers["cache-control"] == "private, no-store"


def test_bag_in_cart_gets_the_bag_discount_as_html(client: TestClient) -> None:
    add_to_cart(client, "w-bag-001")
    r = ask(client, signal="top")
    assert r.status_code == 200
    assert decided(r) == "bag-discount"
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "private, no-store"
    assert "Keep your bag: 10% off bags today" in r.text
    assert '10% off bags with code <strong class="sw-popup-code">BAG10</strong>' in r.text
    assert 'role="dialog"' in r.text and 'aria-modal="true"' in r.text
    assert 'data-sw-rule="bag-discount"' in r.text
    # {country} and {gender} filled from the visitor (the peer address is in the US)
    assert 'href="/us/women/bags/"' in r.text


def test_bag_discount_as_json_names_rule_variant_and_offer(client: TestClient) -> None:
    add_to_cart(client, "m-bag-001")
    r = ask(client, as_json=True)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["rule"] == "bag-discount" and body["variant"] is None
    assert body["title"] == "Keep your bag: 10% off bags today"
    assert body["offer"] == {"code": "BAG10", "percent_off": 10, "category": "bags"}
    assert body["cta"] == "Shop bags"


def test_first_order_offer_on_the_second_session_of_a_visitor_who_never_ordered(
    client: TestClient, clock: Clock
) -> None:
    send(client, {"type": "view", "product_id": "w-run-001"})
    assert ask(client).status_code == 204  # first session: nothing yet
    next_session(clock)
    r = ask(client, as_json=True)
    assert r.status_code == 200
    rule, _, variant = decided(r).partition(":")  # type: ignore[union-attr]
    assert rule == "first-order" and variant in ("a", "b")
    body = r.json()
    assert (body["rule"], body["variant"]) == ("first-order", variant)
    assert body["offer"]["code"] == "WELCOME15"
    title = {"a": "15% off your first order", "b": "Your first order? Take 15% off"}
    assert body["title"] == title[variant]
    next_session(clock)
    again = ask(client, as_json=True)
    assert decided(again) == f"first-order:{variant}"  # the visitor keeps their variant


def test_first_order_offer_is_not_for_someone_who_ordered(client: TestClient, clock: Clock) -> None:
    send(client, {"type": "purchase", "items": [{"product_id": "w-run-001", "price": 92.95}]})
    next_session(clock)
    assert ask(client).status_code == 204


@pytest.mark.parametrize(("profile_orders", "expected"), [(None, 200), (0, 200), (2, 204)])
def test_first_order_offer_leaves_out_customers_the_profile_store_knows_ordered(
    client: TestClient, clock: Clock, profile_orders: int | None, expected: int
) -> None:
    def profile(shop: Any, visit: Any, snap: Any) -> None:
        # what a profile store's context hook adds for an identified customer
        if profile_orders is not None:
            visit.ctx["profile.orders"] = profile_orders

    client.app.state.shop.hooks.context.append(profile)  # type: ignore[attr-defined]
    send(client, {"type": "view", "product_id": "w-run-001"})
    next_session(clock)
    r = ask(client)
    assert r.status_code == expected
    if expected == 200:
        assert decided(r).startswith("first-order:")  # type: ignore[union-attr]


def test_cart_reminder_lists_the_cart(client: TestClient) -> None:
    send(
        client,
        {"type": "add_to_cart", "product_id": "w-run-001", "quantity": 2},
        {"type": "add_to_cart", "product_id": "w-dress-005"},
    )
    r = ask(client, as_json=True)
    assert decided(r) == "cart-reminder"
    body = r.json()
    assert body["title"] == "Still thinking it over?"
    assert [(i["id"], i["quantity"]) for i in body["cart"]] == [
        ("w-run-001", 2),
        ("w-dress-005", 1),
    ]
    assert body["offer"] is None and body["cta_url"] is None
    html = client.get("/_sw/popup", params={"trigger": "exit"})
    assert html.status_code == 204  # one popup per session (shop-wide limit)


def test_cart_reminder_html_lists_names_and_quantities(make_client: MakeClient) -> None:
    client = make_client(popups_per_session=0)
    send(client, {"type": "add_to_cart", "product_id": "w-run-001", "quantity": 2})
    r = ask(client)
    assert decided(r) == "cart-reminder"
    name = client.app.state.shop.snapshot.catalog.get("w-run-001").name  # type: ignore[attr-defined]
    assert name.replace("'", "&#39;") in r.text
    assert "&times; 2" in r.text
    assert 'aria-label="In your cart"' in r.text


def test_search_nudge_shows_picks_for_the_latest_search(client: TestClient) -> None:
    send(client, {"type": "search", "query": "Women's  Running Shoes"})
    r = ask(client, as_json=True)
    assert decided(r) == "search-nudge"
    body = r.json()
    assert body["title"] == "Still looking for women's running shoes?"
    assert body["search"] == "women's running shoes"
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    picks = [catalog.get(p["id"]) for p in body["products"]]
    assert 1 <= len(picks) <= 4
    assert all(p.category == "running-shoes" and p.in_stock for p in picks)
    assert all(p.gender in ("women", "unisex") for p in picks)
    assert body["cta_url"] == "/us/women/running-shoes/"


def test_search_nudge_narrows_by_colour_when_the_catalog_has_it(client: TestClient) -> None:
    send(client, {"type": "search", "query": "black boots"})
    body = ask(client, as_json=True).json()
    catalog = client.app.state.shop.snapshot.catalog  # type: ignore[attr-defined]
    picks = [catalog.get(p["id"]) for p in body["products"]]
    assert picks and all(p.category == "boots" and "color:black" in p.tags for p in picks)


def test_a_search_that_finds_nothing_gets_no_nudge(client: TestClient) -> None:
    send(client, {"type": "search", "query": "gift card"})
    assert ask(client).status_code == 204


def test_search_words_are_escaped_in_the_popup(client: TestClient) -> None:
    send(client, {"type": "search", "query": '<img src=x onerror="alert(1)"> boots'})
    r = ask(client)
    assert decided(r) == "search-nudge"
    assert "<img src=x" not in r.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; boots" in r.text


def test_no_popup_after_a_purchase_in_this_session(client: TestClient, clock: Clock) -> None:
    add_to_cart(client, "w-bag-001", "w-run-001")
    send(client, {"type": "purchase", "items": [{"product_id": "w-run-001", "price": 92.95}]})
    assert ask(client).status_code == 204  # the bag is still in the cart, but they just bought
    next_session(clock)
    assert decided(ask(client)) == "bag-discount"


def test_no_bag_discount_for_someone_who_bought_a_bag_at_full_price(
    client: TestClient, clock: Clock
) -> None:
    send(client, {"type": "purchase", "items": [{"product_id": "w-bag-001", "price": 42.95}]})
    next_session(clock)
    add_to_cart(client, "w-bag-003")
    r = ask(client, as_json=True)
    assert decided(r) == "cart-reminder"  # the reminder carries no discount
    assert r.json()["offer"] is None


def test_bag_discount_still_for_someone_who_bought_a_bag_on_sale(
    client: TestClient, clock: Clock
) -> None:
    bought = {"product_id": "w-bag-001", "price": 30.0, "full_price": False}
    send(client, {"type": "purchase", "items": [bought]})
    next_session(clock)
    add_to_cart(client, "w-bag-003")
    assert decided(ask(client)) == "bag-discount"


def test_demo_bag_discount_caps_once_a_session_and_a_day(
    make_client: MakeClient, clock: Clock
) -> None:
    client = make_client(popups_per_session=0, popups_per_day=0)
    add_to_cart(client, "w-bag-001")
    assert decided(ask(client)) == "bag-discount"
    assert decided(ask(client)) == "cart-reminder"  # bag-discount: per_session 1
    assert ask(client).status_code == 204  # cart-reminder: per_session 1
    next_session(clock)
    # bag-discount: per_day 1, so the next rules in line for a second session
    assert decided(ask(client)).startswith("first-order:")  # type: ignore[union-attr]
    assert decided(ask(client)) == "cart-reminder"
    clock.advance(days=1)
    assert decided(ask(client)) == "bag-discount"


# --- caps, one by one -------------------------------------------------------------------

CAPPED = """
- id: capped
  when:
    cart.items: {{gte: 1}}
  then:
    title: Hello again
  caps: {caps}
"""


def capped_client(make_client: MakeClient, rules_dir: Path, caps: str, **limits: int) -> TestClient:
    write_popups(rules_dir, CAPPED.format(caps=caps))
    client = make_client(**{"popups_per_session": 0, "popups_per_day": 0, **limits})
    add_to_cart(client, "w-run-001")
    return client


def shows(client: TestClient) -> bool:
    r = ask(client)
    assert r.status_code in (200, 204), r.text
    return r.status_code == 200


def test_cap_per_session(make_client: MakeClient, rules_dir: Path, clock: Clock) -> None:
    client = capped_client(make_client, rules_dir, "{per_session: 2}")
    assert [shows(client) for _ in range(3)] == [True, True, False]
    next_session(clock)
    assert [shows(client) for _ in range(3)] == [True, True, False]


def test_cap_per_day(make_client: MakeClient, rules_dir: Path, clock: Clock) -> None:
    client = capped_client(make_client, rules_dir, "{per_day: 2}")
    assert shows(client)
    next_session(clock)
    assert shows(client)
    next_session(clock)
    assert not shows(client)
    clock.advance(days=1)
    assert shows(client)


def test_cap_per_visitor(make_client: MakeClient, rules_dir: Path, clock: Clock) -> None:
    client = capped_client(make_client, rules_dir, "{per_visitor: 2}")
    assert shows(client)
    clock.advance(days=1)
    assert shows(client)
    clock.advance(days=30)
    assert not shows(client)


def test_cap_days_after_a_dismissal(make_client: MakeClient, rules_dir: Path, clock: Clock) -> None:
    client = capped_client(make_client, rules_dir, "{after_dismiss_days: 3}")
    assert shows(client)
    send(client, {"type": "popup_dismissed", "rule": "capped"})
    clock.advance(days=2)
    assert not shows(client)
    clock.advance(days=1, minutes=1)
    assert shows(client)


def test_shop_wide_limit_per_session(
    make_client: MakeClient, rules_dir: Path, clock: Clock
) -> None:
    client = capped_client(make_client, rules_dir, "{}", popups_per_session=1)
    assert [shows(client), shows(client)] == [True, False]
    next_session(clock)
    assert shows(client)


def test_shop_wide_limit_per_day(make_client: MakeClient, rules_dir: Path, clock: Clock) -> None:
    client = capped_client(make_client, rules_dir, "{}", popups_per_day=2)
    assert [shows(client), shows(client), shows(client)] == [True, True, False]
    next_session(clock)
    assert not shows(client)
    clock.advance(days=1)
    assert shows(client)


@pytest.mark.parametrize("ending", ["popup_dismissed", "popup_converted"])
def test_closing_a_popup_ends_popups_for_the_session(
    make_client: MakeClient, rules_dir: Path, clock: Clock, ending: str
) -> None:
    client = capped_client(make_client, rules_dir, "{}")
    assert shows(client)
    send(client, {"type": ending, "rule": "capped"})
    assert not shows(client)
    next_session(clock)
    assert shows(client)


def test_the_browser_reporting_a_show_does_not_count_it_twice(
    make_client: MakeClient, rules_dir: Path, clock: Clock
) -> None:
    client = capped_client(make_client, rules_dir, "{per_visitor: 2}")
    for _ in range(2):
        assert shows(client)
        send(client, {"type": "popup_shown", "rule": "capped"})
        next_session(clock)
    assert not shows(client)


def test_demo_caps_hold_with_the_default_shop_wide_limits(client: TestClient) -> None:
    add_to_cart(client, "w-bag-001")
    assert decided(ask(client)) == "bag-discount"
    assert ask(client).status_code == 204


# --- conditions on the popup request ----------------------------------------------------


def test_rules_may_test_the_exit_signal_and_the_product_on_the_page(
    make_client: MakeClient, rules_dir: Path
) -> None:
    write_popups(
        rules_dir,
        """
- id: bag-page-scroll
  when:
    popup.signal: scroll
    product.category: bags
  then:
    title: Bags, scrolled
""",
    )
    client = make_client(popups_per_session=0)
    assert ask(client, signal="top", product="w-bag-001").status_code == 204
    assert ask(client, signal="scroll", product="w-run-001").status_code == 204
    assert ask(client, signal="scroll", product="no-such-product").status_code == 204
    assert decided(ask(client, signal="scroll", product="w-bag-001")) == "bag-page-scroll"


def test_cta_url_may_carry_the_search(make_client: MakeClient, rules_dir: Path) -> None:
    write_popups(
        rules_dir,
        """
- id: back-to-search
  when:
    visitor.searches: {exists: true}
  then:
    title: "More {search}"
    cta: Search again
    cta_url: /search?q={search}
""",
    )
    client = make_client()
    send(client, {"type": "search", "query": "red & blue socks"})
    body = ask(client, as_json=True).json()
    assert body["title"] == "More red & blue socks"
    assert body["cta_url"] == "/search?q=red%20%26%20blue%20socks"


def test_a_templates_folder_without_popup_html_still_answers(
    make_client: MakeClient, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for page in TEMPLATES.glob("*.html"):
        if page.name != "popup.html":
            (templates / page.name).write_text(page.read_text())
    client = make_client(templates=str(templates))
    add_to_cart(client, "w-bag-001")
    r = ask(client)
    assert r.status_code == 200
    assert 'role="dialog"' in r.text and "Keep your bag" in r.text


# --- who gets none, and bad input -------------------------------------------------------


def test_crawlers_get_no_popup(client: TestClient) -> None:
    add_to_cart(client, "w-bag-001")
    r = client.get("/_sw/popup", headers={"User-Agent": "Googlebot/2.1"})
    assert r.status_code == 204


def test_declined_consent_gets_no_popup_and_no_cookie(make_client: MakeClient) -> None:
    client = make_client(consent_cookie="consent")
    add_to_cart(client, "w-bag-001")
    client.cookies.set("consent", "no")
    r = ask(client)
    assert r.status_code == 204
    assert "set-cookie" not in r.headers


def test_an_unknown_trigger_is_a_400_with_a_reason(client: TestClient) -> None:
    r = client.get("/_sw/popup", params={"trigger": "<b>load</b>"})
    assert r.status_code == 400
    assert r.json() == {"error": "trigger must be one of exit"}


@pytest.mark.parametrize(
    "params",
    [
        {"signal": "<script>"},
        {"product": "x" * 5000},
        {"product": "../../etc/passwd"},
        {"signal": ""},
    ],
)
def test_odd_parameters_are_ignored(client: TestClient, params: dict[str, str]) -> None:
    add_to_cart(client, "w-bag-001")
    assert decided(ask(client, **params)) == "bag-discount"


def test_a_tampered_cookie_is_a_new_visitor(client: TestClient) -> None:
    client.cookies.set("sw", "garbage.garbage.garbage")
    r = ask(client)
    assert r.status_code == 204
    assert "sw=" in r.headers["set-cookie"]


# --- checking popup rules ---------------------------------------------------------------


def run_check(folder: Path) -> tuple[int, str]:
    from click.testing import CliRunner

    from shopwindow.cli.main import main
    from tests.conftest import DEMO_CATALOG

    args = ["check", str(folder), "--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)]
    result = CliRunner().invoke(main, args, env={"SHOPWINDOW_SECRET": "x"})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("then", "error"),
    [
        ("title: Hi {name}", "3:12: unknown placeholder {name} in popup text; use {search}"),
        ("title: Hi\n    body: '{cart} is waiting'", "4:11: unknown placeholder {cart}"),
        (
            "title: Hi\n    cta_url: https://evil.example/",
            "4:14: 'https://evil.example/' must be a path",
        ),
        ("title: Hi\n    cta_url: /s?q={query}", "4:14: unknown placeholder {query} in path"),
        (
            "title: Hi\n    search_products: 20",
            "4:22: `search_products`: expected a number from 1 to 12, got 20",
        ),
        ("title: Hi\n    template: nope.html", "4:15: unknown template 'nope.html'"),
        ("body: no title", "3:5: `then` needs `title` for a popups rule"),
    ],
)
def test_check_reports_popup_mistakes_where_they_are(tmp_path: Path, then: str, error: str) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "popups.yaml").write_text(f"- id: broken\n  then:\n    {then}\n")
    code, output = run_check(folder)
    assert code == 1
    assert f"popups.yaml:{error}" in output


def test_check_accepts_the_demo_popup_rules_and_search_links(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    demo = (Path(__file__).parents[1] / "rules" / "popups.yaml").read_text()
    extra = "- id: more\n  then:\n    title: More {search}\n    cta_url: /search?q={search}\n"
    (folder / "popups.yaml").write_text(demo + "\n" + extra)
    code, output = run_check(folder)
    assert code == 0, output


def test_each_popup_served_is_counted_per_rule(make_client: MakeClient) -> None:
    client = make_client(popups_per_session=0)
    line = 'shopwindow_rule_matches_total{placement="popups",rule="cart-reminder"}'

    def count() -> float:
        for row in client.get("/metrics").text.splitlines():
            if row.startswith(line):
                return float(row.split()[-1])
        return 0.0

    before = count()
    add_to_cart(client, "w-run-001")
    assert decided(ask(client)) == "cart-reminder"
    assert ask(client).status_code == 204  # capped: not counted
    assert count() == before + 1
