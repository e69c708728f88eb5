"""The social-only drop: on the 17th for 24 hours (shop time, DST included), a teaser otherwise."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from shopwindow.rules.drops import next_drop
from shopwindow.rules.rulefiles import load_rules

BERLIN = ZoneInfo("Europe/Berlin")
SOCIAL = "/lp/capsule?utm_source=instagram&utm_medium=social&utm_campaign=capsule"
PAID_SOCIAL = "/lp/capsule?utm_source=facebook&utm_medium=paid_social&fbclid=IwAR2F4"
EMAIL = "/lp/capsule?utm_source=newsletter&utm_medium=email"
GOOGLE = "/lp/capsule?utm_source=google&utm_medium=cpc&gclid=abc"


def explain(rules: Path, url: str, moment: str, *extra: str) -> str:
    result = CliRunner().invoke(
        main,
        ["explain", f"https://shop.example{url}", "--time", moment, "--rules", str(rules), *extra],
    )
    assert result.exit_code == 0, result.output
    return result.output


def winner(rules: Path, url: str, moment: str) -> str:
    report = orjson.loads(explain(rules, url, moment, "--json"))
    assert report["answer"]["placement"] == "landing-pages"
    (label,) = report["answer"]["rules"]
    return str(label)


def test_explain_shows_the_drop_on_the_17th_and_the_teaser_on_the_18th(rules_dir: Path) -> None:
    on = explain(rules_dir, SOCIAL, "2026-03-17T12:00")
    assert "WINS  capsule-drop" in on
    assert "X-Shopwindow-Rules: capsule-drop" in on
    off = explain(rules_dir, SOCIAL, "2026-03-18T12:00")
    assert "WINS  capsule-teaser" in off
    assert "no    capsule-drop" in off and "schedule is active" in off
    assert "next_drop: Friday 17 April 2026, 00:00 CEST" in off  # after the clocks change


@pytest.mark.parametrize("url", [SOCIAL, PAID_SOCIAL])
def test_social_channels_get_the_drop(rules_dir: Path, url: str) -> None:
    assert winner(rules_dir, url, "2026-05-17T09:30") == "capsule-drop"


@pytest.mark.parametrize("url", [EMAIL, GOOGLE, "/lp/capsule"])
def test_other_channels_get_the_teaser_even_on_the_17th(rules_dir: Path, url: str) -> None:
    assert winner(rules_dir, url, "2026-05-17T09:30") == "capsule-teaser"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # winter (CET, UTC+1): the 17th opens at 23:00 UTC on the 16th
        ("2026-01-16T22:59:59+00:00", "capsule-teaser"),
        ("2026-01-16T23:00:00+00:00", "capsule-drop"),
        ("2026-01-17T22:59:59+00:00", "capsule-drop"),
        ("2026-01-17T23:00:00+00:00", "capsule-teaser"),
        # summer (CEST, UTC+2): an hour earlier in UTC
        ("2026-07-16T21:59:59+00:00", "capsule-teaser"),
        ("2026-07-16T22:00:00+00:00", "capsule-drop"),
        ("2026-07-17T21:59:59+00:00", "capsule-drop"),
        ("2026-07-17T22:00:00+00:00", "capsule-teaser"),
        # the same moments written in shop time
        ("2026-07-16T23:59:59+02:00", "capsule-teaser"),
        ("2026-07-17T00:00:00", "capsule-drop"),
        ("2026-07-17T23:59:59", "capsule-drop"),
        ("2026-07-18T00:00:00", "capsule-teaser"),
    ],
)
def test_one_second_either_side_of_start_and_end(
    rules_dir: Path, moment: str, expected: str
) -> None:
    assert winner(rules_dir, SOCIAL, moment) == expected


DST_RULES = """
- id: clock-change-drop
  when:
    landing.slug: capsule
  schedule:
    timezone: Europe/Berlin
    every: {month: [3, 10], monthday: [29, 25], hours: 24}
  then:
    headline: "Clock-change drop"
- id: clock-change-teaser
  when:
    landing.slug: capsule
  then:
    teaser: clock-change-drop
"""


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # 29 March 2026: clocks go forward at 02:00, so the day lasts 23 hours
        ("2026-03-28T22:59:59+00:00", "clock-change-teaser"),
        ("2026-03-28T23:00:00+00:00", "clock-change-drop"),  # 00:00 CET
        ("2026-03-29T01:30:00+00:00", "clock-change-drop"),  # 03:30 CEST
        ("2026-03-29T21:59:59+00:00", "clock-change-drop"),  # 23:59:59 CEST
        ("2026-03-29T22:00:00+00:00", "clock-change-teaser"),  # 00:00 CEST on the 30th
        # 25 October 2026: clocks go back at 03:00, so the day lasts 25 hours
        ("2026-10-24T21:59:59+00:00", "clock-change-teaser"),
        ("2026-10-24T22:00:00+00:00", "clock-change-drop"),  # 00:00 CEST
        ("2026-10-25T00:30:00+00:00", "clock-change-drop"),  # 02:30 CEST, the first time
        ("2026-10-25T01:30:00+00:00", "clock-change-drop"),  # 02:30 CET, the second time
        ("2026-10-25T22:59:59+00:00", "clock-change-drop"),  # 23:59:59 CET
        ("2026-10-25T23:00:00+00:00", "clock-change-teaser"),  # 00:00 CET on the 26th
    ],
)
def test_a_drop_on_a_daylight_saving_change(rules_dir: Path, moment: str, expected: str) -> None:
    (rules_dir / "landing-pages.yaml").write_text(DST_RULES)
    assert winner(rules_dir, SOCIAL, moment) == expected


def test_next_drop_date_crosses_the_clock_change(rules_dir: Path) -> None:
    ruleset, errors = load_rules(rules_dir, BERLIN)
    assert errors == []
    drop = next_drop(ruleset.rule("capsule-drop"), datetime(2026, 3, 18, 12, tzinfo=UTC))
    assert drop is not None and not drop.live_now
    assert drop.iso == "2026-04-17T00:00:00+02:00"  # CEST, while 17 March opened at +01:00
    assert drop.text == "Friday 17 April 2026, 00:00 CEST"
    during = next_drop(ruleset.rule("capsule-drop"), datetime(2026, 3, 17, 12, tzinfo=UTC))
    assert during is not None and during.live_now
    assert during.iso == "2026-04-17T00:00:00+02:00"
    winter = next_drop(ruleset.rule("capsule-drop"), datetime(2026, 10, 30, tzinfo=UTC))
    assert winter is not None and winter.iso == "2026-11-17T00:00:00+01:00"


def today_in_berlin() -> date:
    return datetime.now(BERLIN).date()


def with_drop_days(rules_dir: Path, days: list[int]) -> None:
    path = rules_dir / "landing-pages.yaml"
    text = path.read_text()
    assert "every: {monthday: 17, hours: 24}" in text
    path.write_text(text.replace("monthday: 17,", f"monthday: {days},"))


def test_drop_page_over_http_while_it_is_on(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    today = today_in_berlin()
    # Today and tomorrow: the test cannot straddle the end of the window.
    with_drop_days(rules_dir, [today.day, (today + timedelta(days=1)).day])
    client = make_client()
    drop = client.get(SOCIAL)
    assert drop.headers["x-shopwindow-rules"] == "capsule-drop"
    assert drop.headers["x-shopwindow-landing"].startswith("rule; tags=tier:premium; in_stock_only")
    assert "<h1>The Capsule drop is live</h1>" in drop.text
    teaser = client.get(EMAIL)
    assert teaser.headers["x-shopwindow-rules"] == "capsule-teaser"
    assert "The drop is live right now for our social community." in teaser.text


def test_teaser_over_http_names_the_next_drop(client: TestClient) -> None:
    response = client.get(EMAIL)
    assert response.status_code == 200
    assert response.headers["x-shopwindow-rules"] == "capsule-teaser"
    assert response.headers["x-shopwindow-landing"] == "teaser"
    shown = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', response.text)
    assert shown is not None
    opens = datetime.fromisoformat(shown.group(1))
    # The first 17th, 00:00 shop time, after now (computed here independently of the schedule).
    now = datetime.now(BERLIN)
    day = now.date() + timedelta(days=1 if now.day == 17 else 0)
    while day.day != 17:
        day += timedelta(days=1)
    assert opens == datetime(day.year, day.month, 17, tzinfo=BERLIN)
    assert opens.utcoffset() == datetime(day.year, day.month, 17, tzinfo=BERLIN).utcoffset()
    assert shown.group(2).startswith(f"{opens:%A} 17 {opens:%B %Y}, 00:00")


@pytest.mark.parametrize(
    ("teaser", "message"),
    [
        ("no-such-rule", "teaser names no rule 'no-such-rule'"),
        ("womens-running-shoes", "teaser names 'womens-running-shoes', which has no schedule"),
    ],
)
def test_check_refuses_a_teaser_without_a_scheduled_drop(
    rules_dir: Path, teaser: str, message: str
) -> None:
    path = rules_dir / "landing-pages.yaml"
    path.write_text(path.read_text().replace("teaser: capsule-drop", f"teaser: {teaser}"))
    result = CliRunner().invoke(main, ["check", str(rules_dir)])
    assert result.exit_code == 1
    assert re.search(rf"landing-pages\.yaml:\d+:3: {re.escape(message)}", result.output)


@pytest.mark.parametrize(
    ("headline", "ok"),
    [("{KeyWord}", True), ("Shop {keyword} now", True), ("{Keyword}", True), ("{term}", False)],
)
def test_check_knows_the_headline_placeholders(rules_dir: Path, headline: str, ok: bool) -> None:
    path = rules_dir / "landing-pages.yaml"
    path.write_text(path.read_text().replace('headline: "{KeyWord}"', f'headline: "{headline}"', 1))
    result = CliRunner().invoke(main, ["check", str(rules_dir)])
    assert (result.exit_code == 0) is ok, result.output
    if not ok:
        assert "unknown placeholder {term} in headline" in result.output
