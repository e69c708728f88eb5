"""`shopwindow explain`: the same context the server builds, rule by rule, and the answer."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from shopwindow.cli.main import main
from shopwindow.visitor.cookie import CookieCodec, Visitor
from tests.conftest import SECRET, steady_visitor_id


def explain(rules: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["explain", *args, "--rules", str(rules)], env={"SHOPWINDOW_SECRET": SECRET}
    )
    return result.exit_code, result.output


def test_new_visitor_from_germany(rules_dir: Path) -> None:
    code, out = explain(rules_dir, "https://shop.example/", "--country", "DE", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["context"]["country"] == "DE"
    assert report["answer"] == {
        "placement": "homepage",
        "rules": ["country-home"],
        "redirect": "/de/",
    }
    first = report["considered"][0]
    assert first["rule"] == "category-home" and first["matched"] is False
    assert first["failed"] == "visitor.gender exists True" and first["actual"] is None
    assert report["considered"][-1]["winner"] is True


def test_returning_visitor_cookie(rules_dir: Path) -> None:
    import time

    v = Visitor.fresh(int(time.time()))
    v.id = steady_visitor_id()
    v.gender = {"women": 5.0}
    v.category = {"running-shoes": 3.0}
    cookie = CookieCodec(SECRET, 365).encode(v)
    code, out = explain(rules_dir, "/", "--country", "FR", "--cookie", cookie)
    assert code == 0, out
    assert "WINS  gender-home" in out
    assert "no    category-home" in out and "visitor.category_strength gte 8; actual: 3.0" in out
    assert "302 -> /fr/women/" in out


def test_bad_cookie_is_explained(rules_dir: Path) -> None:
    code, out = explain(rules_dir, "/", "--cookie", "garbage", "--json")
    assert code == 0
    assert "did not verify" in json.loads(out)["visitor"]


def test_bad_time_is_a_clear_error(rules_dir: Path) -> None:
    code, out = explain(rules_dir, "/", "--time", "next friday")
    assert code != 0 and "not an ISO date-time" in out


def test_header_option(rules_dir: Path) -> None:
    code, out = explain(
        rules_dir,
        "/",
        "--header",
        "User-Agent: Googlebot/2.1 (+http://www.google.com/bot.html)",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["context"]["device"] == "bot"
