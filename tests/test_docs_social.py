"""docs/social.md is true: its posts examples pass check, its links land where it says."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from tests.conftest import DEMO_CATALOG, DEMO_RULES, PROJECT_ROOT, TEMPLATES

DOC = PROJECT_ROOT / "docs" / "social.md"
TEXT = DOC.read_text()
YAML = re.compile(r"```yaml\n(# rules/([\w.-]+\.yaml)\n.*?)```", re.S)
ROW = re.compile(r"^\| `(https://shop\.example/[^`]+)` \| (`post\.[\w-]+`|\(none\)[^|]*) \|$", re.M)
GALLERY = re.compile(r"^\| `(/_sw/fragments/shoppable[^`]*)` \| ", re.M)

YAML_BLOCKS = [
    (TEXT[: m.start()].count("\n") + 1, m.group(2), m.group(1)) for m in YAML.finditer(TEXT)
]
LINKS = [(m.group(1), m.group(2)) for m in ROW.finditer(TEXT)]


def test_the_doc_has_examples_of_each_kind() -> None:
    assert {file for _, file, _ in YAML_BLOCKS} == {"posts.yaml"}
    assert len(YAML_BLOCKS) >= 2
    assert len(LINKS) >= 5
    assert len(GALLERY.findall(TEXT)) >= 4
    for network in ("Instagram", "TikTok", "Pinterest", "Facebook"):
        assert f"**{network}" in TEXT


@pytest.mark.parametrize(
    ("line", "file", "block"), YAML_BLOCKS, ids=[str(b[0]) for b in YAML_BLOCKS]
)
def test_posts_example_passes_check(tmp_path: Path, line: int, file: str, block: str) -> None:
    folder = tmp_path / "rules"
    # Without the files that name others relative to the demo folder (settings, markets).
    shutil.copytree(
        DEMO_RULES,
        folder,
        ignore=shutil.ignore_patterns("*.sqlite3*", "*.toml", "markets.yaml"),
    )
    (folder / file).write_text(block)
    result = CliRunner().invoke(
        main,
        ["check", str(folder), "--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)],
        env={"SHOPWINDOW_CONFIG": ""},
    )
    assert result.exit_code == 0, f"docs/social.md:{line}:\n{result.output}"


@pytest.mark.parametrize(("url", "lands"), LINKS, ids=[u for u, _ in LINKS])
def test_each_link_lands_where_the_doc_says(client: TestClient, url: str, lands: str) -> None:
    parts = urlsplit(url)
    answer = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert answer.status_code == 200
    rules = answer.headers.get("x-shopwindow-rules", "")
    if lands.startswith("`post."):
        assert rules == lands.strip("`")
    else:
        assert "post." not in rules
        assert answer.headers["x-shopwindow-landing"].startswith("best-sellers")


@pytest.mark.parametrize("path", GALLERY.findall(TEXT))
def test_each_gallery_address_answers(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200 and 'class="shoppable"' in answer.text
