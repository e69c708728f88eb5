"""docs/popups.md: every YAML example passes `shopwindow check`; every field and setting is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopwindow.cli.main import main
from shopwindow.rules.thenspec import SPECS
from shopwindow.settings import PROJECT_ROOT
from tests.conftest import DEMO_CATALOG, TEMPLATES

DOC = PROJECT_ROOT / "docs" / "popups.md"
TEXT = DOC.read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", TEXT, re.S)
SCRIPT = (PROJECT_ROOT / "src" / "shopwindow" / "static" / "sw.js").read_text()


def test_the_doc_has_rule_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_each_yaml_example_passes_check(tmp_path: Path, block: str) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "popups.yaml").write_text(block)
    args = ["check", str(folder), "--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)]
    result = CliRunner().invoke(main, args, env={"SHOPWINDOW_SECRET": "x"})
    assert result.exit_code == 0, result.output


def test_the_demo_rules_are_the_documented_ones() -> None:
    demo = (PROJECT_ROOT / "rules" / "popups.yaml").read_text()
    for rule_id in ("bag-discount", "first-order", "cart-reminder", "search-nudge"):
        documented = next(b for b in BLOCKS if f"- id: {rule_id}\n" in b)
        start = documented.index(f"- id: {rule_id}\n")
        rule = documented[start:].split("\n\n")[0].strip()
        assert rule in demo, rule_id


def test_every_popup_field_is_documented() -> None:
    for name in SPECS["popups"].fields:
        assert f"| `{name}`" in TEXT, name


def test_every_script_setting_is_documented() -> None:
    defaults = SCRIPT[SCRIPT.index("var defaults = {") : SCRIPT.index("};")]
    names = re.findall(r"^\s+(\w+):", defaults, re.M)
    assert len(names) >= 9
    for name in names:
        assert f"`{name}`" in TEXT, name
