"""`shopwindow check`: every error as file:line:column, exit 1; valid rules exit 0."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from shopwindow.cli.main import main
from tests.conftest import DEMO_CATALOG, DEMO_RULES, TEMPLATES


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def run_check(folder: Path | str, *extra: str) -> tuple[int, list[str]]:
    args = [
        "check",
        str(folder),
        "--catalog",
        str(DEMO_CATALOG),
        "--templates",
        str(TEMPLATES),
        *extra,
    ]
    result = CliRunner().invoke(main, args, env={"SHOPWINDOW_CONFIG": ""})
    return result.exit_code, result.output.splitlines()


def test_demo_rules_are_valid() -> None:
    code, lines = run_check(DEMO_RULES)
    assert code == 0, lines
    assert lines[-1].startswith("ok: ")
    assert lines[-2] == "4 markets: /de/ EUR, /gb/ GBP, /us/ USD, /int/ EUR"


BROKEN = {
    "homepage.yaml": """\
- id: first
  when:
    contry: DE
  then:
    path: /{country}/
- id: second
  when:
    cart.value: {gtee: 5}
  then:
    path: /x/
- id: first
  then:
    path: /{country}/
- id: fourth
  when:
    visitor.orders: many
  then:
    path: //evil.example/
- id: fifth
  when:
    campaign.name: {matches: "(unclosed"}
  then:
    path: /{planet}/
    template: nope.html
- id: sixth
  schedule:
    every: {monthday: 32}
  then:
    path: /a/
- id: seventh
  schedule:
    timezone: Mars/Olympus
  then:
    path: /a/
- id: eighth
  then:
    pth: /a/
""",
    "popups.yaml": """\
- id: offer
  then:
    title: Hello
    products: [w-run-001, no-such-product]
  caps: {per_sesion: 1}
  split: {variants: {a: -5}}
""",
    "bogus.yaml": "- id: x\n  then: {}\n",
}

EXPECTED = [
    "bogus.yaml:1:1: unknown placement file",
    "homepage.yaml:3:5: unknown context key 'contry'; did you mean 'country'?",
    "homepage.yaml:8:18: unknown operator 'gtee'",
    "homepage.yaml:11:3: duplicate id 'first' (first at rules/homepage.yaml:1:3)",
    "homepage.yaml:16:21: 'visitor.orders' takes a number, got text",
    "homepage.yaml:18:11: '//evil.example/' must be a path on this site",
    "homepage.yaml:21:30: bad pattern '(unclosed'",
    "homepage.yaml:23:11: unknown placeholder {planet} in path",
    "homepage.yaml:24:15: unknown template 'nope.html'",
    "homepage.yaml:27:23: `monthday` takes whole numbers 1-31",
    "homepage.yaml:32:15: unknown time zone 'Mars/Olympus'",
    "homepage.yaml:37:5: unknown homepage field 'pth'; did you mean 'path'?",
    "homepage.yaml:37:5: `then` needs `path` for a homepage rule",
    "popups.yaml:4:27: product 'no-such-product' is not in the catalog",
    "popups.yaml:5:10: unknown cap 'per_sesion'; did you mean 'per_session'?",
    "popups.yaml:6:25: a weight cannot be negative",
]


def test_every_error_with_its_real_position(in_tmp: Path) -> None:
    folder = in_tmp / "rules"
    folder.mkdir()
    for name, text in BROKEN.items():
        (folder / name).write_text(text)
    code, lines = run_check("rules")
    assert code == 1
    errors = [line for line in lines if line.startswith("rules/")]
    for expected in EXPECTED:
        assert any(line.startswith("rules/" + expected) for line in errors), (expected, errors)
    assert len(errors) == len(EXPECTED), errors


def test_yaml_syntax_error_has_position(in_tmp: Path) -> None:
    folder = in_tmp / "rules"
    folder.mkdir()
    (folder / "homepage.yaml").write_text("- id: a\n  then:\n    path: [/a/\n")
    code, lines = run_check("rules")
    assert code == 1
    assert lines[0].startswith("rules/homepage.yaml:4:1: YAML syntax:"), lines


def test_duplicate_yaml_key_is_an_error(in_tmp: Path) -> None:
    folder = in_tmp / "rules"
    folder.mkdir()
    (folder / "homepage.yaml").write_text("- id: a\n  then:\n    path: /a/\n    path: /b/\n")
    code, lines = run_check("rules")
    assert code == 1
    assert lines[0] == "rules/homepage.yaml:4:5: duplicate key 'path'", lines


def test_missing_folder(in_tmp: Path) -> None:
    code, lines = run_check("nowhere")
    assert code == 1
    assert "rules folder not found" in lines[0]


def test_valid_folder_summary(in_tmp: Path) -> None:
    folder = in_tmp / "rules"
    folder.mkdir()
    (folder / "homepage.yaml").write_text("- id: a\n  when: {country: DE}\n  then: {path: /de/}\n")
    code, lines = run_check("rules")
    assert code == 0
    assert lines == [
        "no markets declared: each country has a store of its own (/de/, /fr/, ...)",
        "ok: 1 rules in 1 files, 1 placements",
    ]


CASES = yaml.safe_load((Path(__file__).parent / "cases" / "check_errors.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_check_case(in_tmp: Path, case: dict[str, Any]) -> None:
    """The rule-error case table (tests/cases/check_errors.yaml), through the real command."""
    folder = in_tmp / "rules"
    folder.mkdir()
    for name, text in case["files"].items():
        (folder / name).write_text(text)
    args = case.get("args")
    if args is None:
        args = ["--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)]
    result = CliRunner().invoke(main, ["check", "rules", *args], env={"SHOPWINDOW_CONFIG": ""})
    lines = result.output.splitlines()
    reported = [
        line
        for line in lines
        if not re.match(r"ok: |\d+ error\(s\) in |no markets declared|\d+ markets: ", line)
    ]
    assert result.exit_code == (1 if case["expected"] else 0), result.output
    for want in case["expected"]:
        assert any(line.startswith(want) for line in reported), (want, lines)
    assert len(reported) == len(case["expected"]), lines
