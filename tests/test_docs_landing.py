"""docs/landing-pages.md is true: its rule examples pass check, its links land where it says."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from tests.conftest import DEMO_CATALOG, DEMO_RULES, PROJECT_ROOT, TEMPLATES

DOC = PROJECT_ROOT / "docs" / "landing-pages.md"
TEXT = DOC.read_text()
YAML = re.compile(r"```yaml\n(# rules/([\w.-]+\.yaml)\n.*?)```", re.S)
CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
ROW = re.compile(
    r"^\| `(https://shop\.example/[^`]+)` \| (`[\w-]+`|\(none\)) \| `([^`]+)` \|$", re.M
)


def line_of(match: re.Match[str]) -> int:
    return TEXT[: match.start()].count("\n") + 1


YAML_BLOCKS = [(line_of(m), m.group(2), m.group(1)) for m in YAML.finditer(TEXT)]
LINKS = [(m.group(1), m.group(2).strip("`"), m.group(3)) for m in ROW.finditer(TEXT)]
EXPLAINS = [
    (
        shlex.split(cmd.removeprefix("$ ")),
        re.findall(r"WINS  ([\w-]+)", out),
        re.findall(r"^ {8}(\w+: .+)$", out, re.M),
    )
    for block in CONSOLE.findall(TEXT)
    for cmd, out in re.findall(r"^(\$ shopwindow explain .*)\n((?:(?!\$ ).*\n)*)", block, re.M)
]


def test_the_doc_has_examples_of_each_kind() -> None:
    assert {file for _, file, _ in YAML_BLOCKS} == {"landing-pages.yaml", "synonyms.yaml"}
    assert len(YAML_BLOCKS) >= 5
    assert len(LINKS) >= 8
    assert len(EXPLAINS) >= 3
    assert "{keyword}" in TEXT and "{{campaign.name}}" in TEXT  # Google ValueTrack, Meta


@pytest.mark.parametrize(
    ("line", "file", "block"), YAML_BLOCKS, ids=[str(b[0]) for b in YAML_BLOCKS]
)
def test_rule_example_passes_check(tmp_path: Path, line: int, file: str, block: str) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    if file != "synonyms.yaml":
        shutil.copy(DEMO_RULES / "synonyms.yaml", folder / "synonyms.yaml")
    (folder / file).write_text(block)
    result = CliRunner().invoke(
        main,
        ["check", str(folder), "--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)],
        env={"SHOPWINDOW_CONFIG": ""},
    )
    assert result.exit_code == 0, f"docs/landing-pages.md:{line}:\n{result.output}"


@pytest.mark.parametrize(
    ("link", "rule", "landing"), LINKS, ids=[link[:80] for link, _, _ in LINKS]
)
def test_link_lands_where_the_doc_says(
    make_client: Callable[..., TestClient], link: str, rule: str, landing: str
) -> None:
    parts = urlsplit(link)
    response = make_client().get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert response.headers.get("x-shopwindow-rules", "(none)") == rule
    assert response.headers["x-shopwindow-landing"] == landing


@pytest.mark.parametrize(
    ("argv", "winners", "shows"), EXPLAINS, ids=[" ".join(a[2:3]) for a, _, _ in EXPLAINS]
)
def test_explain_examples(
    rules_dir: Path, argv: list[str], winners: list[str], shows: list[str]
) -> None:
    assert argv[0] == "shopwindow" and winners
    result = CliRunner().invoke(main, [*argv[1:], "--rules", str(rules_dir)])
    assert result.exit_code == 0, result.output
    assert re.findall(r"WINS  ([\w-]+)", result.output) == winners
    for shown in shows:
        assert shown in result.output
