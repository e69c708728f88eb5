"""The 360 profile over HTTP (in-process), on SQLite and on a real Redis: the seeds' journeys."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from shopwindow.app import create_app
from shopwindow.profiles.service import exposure_sink
from shopwindow.visitor.events import record_popup
from tests.conftest import identify_event
from tests.profile_fixtures import (
    cli,
    degraded_count,
    eventually,
    import_store_csv,
    rules_header,
    visitor_of,
    write_journey_rules,
)

Backend = dict[str, Any]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, rules_dir: Path) -> Backend:
    """Settings overrides, CLI flags and environment that point at one profile store."""
    write_journey_rules(rules_dir)
    # No cache and a quick flusher: a write on one device shows on the next request of another.
    base: Backend = {"overrides": {"profile_cache_seconds": 0.0, "profile_flush_ms": 10}}
    if request.param == "sqlite":
        return {**base, "flags": [], "env": {}}
    url = request.getfixturevalue("redis_server").url
    # A patient timeout here: these tests check behaviour, not the degraded mode.
    base["overrides"].update(redis=url, redis_timeout_ms=2000)
    env = {"SHOPWINDOW_REDIS": url, "SHOPWINDOW_REDIS_TIMEOUT_MS": "2000"}
    return {**base, "flags": ["--redis", url], "env": env}


@pytest.fixture
def shop_client(
    make_client: Callable[..., TestClient], backend: Backend
) -> Callable[..., TestClient]:
    def make(**more: Any) -> TestClient:
        return make_client(**{**backend["overrides"], **more})

    return make


def identify(client: TestClient, customer: str) -> None:
    r = client.post("/_sw/events", json=identify_event(customer))
    assert r.status_code == 200, r.text


def cookie(client: TestClient) -> str | None:
    return client.cookies.get("sw")


def show(rules: Path, backend: Backend, customer: str) -> dict[str, Any] | None:
    code, out, _ = cli(["profile", "show", customer, "--rules", str(rules), *backend["flags"]])
    return json.loads(out) if code == 0 else None


def test_offline_buyer_is_recognised_and_offered_store_pickup(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend, tmp_path: Path
) -> None:
    import_store_csv(tmp_path, rules_dir, *backend["flags"])
    client = shop_client()
    first = client.get("/")
    assert rules_header(first) == "first-order-welcome"  # a stranger may get the welcome offer
    assert "store-pickup" not in client.get("/de/").text
    identify(client, "c1")
    answer = client.get("/")
    assert rules_header(answer) == "store-customer"
    assert answer.headers["location"] == "/us/"  # the test peer is in a US network
    page = client.get("/de/women/")
    assert page.status_code == 200
    assert '<section class="store-pickup">' in page.text
    assert "Pick up at Berlin Mitte" in page.text  # 2 receipts there, 1 in Hamburg
    fragment = client.get("/_sw/fragments/store-pickup")
    assert "Pick up at Berlin Mitte" in fragment.text
    assert fragment.headers["cache-control"] == "private, no-store"
    as_json = client.get("/_sw/fragments/store-pickup", headers={"accept": "application/json"})
    assert as_json.json() == {"preferred_store": "Berlin Mitte"}


def test_explain_shows_profile_context_and_no_first_order_popup(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend, tmp_path: Path
) -> None:
    import_store_csv(tmp_path, rules_dir, *backend["flags"])
    client = shop_client()
    client.get("/")
    stranger = cookie(client)
    identify(client, "c1")
    buyer = cookie(client)
    assert stranger and buyer

    def explain(value: str) -> dict[str, Any]:
        code, out, err = cli(
            [
                "explain",
                "/_sw/popup?trigger=exit",
                "--cookie",
                value,
                "--json",
                "--rules",
                str(rules_dir),
            ],
            env=backend["env"],
        )
        assert code == 0, out + err
        report: dict[str, Any] = json.loads(out)
        return report

    known = explain(buyer)
    ctx = known["context"]
    assert ctx["profile.known"] is True
    assert (ctx["profile.orders"], ctx["profile.offline_orders"], ctx["profile.online_orders"]) == (
        3,
        3,
        0,
    )
    assert ctx["profile.lifetime_value"] == pytest.approx(92.95 + 72.95 + 49.0 + 19.9)
    assert ctx["profile.preferred_store"] == "Berlin Mitte"
    # Bought at full price in a store: no discount ad for these online either.
    assert {"w-run-001", "w-run-003", "w-run-004"} <= set(ctx["visitor.bought_full_price"])
    assert "w-run-002" not in ctx["visitor.bought_full_price"]
    assert known["answer"]["rules"] == []
    assert known["considered"][0]["failed"] == "profile.orders = 0"
    unknown = explain(stranger)
    assert unknown["context"]["profile.known"] is False
    assert unknown["answer"]["rules"] == ["first-order"]


def test_a_new_customer_is_known_after_identify_with_no_orders(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    client = shop_client()
    identify(client, "new-42")
    profile = eventually(lambda: show(rules_dir, backend, "new-42"))
    assert profile["orders"] == 0 and profile["first_seen"] > 0
    assert rules_header(client.get("/")) == "first-order-welcome"


def test_views_and_affinity_follow_the_customer_to_another_device(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    phone, laptop = shop_client(), shop_client()
    identify(phone, "c5")
    for pid in ("w-run-001", "w-run-002"):
        assert (
            phone.post("/_sw/events", json={"type": "view", "product_id": pid}).status_code == 200
        )
    phone.post("/_sw/events", json={"type": "add_to_cart", "product_id": "w-run-002"})
    eventually(lambda: (show(rules_dir, backend, "c5") or {}).get("cart"))
    laptop.post("/_sw/events", json={"type": "view", "product_id": "w-run-010"})
    identify(laptop, "c5")
    seen = visitor_of(cookie(laptop))
    assert seen.viewed == ["w-run-010", "w-run-002", "w-run-001"]
    assert seen.gender.get("women", 0) > 0
    assert [line[0] for line in seen.cart] == ["w-run-002"]
    # The laptop's own view reaches the profile too.
    eventually(lambda: "w-run-010" in (show(rules_dir, backend, "c5") or {}).get("viewed", []))


def test_a_popup_dismissed_on_the_phone_is_capped_on_the_laptop(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    phone, laptop = shop_client(), shop_client()
    identify(phone, "c6")
    identify(laptop, "c6")
    laptop.get("/")
    assert "first-order" not in visitor_of(cookie(laptop)).popups
    for kind in ("popup_shown", "popup_dismissed"):
        r = phone.post("/_sw/events", json={"type": kind, "rule": "first-order"})
        assert r.status_code == 200
    on_phone = visitor_of(cookie(phone)).popups["first-order"]

    def shared() -> list[int] | None:
        laptop.get("/de/")
        entry = visitor_of(cookie(laptop)).popups.get("first-order")
        return entry if entry and entry[5] else None  # the show may arrive before the dismissal

    entry = eventually(shared)
    # Whether the phone counted the show from its beacon or when serving the popup,
    # the laptop now has the same history: totals, day and the dismissal to the second.
    assert entry[0] == on_phone[0]
    assert entry[5] == on_phone[5] > 0
    assert entry[1:3] == [0, 0]  # sessions are counted per device
    assert (entry[3], entry[4]) == (on_phone[3], on_phone[4])


def test_an_online_purchase_counts_in_the_profile(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    client = shop_client()
    identify(client, "c8")
    order = {
        "type": "purchase",
        "order_id": "W-1001",
        "items": [{"product_id": "w-run-001", "price": 92.95, "full_price": True}],
    }
    assert client.post("/_sw/events", json=order).status_code == 200
    assert client.post("/_sw/events", json=order).status_code == 200  # a retried beacon
    profile = eventually(lambda: show(rules_dir, backend, "c8"))
    profile = eventually(lambda: (p := show(rules_dir, backend, "c8")) and p["orders"] and p)
    assert (profile["online_orders"], profile["offline_orders"]) == (1, 0)
    assert profile["lifetime_value"] == pytest.approx(92.95)
    assert profile["products"] == [{"product_id": "w-run-001", "full_price": True}]


def test_a_purchase_in_a_markets_currency_is_kept_in_the_main_one(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    from tests.conftest import add_demo_markets

    add_demo_markets(rules_dir)
    client = shop_client()
    identify(client, "c11")
    order = {
        "type": "purchase",
        "order_id": "W-2001",
        "currency": "GBP",
        "items": [{"product_id": "w-run-001", "price": 86.0, "full_price": True}],
    }
    assert client.post("/_sw/events", json=order).status_code == 200
    profile = eventually(lambda: (p := show(rules_dir, backend, "c11")) and p["orders"] and p)
    assert profile["lifetime_value"] == pytest.approx(100.0)  # 86 GBP at the UK rate 0.86


def test_declined_consent_stores_nothing(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    client = shop_client(consent_cookie="consent")
    client.cookies.set("consent", "denied")
    identify(client, "c9")
    client.post("/_sw/events", json={"type": "view", "product_id": "w-run-001"})
    other = shop_client()
    identify(other, "c10")  # a visitor who did not decline: written
    eventually(lambda: show(rules_dir, backend, "c10"))
    assert show(rules_dir, backend, "c9") is None


def test_an_unreachable_store_serves_from_the_cookie_alone(
    make_client: Callable[..., TestClient], rules_dir: Path, tmp_path: Path
) -> None:
    write_journey_rules(rules_dir)
    client = make_client(profile_db=str(tmp_path / "no" / "such" / "folder" / "p.sqlite3"))
    before = degraded_count(client.get("/metrics").text)
    identify(client, "c1")
    for path in ("/", "/de/", "/_sw/fragments/store-pickup"):
        assert client.get(path).status_code in (200, 302)
    assert (
        client.post("/_sw/events", json={"type": "view", "product_id": "w-run-001"}).status_code
        == 200
    )
    # Neither the welcome offer nor the store-customer rule: the profile is unknown right now.
    assert rules_header(client.get("/")) == "country-home"
    assert degraded_count(client.get("/metrics").text) > before
    anonymous = make_client(profile_db=str(tmp_path / "no" / "p.sqlite3"))
    assert rules_header(anonymous.get("/")) == "first-order-welcome"  # needs no store at all


def test_the_default_sqlite_file_is_the_shops_file_in_the_rules_folder(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    client = make_client(profile_flush_ms=10)
    identify(client, "c11")
    eventually(lambda: (rules_dir / "shopwindow.sqlite3").exists())
    eventually(lambda: show(rules_dir, {"flags": []}, "c11"))


def test_a_popup_recorded_when_served_is_shared_through_the_exposure_sinks(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    """The contract a popup placement relies on: record the show, then personalize() names it."""
    client = shop_client()
    identify(client, "c12")
    shop = client.app.state.shop  # type: ignore[attr-defined]
    visitor = visitor_of(cookie(client))
    record_popup(visitor, "first-order", "popup_shown", int(time.time()))
    visit = SimpleNamespace(visitor=visitor, consent=True)
    assert exposure_sink in shop.hooks.exposures
    exposure_sink(shop, visit, ["first-order:a", "gender-home"])  # type: ignore[arg-type]
    popups = eventually(lambda: (show(rules_dir, backend, "c12") or {}).get("popups"))
    assert list(popups) == ["first-order"] and popups["first-order"][0] == 1
    # The shop-wide "closed this session" entry stays on its device.
    record_popup(visitor, "*", "popup_dismissed", int(time.time()))
    exposure_sink(shop, visit, ["*", "first-order:a"])  # type: ignore[arg-type]
    client.post("/_sw/events", json={"type": "view", "product_id": "w-run-001"})
    eventually(lambda: (show(rules_dir, backend, "c12") or {}).get("viewed"))
    assert "*" not in (show(rules_dir, backend, "c12") or {})["popups"]


def test_forget_erases_the_customer(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend, tmp_path: Path
) -> None:
    import_store_csv(tmp_path, rules_dir, *backend["flags"])
    code, out, _ = cli(["profile", "forget", "c1", "--rules", str(rules_dir), *backend["flags"]])
    assert (code, out.strip()) == (0, "erased customer c1")
    assert show(rules_dir, backend, "c1") is None
    assert show(rules_dir, backend, "c2") is not None
    code, _, err = cli(["profile", "forget", "c1", "--rules", str(rules_dir), *backend["flags"]])
    assert code == 1 and "no profile for customer 'c1'" in err
    client = shop_client()
    identify(client, "c1")
    assert rules_header(client.get("/")) == "first-order-welcome"


def test_queued_writes_are_flushed_on_shutdown(
    make_settings: Callable[..., Any], rules_dir: Path, backend: Backend
) -> None:
    # A flusher that would not run for a minute: only the shutdown writes this.
    settings = make_settings(**{**backend["overrides"], "profile_flush_ms": 60_000})
    with TestClient(create_app(settings, watch=False)) as client:
        identify(client, "c13")
        client.post("/_sw/events", json={"type": "view", "product_id": "w-run-004"})
        assert show(rules_dir, backend, "c13") is None
    profile = show(rules_dir, backend, "c13")
    assert profile is not None and profile["viewed"] == ["w-run-004"]
