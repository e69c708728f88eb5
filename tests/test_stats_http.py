"""Counting through the public surface: answers, beacon events, /_sw/stats, the report, the CLI."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET

TOKEN = "s3cret-stats-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
DRESS = "w-dress-001"  # women's products in the demo catalog
JEANS = "w-jean-001"


def shopper_cookie(visitor_id: str, **state: Any) -> str:
    now = int(time.time())
    visitor = Visitor(
        id=visitor_id,
        new=False,
        seen=now,
        affinity_at=now,
        gender={"women": 5.0},
        category={"dresses": 3.0},
        **state,
    )
    return CookieCodec(SECRET, 365).encode(visitor)


def as_visitor(client: TestClient, visitor_id: str) -> None:
    client.cookies.clear()
    client.cookies.set("sw", shopper_cookie(visitor_id))


def stats(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/_sw/stats", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def variant_of(body: dict[str, Any], rule: str, variant: str) -> dict[str, Any]:
    for experiment in body["experiments"]:
        if experiment["rule"] == rule:
            for row in experiment["variants"]:
                if row["variant"] == variant:
                    return dict(row)
    raise AssertionError(f"{rule}:{variant} not in {body}")


# --- the token --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"x-shopwindow-token": "wrong"},
        {"authorization": TOKEN},
    ],
)
def test_stats_refuse_a_missing_or_wrong_token(
    make_client: Callable[..., TestClient], headers: dict[str, str]
) -> None:
    client = make_client(stats_token=TOKEN)
    for path in ("/_sw/stats", "/_sw/stats/decisions"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "experiments" not in response.text


def test_stats_are_off_without_a_configured_token(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert client.get("/_sw/stats", headers={"authorization": "Bearer "}).status_code == 403
    assert client.get("/_sw/stats/report").status_code == 403


def test_stats_accept_the_token_in_either_header(make_client: Callable[..., TestClient]) -> None:
    client = make_client(stats_token=TOKEN)
    assert client.get("/_sw/stats", headers=AUTH).status_code == 200
    assert client.get("/_sw/stats", headers={"x-shopwindow-token": TOKEN}).status_code == 200


@pytest.mark.parametrize(
    "query",
    [{"since": "yesterday"}, {"since": "2024-13-01"}, {"rule": "<script>alert(1)</script>"}],
)
def test_bad_query_parameters_are_a_400(
    make_client: Callable[..., TestClient], query: dict[str, str]
) -> None:
    client = make_client(stats_token=TOKEN)
    response = client.get("/_sw/stats", params=query, headers=AUTH)
    assert response.status_code == 400
    assert "<script>" not in response.text


def test_the_report_asks_for_the_token_and_remembers_it(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(stats_token=TOKEN)
    as_visitor(client, "visitor-1")
    client.get("/")  # one exposure, so the report has a chart
    client.cookies.clear()

    form = client.get("/_sw/stats/report")
    assert form.status_code == 401
    assert '<form method="post">' in form.text and "<svg" not in form.text

    wrong = client.post("/_sw/stats/report", data={"token": "nope"})
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert "sw_stats" not in wrong.cookies

    right = client.post("/_sw/stats/report", data={"token": TOKEN})
    assert right.status_code == 303
    assert right.headers["location"] == "/_sw/stats/report"
    set_cookie = right.headers["set-cookie"]
    assert TOKEN not in set_cookie
    assert re.search(r"(?i)httponly", set_cookie) and re.search(r"(?i)samesite=strict", set_cookie)
    assert "Path=/_sw/stats" in set_cookie

    page = client.get("/_sw/stats/report")
    assert page.status_code == 200
    assert "<svg" in page.text and "gender-home" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]

    client.cookies.clear()
    assert client.get("/_sw/stats/report", headers=AUTH).status_code == 200
    client.cookies.set("sw_stats", "forged", path="/_sw/stats")
    assert client.get("/_sw/stats/report").status_code == 401


# --- counting -------------------------------------------------------------------------


def test_exposures_clicks_and_purchases_are_counted_per_variant(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(stats_token=TOKEN)
    as_visitor(client, "visitor-1")  # variant b
    home = client.get("/")
    assert home.headers["x-shopwindow-rules"] == "gender-home:b"
    client.get(home.headers["location"])
    client.post("/_sw/events", json={"type": "click", "rule": "gender-home"})
    client.post(
        "/_sw/events",
        json={
            "type": "purchase",
            "order_id": "A-1",
            "items": [{"product_id": DRESS, "price": 59.5}, {"product_id": JEANS, "price": 40}],
        },
    )
    as_visitor(client, "visitor-12")  # held out: gets country-home
    client.get("/")

    body = stats(client)
    b = variant_of(body, "gender-home", "b")
    assert (b["exposures"], b["visitors"], b["clicks"], b["conversions"]) == (2, 1, 1, 1)
    assert b["revenue"] == 99.5 and b["revenue_per_visitor"] == 99.5
    held = variant_of(body, "gender-home", "holdout")
    assert (held["visitors"], held["conversions"]) == (1, 0)
    assert variant_of(body, "country-home", "-")["visitors"] == 1
    experiment = next(e for e in body["experiments"] if e["rule"] == "gender-home")
    assert experiment["control"] == "holdout" and experiment["placement"] == "homepage"
    assert b["verdict"] == "not enough data yet"
    assert stats(client, rule="country-home")["experiments"][0]["rule"] == "country-home"


def test_declined_consent_and_crawlers_are_not_counted(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(stats_token=TOKEN)
    as_visitor(client, "visitor-1")
    assert client.get("/", headers={"sec-gpc": "1"}).status_code == 302
    as_visitor(client, "visitor-2")
    bot = client.get("/", headers={"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    assert bot.status_code == 200
    assert stats(client)["experiments"] == []


def test_prometheus_counts_exposures_and_conversions(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(stats_token=TOKEN)

    def counter(text: str, name: str) -> float:
        match = re.search(rf'^{name}\{{rule="gender-home",variant="a"\}} (\S+)$', text, re.M)
        return float(match.group(1)) if match else 0.0

    before = client.get("/metrics").text
    as_visitor(client, "visitor-2")  # variant a
    client.get("/")
    client.post(
        "/_sw/events",
        json={"type": "purchase", "items": [{"product_id": DRESS, "price": 20}]},
    )
    stats(client)  # waits for the flush
    after = client.get("/metrics").text
    for name, grew in (
        ("shopwindow_experiment_exposures_total", 1),
        ("shopwindow_experiment_conversions_total", 1),
        ("shopwindow_experiment_revenue_total", 20),
    ):
        assert counter(after, name) - counter(before, name) == grew


# --- the decision log ---------------------------------------------------------------------


def test_the_decision_log_says_why_a_visitor_got_their_page(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(stats_token=TOKEN, decision_log_rate=1.0)
    as_visitor(client, "visitor-12")
    client.get("/")
    as_visitor(client, "someone-else")
    client.get("/")

    response = client.get("/_sw/stats/decisions", params={"visitor": "visitor-12"}, headers=AUTH)
    assert response.status_code == 200
    (entry,) = response.json()["decisions"]
    assert entry["labels"] == ["gender-home:holdout", "country-home"]
    assert entry["placement"] == "homepage" and entry["path"] == "/"
    held = entry["rules"]["gender-home"]
    assert held["variant"] == "holdout"
    assert held["read"] == {"visitor.gender": "women"}
    winner = entry["rules"]["country-home"]
    passed = {p["rule"]: p for p in winner["passed_over"]}
    assert passed["category-home"]["failed"].startswith("visitor.category_strength")
    assert passed["category-home"]["actual"] == 3.0
    assert passed["gender-home"] == {"rule": "gender-home", "matched": True}


def test_an_answer_repeated_within_seconds_is_traced_once(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page reloaded in a loop cannot push everyone else out of the log."""
    client = make_client(stats_token=TOKEN, decision_log_rate=1.0)
    as_visitor(client, "visitor-12")
    for _ in range(5):
        client.get("/")

    def traced() -> list[str]:
        response = client.get(
            "/_sw/stats/decisions", params={"visitor": "visitor-12"}, headers=AUTH
        )
        return [entry["path"] for entry in response.json()["decisions"]]

    assert traced() == ["/"]
    monkeypatch.setattr("shopwindow.stats.decisionlog.REPEAT_SECONDS", 0.0)
    for _ in range(3):
        client.get("/")
    assert traced() == ["/"] * 4


def test_no_decisions_are_logged_at_rate_zero(make_client: Callable[..., TestClient]) -> None:
    client = make_client(stats_token=TOKEN, decision_log_rate=0.0)
    as_visitor(client, "visitor-12")
    client.get("/")
    response = client.get("/_sw/stats/decisions", headers=AUTH)
    assert response.json() == {"decisions": []}


def test_decisions_cli_finds_a_shopper_by_cookie(
    make_client: Callable[..., TestClient], rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(decision_log_rate=1.0)
    cookie = shopper_cookie("visitor-2")
    client.cookies.set("sw", cookie)
    client.get("/")
    client.__exit__(None, None, None)  # stopping the service flushes the log

    monkeypatch.setenv("SHOPWINDOW_SECRET", SECRET)
    result = CliRunner().invoke(main, ["decisions", "--rules", str(rules_dir), "--cookie", cookie])
    assert result.exit_code == 0, result.output
    assert "visitor visitor-2  homepage  /" in result.output
    # In the shop's time zone (the demo shop's is Europe/Berlin), with its offset.
    assert re.search(r"^\S+T\S+\+0[12]:00  visitor visitor-2", result.output, re.M)
    assert "X-Shopwindow-Rules: gender-home:a" in result.output
    assert "visitor.gender = 'women'" in result.output
    assert "passed over category-home: visitor.category_strength gte 8" in result.output

    bad = CliRunner().invoke(main, ["decisions", "--rules", str(rules_dir), "--cookie", "x"])
    assert bad.exit_code == 1 and "does not verify" in bad.output


# --- the scripted run, restarts and the CLI -------------------------------------------------


def stats_cli(rules_dir: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(
        main, ["stats", "--rules", str(rules_dir), "--json", *args], env=env
    )
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = orjson.loads(result.output)
    return body


def visit(http: httpx.Client, base: str, n: int, plan: dict[str, int], seen: dict[str, int]) -> str:
    """One shopper: browses women's products, lands on the homepage, maybe clicks and buys.

    Whether they click and buy depends on what they were shown: the k-th visitor of an
    arm converts when k % 10 < its rate in tenths, so each arm converts at its rate.
    """
    http.cookies.clear()
    http.post(
        f"{base}/_sw/events",
        json=[{"type": "view", "product_id": DRESS}, {"type": "view", "product_id": JEANS}],
    ).raise_for_status()
    home = http.get(f"{base}/")
    arm = home.headers["x-shopwindow-rules"].split(",")[0]
    k = seen[arm] = seen.get(arm, 0) + 1
    http.get(f"{base}{home.headers['location']}").raise_for_status()
    if k % 10 < plan[arm] + 2:
        http.post(f"{base}/_sw/events", json={"type": "click", "rule": "gender-home"})
    if k % 10 < plan[arm]:
        http.post(
            f"{base}/_sw/events",
            json={
                "type": "purchase",
                "order_id": f"order-{n}",
                "items": [{"product_id": DRESS, "price": 60.0}],
            },
        ).raise_for_status()
    return arm


@pytest.mark.slow
def test_a_scripted_run_of_visitors_shows_lift_and_significance(
    live_server: Callable[..., Any], rules_dir: Path
) -> None:
    env = {"SHOPWINDOW_STATS_MIN_VISITORS": "20"}
    server = live_server(env=env)
    plan = {"gender-home:holdout": 2, "gender-home:a": 3, "gender-home:b": 7}
    seen: dict[str, int] = {}
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        for n in range(500):
            visit(http, server.url, n, plan, seen)
    server.stop()  # flushed on shutdown

    body = stats_cli(rules_dir, "--rule", "gender-home", env=env)
    (experiment,) = body["experiments"]
    assert experiment["control"] == "holdout" and experiment["enough_data"]
    rows = {row["variant"]: row for row in experiment["variants"]}
    assert set(rows) == {"holdout", "a", "b"}
    for name, row in rows.items():
        assert row["visitors"] == seen[f"gender-home:{name}"]
        assert row["exposures"] == 2 * row["visitors"]  # the redirect and the storefront
        assert row["clicks"] > row["conversions"] > 0
    b = rows["b"]
    assert b["conversion_rate"] == pytest.approx(0.7, abs=0.03)
    assert b["vs_control"]["lift"] > 1.0
    assert b["vs_control"]["lift_interval"][0] > 0
    assert b["vs_control"]["p_value"] < 0.001
    assert b["vs_control"]["probability_to_beat_control"] > 0.999
    assert b["verdict"] == "better than control"
    assert b["revenue_per_visitor"] == pytest.approx(60 * b["conversion_rate"], abs=0.01)

    text = CliRunner().invoke(main, ["stats", "--rules", str(rules_dir)], env=env).output
    print(text)
    assert "gender-home  (homepage, " in text and "control: holdout" in text
    b_line = next(line for line in text.splitlines() if line.startswith("  b "))
    assert "better than control" in b_line and re.search(r"\+\d+\.\d% \(\+", b_line)


def test_counts_survive_a_restart(live_server: Callable[..., Any], rules_dir: Path) -> None:
    # The flusher would wait an hour: only the flush on shutdown can save these counts.
    env = {"SHOPWINDOW_STATS_FLUSH_SECONDS": "3600"}
    plan = {"gender-home:holdout": 10, "gender-home:a": 10, "gender-home:b": 10}
    seen: dict[str, int] = {}
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        server = live_server(env=env)
        for n in range(6):
            visit(http, server.url, n, plan, seen)
        server.stop()
        first = stats_cli(rules_dir)
        server = live_server(env=env)
        for n in range(6, 10):
            visit(http, server.url, n, plan, seen)
        server.stop()
    second = stats_cli(rules_dir)

    def count(body: dict[str, Any], metric: str) -> int:
        return sum(
            row[metric]
            for e in body["experiments"]
            if e["rule"] == "gender-home"
            for row in e["variants"]
        )

    assert count(first, "visitors") == 6 and count(first, "conversions") == 6
    assert count(second, "visitors") == 10 and count(second, "conversions") == 10
    assert count(second, "exposures") == 20


def test_stats_cli_filters_and_refuses_a_bad_date(rules_dir: Path) -> None:
    empty = CliRunner().invoke(main, ["stats", "--rules", str(rules_dir)])
    assert empty.exit_code == 0 and "no exposures counted yet" in empty.output
    bad = CliRunner().invoke(main, ["stats", "--rules", str(rules_dir), "--since", "soon"])
    assert bad.exit_code == 1 and "is not a date" in bad.output


@pytest.mark.redis
def test_nodes_sharing_redis_attribute_across_each_other(
    make_client: Callable[..., TestClient], redis_server: Any
) -> None:
    node_a = make_client(stats_token=TOKEN, redis=redis_server.url)
    node_b = make_client(stats_token=TOKEN, redis=redis_server.url)
    as_visitor(node_a, "visitor-1")
    assert node_a.get("/").headers["x-shopwindow-rules"] == "gender-home:b"
    node_a.get("/_sw/stats", headers=AUTH)  # node a has written its exposure
    as_visitor(node_b, "visitor-1")
    node_b.post(
        "/_sw/events",
        json={"type": "purchase", "order_id": "R-1", "items": [{"product_id": DRESS, "price": 10}]},
    )
    b = variant_of(stats(node_b), "gender-home", "b")
    assert (b["visitors"], b["conversions"], b["revenue"]) == (1, 1, 10.0)
    assert variant_of(stats(node_a), "gender-home", "b")["conversions"] == 1


@pytest.mark.redis
def test_counts_wait_for_redis_when_it_is_down(
    make_client: Callable[..., TestClient], redis_server: Any
) -> None:
    client = make_client(stats_token=TOKEN, redis=redis_server.url)
    redis_server.stop()
    as_visitor(client, "visitor-2")
    home = client.get("/")  # the shop answers while the stats store is down
    assert home.status_code == 302 and home.headers["x-shopwindow-rules"] == "gender-home:a"
    assert client.get("/_sw/stats", headers=AUTH).status_code == 503
    redis_server.start()
    a = variant_of(stats(client), "gender-home", "a")
    assert (a["visitors"], a["exposures"]) == (1, 1)
