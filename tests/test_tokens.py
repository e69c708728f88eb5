"""Staff and stats tokens that hold: long in production, guessing throttled, cross-site refused."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from shopwindow import settings as settings_mod
from shopwindow.profiles.staff import access_log_of
from shopwindow.serve.throttle import LOG_EVERY, MAX_ADDRESSES, TokenThrottle, client_key
from tests.profile_fixtures import import_store_csv

TOKEN = "staff-token-" + "7" * 24
STATS = "stats-token-" + "5" * 24


class Clock:
    """Time as the test says it is."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def basic(password: str, user: str = "anna.k") -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


def with_throttle(client: TestClient, clock: Clock, limit: int = 10) -> TokenThrottle:
    throttle = TokenThrottle(limit, 900.0, clock=clock)
    client.app.state.shop.token_throttle = throttle  # type: ignore[attr-defined]
    return throttle


@pytest.mark.parametrize("name", ["staff_token", "stats_token"])
def test_production_refuses_short_tokens_and_says_how_to_make_one(
    rules_dir: Path, name: str
) -> None:
    env = {"SHOPWINDOW_ENV": "production", "SHOPWINDOW_SECRET": "s" * 40}
    with pytest.raises(settings_mod.SettingsError, match="openssl rand -hex 32"):
        settings_mod.load(
            {"rules": str(rules_dir)}, environ={**env, f"SHOPWINDOW_{name.upper()}": "x"}
        )
    ok = settings_mod.load(
        {"rules": str(rules_dir)}, environ={**env, f"SHOPWINDOW_{name.upper()}": "k" * 32}
    )
    assert len(ok.values[name]) == 32


def test_after_ten_wrong_staff_tokens_an_address_waits_and_others_do_not(
    make_client: Callable[..., TestClient],
) -> None:
    clock = Clock()
    guesser = make_client(peer="198.51.100.7", staff_token=TOKEN)
    with_throttle(guesser, clock)
    for n in range(10):
        assert guesser.get("/_sw/staff", headers=basic(f"guess-{n}")).status_code == 403, n
    refused = guesser.get("/_sw/staff", headers=basic("guess-11"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 900
    # Not even the right token is checked from there now.
    assert guesser.get("/_sw/staff", headers=basic(TOKEN)).status_code == 429
    # The same shop, asked from another address with the right token: open.
    colleague = TestClient(guesser.app, client=("198.51.100.8", 50000))
    assert colleague.get("/_sw/staff", headers=basic(TOKEN)).status_code == 200
    clock.now += 600
    assert int(guesser.get("/_sw/staff", headers=basic(TOKEN)).headers["retry-after"]) == 300
    clock.now += 300
    assert guesser.get("/_sw/staff", headers=basic(TOKEN)).status_code == 200


def test_the_stats_token_is_throttled_the_same_way(
    make_client: Callable[..., TestClient],
) -> None:
    clock = Clock()
    client = make_client(stats_token=STATS, token_attempts=3)
    with_throttle(client, clock, limit=3)
    wrong = {"authorization": "Bearer nope"}
    assert [client.get("/_sw/stats", headers=wrong).status_code for _ in range(3)] == [401] * 3
    answer = client.get("/_sw/stats", headers={"authorization": f"Bearer {STATS}"})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "900"
    report = client.post("/_sw/stats/report", data={"token": STATS})
    assert report.status_code == 429


def test_addresses_are_the_trusted_proxys_clients_and_ipv6_counts_per_64(
    make_client: Callable[..., TestClient],
) -> None:
    clock = Clock()
    behind = make_client(peer="10.0.0.2", staff_token=TOKEN, trusted_proxies=["10.0.0.0/8"])
    with_throttle(behind, clock, limit=2)

    def ask(client_ip: str, token: str) -> int:
        headers = {**basic(token), "x-forwarded-for": client_ip}
        return behind.get("/_sw/staff", headers=headers).status_code

    assert [ask("2001:db8:1:2::1", "x"), ask("2001:db8:1:2::ffff", "y")] == [403, 403]
    assert ask("2001:db8:1:2:aaaa::9", TOKEN) == 429  # the same /64
    assert ask("2001:db8:1:3::1", TOKEN) == 200  # the next /64
    assert ask("203.0.113.50", TOKEN) == 200  # the proxy itself is not the client
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_the_throttles_memory_stays_bounded_and_its_log_is_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttle = TokenThrottle(10, 900.0, clock=clock)
    caplog.set_level(logging.WARNING, logger="shopwindow.tokens")
    for n in range(100_000):
        throttle.failed(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", "staff view")
    assert len(throttle) <= MAX_ADDRESSES
    assert len(caplog.records) == 1
    clock.now += LOG_EVERY
    throttle.failed("192.0.2.1", "staff view")
    assert len(caplog.records) == 2
    assert "99999 more since the last line" in caplog.records[1].getMessage()
    clock.now += 901
    assert len(throttle) == 0  # every count ends with its window


# --- fetch metadata -------------------------------------------------------------------


@pytest.fixture
def staff(make_client: Callable[..., TestClient], rules_dir: Path, tmp_path: Path) -> TestClient:
    import_store_csv(tmp_path, rules_dir)
    return make_client(staff_token=TOKEN)


def search(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post(
        "/_sw/staff/search", data={"email": "anna@example.com"}, headers={**basic(TOKEN), **headers}
    )


def test_sec_fetch_site_decides_and_origin_counts_only_without_it(staff: TestClient) -> None:
    passes = [
        {"sec-fetch-site": "same-origin", "origin": "null"},  # Chromium with no-referrer
        {"sec-fetch-site": "none"},
        {"origin": "http://testserver"},
        {},  # a script with the token: no browser headers at all
    ]
    for headers in passes:
        assert search(staff, headers).status_code == 200, headers
    refused = [
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
        {"origin": "null"},
    ]
    for headers in refused:
        answer = search(staff, headers)
        assert answer.status_code == 403, headers
        assert "c1" not in answer.text


def test_a_cross_site_get_of_a_customer_page_shows_nothing_and_records_nothing(
    staff: TestClient,
) -> None:
    shop = staff.app.state.shop  # type: ignore[attr-defined]
    before = len(access_log_of(shop).recent("c1"))
    img = staff.get(
        "/_sw/staff/customers/c1", headers={**basic(TOKEN), "sec-fetch-site": "cross-site"}
    )
    assert img.status_code == 403 and "Berlin" not in img.text
    assert len(access_log_of(shop).recent("c1")) == before
    typed = staff.get("/_sw/staff/customers/c1", headers={**basic(TOKEN), "sec-fetch-site": "none"})
    assert typed.status_code == 200 and "Berlin" in typed.text
    assert len(access_log_of(shop).recent("c1")) == before + 1
