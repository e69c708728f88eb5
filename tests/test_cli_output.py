"""What the `shopwindow` commands print: JSON when asked, whole lines, times in the shop's zone."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from shopwindow.cli.main import main

# Commands that print no data of their own: a server, a file writer, generated docs
# (already a document format), an import (its report goes to stderr) and an erasure.
PRINT_NO_DATA = {
    "serve",
    "catalog generate",
    "docs settings",
    "docs schema",
    "import purchases",
    "profile forget",
    "reload",  # asks the workers to reload; /readyz shows the result
}


def commands(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(commands(command, full + " "))
        else:
            found[full] = command
    return found


def test_every_command_that_prints_data_has_json() -> None:
    for name, command in commands().items():
        flags = {opt for param in command.params for opt in getattr(param, "opts", ())}
        if name not in PRINT_NO_DATA:
            assert "--json" in flags, f"`shopwindow {name}` prints data but has no --json"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"SHOPWINDOW_CONFIG": ""})
    return result.exit_code, result.output


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "shopwindow.sqlite3")


def test_json_of_the_commands_that_read_rules_and_stores(rules_dir: Path, store: str) -> None:
    rules = str(rules_dir)
    for args in (
        ["check", rules, "--json"],
        ["campaigns", "--rules", rules, "--json"],
        ["campaigns", "--unmatched", "--rules", rules, "--json"],
        ["explain", "http://localhost/?utm_source=x", "--rules", rules, "--json"],
        ["stats", "--rules", rules, "--profile-db", store, "--json"],
        ["decisions", "--rules", rules, "--profile-db", store, "--json"],
        ["staff", "access", "--rules", rules, "--profile-db", store, "--json"],
    ):
        code, out = run(*args)
        assert code == 0, (args, out)
        orjson.loads(out)  # the whole output is one JSON document
        assert out.endswith("\n"), args


def test_campaigns_json_lists_the_landing_rules(rules_dir: Path) -> None:
    code, out = run("campaigns", "--rules", str(rules_dir), "--json")
    text_code, text = run("campaigns", "--rules", str(rules_dir))
    assert code == text_code == 0
    answers = orjson.loads(out)
    assert answers
    # The same rules as the text, in the same order, with the same positions.
    shown = [f"{a['rule']} ({a['where']}): {'; '.join(a['when'])}" for a in answers]
    assert shown == [line for line in text.splitlines() if not line.startswith("(")]


def test_check_json_lists_every_error(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "homepage.yaml").write_text(
        "- id: a\n  when: {device: phone, weekday: monday}\n  then: {path: /a/}\n"
    )
    code, out = run("check", str(folder), "--json")
    body = orjson.loads(out)
    assert code == 1 and body["ok"] is False
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, 18), (2, 34)]
    assert "did you mean 'mobile'?" in body["errors"][0]["message"]


def test_stats_without_data_ends_with_a_newline(rules_dir: Path, store: str) -> None:
    code, out = run("stats", "--rules", str(rules_dir), "--profile-db", store)
    assert code == 0, out
    assert "no exposures" in out and out.endswith("\n") and not out.endswith("\n\n")


def test_every_text_output_ends_with_a_newline(rules_dir: Path, store: str) -> None:
    rules = str(rules_dir)
    for args in (
        ["check", rules],
        ["campaigns", "--rules", rules],
        ["campaigns", "--unmatched", "--rules", rules],
        ["explain", "http://localhost/", "--rules", rules],
        ["stats", "--rules", rules, "--profile-db", store],
        ["decisions", "--rules", rules, "--profile-db", store],
        ["staff", "access", "--rules", rules, "--profile-db", store],
        ["docs", "settings"],
        ["docs", "schema"],
    ):
        code, out = run(*args)
        assert code == 0, (args, out)
        assert out.endswith("\n"), args


def test_explain_shows_the_time_in_the_shops_zone(rules_dir: Path) -> None:
    # The demo shop's zone is Europe/Berlin: 10:00 there is 09:00 UTC in December.
    code, out = run(
        "explain", "http://localhost/", "--rules", str(rules_dir), "--time", "2026-12-07T10:00"
    )
    assert code == 0, out
    assert "time: 2026-12-07T10:00:00+01:00" in out.splitlines()
    code, out = run(
        "explain", "http://localhost/", "--rules", str(rules_dir), "--time", "2026-07-07T08:00Z"
    )
    assert "time: 2026-07-07T10:00:00+02:00" in out.splitlines()
