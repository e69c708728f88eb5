"""docs/experiments.md stays true: its rule examples pass `shopwindow check`, its settings exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopwindow import settings as settings_mod
from shopwindow.cli.main import main
from shopwindow.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "experiments.md"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
FILE_LINE = re.compile(r"^# rules/([\w-]+\.yaml)\n")
EXPERIMENT_SETTINGS = (
    "attribution_hours",
    "stats_flush_seconds",
    "stats_retention_days",
    "stats_min_visitors",
    "stats_confidence",
    "decision_log_rate",
    "decision_log_size",
    "decision_log_days",
    "stats_token",
)


def yaml_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_the_guide_has_rule_examples() -> None:
    assert len(yaml_blocks()) >= 2


@pytest.mark.parametrize("block", yaml_blocks())
def test_each_rule_example_passes_check(block: str, tmp_path: Path) -> None:
    named = FILE_LINE.match(block)
    assert named, "start each example with the file it belongs in: # rules/homepage.yaml"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / named.group(1)).write_text(block)
    result = CliRunner().invoke(
        main, ["check", str(rules), "--catalog", str(PROJECT_ROOT / "demo" / "catalog.jsonl")]
    )
    assert result.exit_code == 0, result.output


def test_the_demo_rules_pass_check() -> None:
    result = CliRunner().invoke(main, ["check", str(PROJECT_ROOT / "rules")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", EXPERIMENT_SETTINGS)
def test_experiment_settings_are_declared_and_documented(name: str) -> None:
    assert name in settings_mod.BY_NAME
    assert f"| `{name}` |" in DOC.read_text()


def test_settings_reference_is_generated_from_the_declarations() -> None:
    committed = (PROJECT_ROOT / "docs" / "settings.md").read_text()
    assert committed == settings_mod.markdown(), "run: shopwindow docs settings > docs/settings.md"


@pytest.mark.parametrize("command", ["stats", "decisions"])
def test_the_commands_are_documented(command: str) -> None:
    assert f"shopwindow {command}" in DOC.read_text()
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0


def test_the_endpoints_are_documented() -> None:
    text = DOC.read_text()
    for path in ("/_sw/stats", "/_sw/stats/report", "/_sw/stats/decisions"):
        assert f"`GET {path}" in text
