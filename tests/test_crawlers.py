"""Crawlers get the canonical page: the control arm, no cookie, no exposure, no decision log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36"

SPLIT_HOME = """
- id: split-home
  then:
    path: /{country}/
  split:
    variants:
      a:
        weight: 50
        then: {headline: Headline A}
      b:
        weight: 50
        then: {headline: Headline B}
    holdout: HOLDOUT
- id: country-home
  then:
    path: /{country}/
"""


def shop_with(make_client: Callable[..., TestClient], rules_dir: Path, holdout: int) -> TestClient:
    (rules_dir / "homepage.yaml").write_text(SPLIT_HOME.replace("HOLDOUT", str(holdout)))
    # Rendered at /, so each answer is the page itself; the queue is never flushed here.
    return make_client(homepage_mode="render", stats_flush_seconds=3600, decision_log_rate=1.0)


@pytest.mark.parametrize(("holdout", "arm"), [(0, "split-home:a"), (10, "split-home:holdout")])
def test_crawlers_get_the_control_arm_every_time_and_no_cookie(
    make_client: Callable[..., TestClient], rules_dir: Path, holdout: int, arm: str
) -> None:
    client = shop_with(make_client, rules_dir, holdout)
    recorder = client.app.state.shop.services.stats  # type: ignore[attr-defined]
    for n in range(6):
        client.cookies.clear()
        answer = client.get("/", headers={"user-agent": GOOGLEBOT if n % 2 else BINGBOT})
        assert answer.status_code == 200
        assert "set-cookie" not in answer.headers, n
        assert answer.headers["x-shopwindow-rules"].split(", ")[0] == arm, n
    assert recorder.pending == 0  # no exposure, no decision-log trace
    # A person is in the experiment: their answer is counted and they get a cookie.
    person = client.get("/", headers={"user-agent": BROWSER})
    assert "set-cookie" in person.headers
    assert recorder.pending >= 1


def test_a_crawler_is_never_redirected_and_its_beacons_leave_no_cookie(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    client = make_client()
    headers = {"user-agent": GOOGLEBOT}
    page = client.get("/", headers=headers)
    assert page.status_code == 200 and "set-cookie" not in page.headers
    beacon = client.post(
        "/_sw/events", json={"type": "view", "product_id": "w-run-001"}, headers=headers
    )
    assert beacon.status_code == 200 and "set-cookie" not in beacon.headers
