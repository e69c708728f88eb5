"""Ads no landing rule answers: a fallback page for the shopper, a count for the marketer."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from shopwindow.stats import unmatched
from shopwindow.stats.unmatched import CampaignKey, UnmatchedCampaigns, read_unmatched
from shopwindow.visitor.channel import Campaign
from tests.conftest import LiveServer
from tests.landing_support import google

BOOTS = "/?utm_source=newsletter&utm_medium=email&utm_campaign=winter_boots_women"
HIKING = google("kids hiking boots")
MATCHED = google("womens running shoes")


def campaigns(rules: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["campaigns", "--rules", str(rules), *args])
    assert result.exit_code == 0, result.output
    return result.output


def clicks(rules: Path) -> dict[tuple[str, str], int]:
    rows = orjson.loads(campaigns(rules, "--unmatched", "--json"))
    return {(row["term"] or row["campaign"], row["landing"]): row["clicks"] for row in rows}


def metric(client: TestClient) -> float:
    text = client.get("/metrics").text
    found = re.search(r"^shopwindow_unmatched_campaigns_total (\S+)$", text, re.M)
    assert found is not None
    return float(found.group(1))


def test_unknown_campaign_lands_on_the_closest_category(client: TestClient) -> None:
    response = client.get(BOOTS)
    assert response.status_code == 200
    assert "x-shopwindow-rules" not in response.headers  # no rule decided
    assert response.headers["x-shopwindow-landing"] == "category; gender=women; category=boots"
    assert '<a href="/us/women/boots/">See all women&#39;s boots</a>' in response.text


def test_no_usable_word_lands_on_best_sellers_for_the_visitors_gender(client: TestClient) -> None:
    for _ in range(4):
        client.post("/_sw/events", json=[{"type": "view", "product_id": "m-jkt-001"}])
    response = client.get("/?gclid=Cj0KCQiA4L67BhDUARIsADWrl7Ek")
    assert response.headers["x-shopwindow-landing"] == "best-sellers; gender=men; in_stock_only"
    assert "<h1>Men&#39;s best sellers</h1>" in response.text


def test_unmatched_campaigns_are_counted_and_listed_across_restarts(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    first = make_client()
    before = metric(first)
    for url in [BOOTS, BOOTS, HIKING, MATCHED, "/lp/spring-preview"]:
        assert first.get(url).status_code == 200
    assert metric(first) == before + 4  # the matched one is not counted
    first.__exit__(None, None, None)  # stop: the worker writes its counts

    second = make_client()  # a restart: counts add to what is on disk
    second.get(BOOTS)
    second.__exit__(None, None, None)

    assert clicks(rules_dir) == {
        ("winter_boots_women", "/"): 3,
        ("kids hiking boots", "/"): 1,
        ("", "/lp/spring-preview"): 1,
    }
    table = campaigns(rules_dir, "--unmatched")
    lines = table.splitlines()
    assert lines[0].split() == ["clicks", "last", "seen", "(UTC)", "landing", "/", "campaign"]
    assert lines[1].split()[0] == "3" and "utm_campaign='winter_boots_women'" in lines[1]
    assert "utm_term='kids hiking boots'" in table and "click='google'" in table
    assert "womens running shoes" not in table


def test_counts_add_up_across_worker_processes(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    import httpx

    server = live_server("--workers", "2")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for n in range(30):
            # A new connection each time, so both workers take some of them.
            response = http.get(BOOTS, headers={"Connection": "close"})
            assert response.status_code == 200, n
    server.stop()  # each worker writes its own counts as it shuts down
    assert clicks(rules_dir) == {("winter_boots_women", "/"): 30}


def test_no_unmatched_campaigns_yet(rules_dir: Path) -> None:
    assert "no unmatched campaigns" in campaigns(rules_dir, "--unmatched")


def test_campaigns_lists_the_landing_rules(rules_dir: Path) -> None:
    out = campaigns(rules_dir)
    assert re.search(
        r"^womens-running-shoes \(.*landing-pages\.yaml:\d+:3\): "
        r"campaign\.gender = 'women'; campaign\.category = 'running-shoes'$",
        out,
        re.M,
    )


def test_database_path_is_a_setting(tmp_path: Path, rules_dir: Path) -> None:
    db = tmp_path / "elsewhere" / "counts.sqlite3"
    store = UnmatchedCampaigns(str(db))
    store.record(CampaignKey.of(Campaign(source="Google", name="spring"), "/"))
    assert store.flush()
    result = CliRunner().invoke(
        main,
        ["campaigns", "--unmatched", "--rules", str(rules_dir)],
        env={"SHOPWINDOW_CAMPAIGNS_DB": str(db)},
    )
    assert "utm_source='google' utm_campaign='spring'" in result.output
    assert not (rules_dir / "shopwindow.sqlite3").exists()


def test_the_table_is_called_unmatched_campaigns(tmp_path: Path) -> None:
    store = UnmatchedCampaigns(str(tmp_path / "shop.sqlite3"))
    store.record(CampaignKey(term="x"))
    store.flush()
    with sqlite3.connect(tmp_path / "shop.sqlite3") as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "unmatched_campaigns" in names


def test_a_flood_of_made_up_campaigns_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unmatched, "MAX_PENDING", 10)
    monkeypatch.setattr(unmatched, "MAX_ROWS", 25)
    store = UnmatchedCampaigns(str(tmp_path / "shop.sqlite3"))
    for round_ in range(4):
        for n in range(50):
            store.record(CampaignKey(term=f"junk {round_} {n}"))
        assert len(store.pending) == 10
        assert store.write(store.take(), now=1_000 + round_)
    rows = read_unmatched(str(tmp_path / "shop.sqlite3"), limit=1000)
    assert len(rows) == 25
    assert Counter(r.last_seen for r in rows)[1_003] == 10  # the newest are kept


def test_an_unwritable_database_loses_counts_not_requests(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = UnmatchedCampaigns(str(blocker / "cannot" / "be.sqlite3"))
    store.record(CampaignKey(term="x"))
    assert store.flush() is False
    assert store.pending == Counter()


def test_visitor_text_is_shown_escaped_in_the_terminal(tmp_path: Path) -> None:
    store = UnmatchedCampaigns(str(tmp_path / "shop.sqlite3"))
    store.record(CampaignKey(term="\x1b[2Jgone", landing="/lp/\x1b[31mred"))
    store.flush()
    table = unmatched.as_table(read_unmatched(str(tmp_path / "shop.sqlite3")))
    assert "\x1b" not in table
    assert "\\x1b[2Jgone" in table


def test_a_visit_without_campaign_reads_no_keywords(rules_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["explain", "https://shop.example/", "--rules", str(rules_dir), "--json"]
    )
    context = orjson.loads(result.output)["context"]
    assert "campaign.category" not in context and "landing.slug" not in context
    result = CliRunner().invoke(
        main,
        [
            "explain",
            "https://shop.example/?utm_term=kids+boots",
            "--rules",
            str(rules_dir),
            "--json",
        ],
    )
    context = orjson.loads(result.output)["context"]
    assert (context["campaign.gender"], context["campaign.category"]) == ("kids", "boots")


def test_affinity_narrows_a_fallback_page_only_when_it_keeps_products(client: TestClient) -> None:
    for _ in range(4):
        client.post("/_sw/events", json=[{"type": "view", "product_id": "m-jkt-001"}])
    boots = client.get(google("hiking boots"))
    assert boots.headers["x-shopwindow-landing"] == "category; gender=men; category=boots"
    dresses = client.get("/?utm_source=tiktok&utm_medium=paid_social&utm_campaign=dresses_drop")
    assert dresses.headers["x-shopwindow-landing"] == "category; category=dresses"
    assert 'data-product-id="w-dress-' in dresses.text
