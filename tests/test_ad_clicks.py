"""The ad-click corpus (tests/cases/ad_clicks.yaml): every click lands where its row says.

Each row is a click as an ad platform, email tool or affiliate network builds it.
A row that lands on a page narrower than it names (a gender, category or tag it
does not name) is a "wrong narrowing" and always fails; otherwise the corpus as a
whole must land at least 97% of the rows exactly, reported per platform and language.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from starlette.testclient import TestClient

from shopwindow.app import create_app
from tests.conftest import DEMO_RULES, PROJECT_ROOT, TEMPLATES, build_settings

CORPUS = Path(__file__).parent / "cases" / "ad_clicks.yaml"
ROWS: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
LANGUAGES = ["de", "fr", "es", "it", "nl"]
PASS_RATE = 0.97
KINDS = {"rule", "category", "keyword", "best-sellers", "homepage"}


@dataclass(frozen=True)
class Landed:
    """Where a click landed, read back from the answer."""

    kind: str
    rule: str | None = None
    gender: str | None = None
    category: str | None = None
    tags: frozenset[str] = frozenset()

    def wrong_narrowing(self, row: dict[str, Any]) -> list[str]:
        """What the page was narrowed to that the row does not name."""
        wrong = []
        if self.gender is not None and self.gender != row.get("gender"):
            wrong.append(f"gender={self.gender}")
        if self.category is not None and self.category != row.get("category"):
            wrong.append(f"category={self.category}")
        wrong.extend(f"tag={t}" for t in sorted(self.tags - set(row.get("tags") or ())))
        return wrong

    def exact(self, row: dict[str, Any]) -> bool:
        return (
            self.kind == row["kind"]
            and (row["kind"] != "rule" or self.rule == row.get("rule"))
            and self.gender == row.get("gender")
            and self.category == row.get("category")
            and self.tags == frozenset(row.get("tags") or ())
        )


@pytest.fixture(scope="module")
def corpus_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The demo shop with every language pack on, as a marketer would switch them on."""
    rules = tmp_path_factory.mktemp("corpus") / "rules"
    # One store per country, as in a shop that declares no markets (the default test
    # address would otherwise shop in the US market, whose own feed has no sandals).
    shutil.copytree(DEMO_RULES, rules, ignore=shutil.ignore_patterns("*.sqlite3*", "markets.yaml"))
    toml = rules / "shopwindow.toml"
    toml.write_text(
        toml.read_text()
        .replace('"../demo/', f'"{PROJECT_ROOT}/demo/')
        .replace('"../templates"', f'"{TEMPLATES}"')
        + f"languages = {orjson.dumps(LANGUAGES).decode()}\n"
    )
    app = create_app(build_settings(rules), watch=False)
    with TestClient(app, client=("203.0.113.9", 50000), follow_redirects=False) as client:
        yield client


def land(client: TestClient, url: str) -> Landed:
    client.cookies.clear()  # every click is a first visit
    response = client.get(url, headers={"accept": "application/json"})
    if response.status_code in (301, 302, 303, 307, 308):
        query = url.partition("?")[2]
        location = response.headers["location"]
        kind = "homepage" if location.endswith("?" + query) else "redirect-losing-the-query"
        return Landed(kind)
    assert response.status_code == 200, url
    body = response.json()
    parts = dict(
        part.partition("=")[::2] for part in (body["filter"] or "").split("; ") if "=" in part
    )
    return Landed(
        body["kind"],
        response.headers.get("x-shopwindow-rules"),
        parts.get("gender"),
        parts.get("category"),
        frozenset(t for t in parts.get("tags", "").split(",") if t),
    )


def test_the_corpus_covers_every_platform_language_and_kind() -> None:
    assert len(ROWS) >= 100
    assert {row["kind"] for row in ROWS} == KINDS
    assert {row.get("lang", "en") for row in ROWS} == {"en", *LANGUAGES}
    platforms = {row["platform"] for row in ROWS}
    for platform in ("google-ads", "microsoft-ads", "meta", "tiktok", "pinterest", "klaviyo"):
        assert platform in platforms
    for platform in ("mailchimp", "awin", "cj", "rakuten", "impact"):
        assert platform in platforms
    for row in ROWS:
        assert row["url"].startswith("/") and row["source"], row
    urls = [row["url"] for row in ROWS]
    assert len(set(urls)) == len(urls)


@pytest.mark.parametrize("row", ROWS, ids=[row["url"][:80] for row in ROWS])
def test_no_click_lands_on_a_page_narrower_than_it_asked_for(
    corpus_client: TestClient, row: dict[str, Any]
) -> None:
    landed = land(corpus_client, row["url"])
    assert landed.kind != "redirect-losing-the-query", row["url"]
    assert not landed.wrong_narrowing(row), (row["url"], landed)


def test_the_corpus_lands_at_least_97_percent_exactly(
    corpus_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    total: Counter[str] = Counter()
    exact: Counter[str] = Counter()
    misses = []
    for row in ROWS:
        landed = land(corpus_client, row["url"])
        groups = (f"platform {row['platform']}", f"language {row.get('lang', 'en')}", "all")
        ok = landed.exact(row)
        for group in groups:
            total[group] += 1
            exact[group] += ok
        if not ok:
            misses.append(f"  {row['url']}\n    want {row['kind']}, got {landed}")
    report = "\n".join(
        f"{group:<28} {exact[group]:>3}/{total[group]:<3} {exact[group] / total[group]:.0%}"
        for group in sorted(total)
    )
    with capsys.disabled():
        print("\nad-click corpus, exact landings:\n" + report)
        if misses:
            print("misses:\n" + "\n".join(misses))
    assert exact["all"] / total["all"] >= PASS_RATE, report + "\n" + "\n".join(misses)
