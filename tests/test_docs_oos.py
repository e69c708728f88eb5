"""docs/recommendations.md: every rule example passes `shopwindow check`; the JSON example is real."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from shopwindow.cli.main import main
from shopwindow.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "recommendations.md"
BLOCK = re.compile(r"^```(yaml|json)\n(.*?)^```", re.S | re.M)
TARGET = re.compile(r"^# rules/([a-z-]+\.yaml)\n")


def blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == kind]


def test_the_doc_has_rule_examples_for_both_files() -> None:
    targets = [TARGET.match(body) for body in blocks("yaml")]
    assert all(targets), "every yaml example starts with '# rules/<file>.yaml'"
    names = {t.group(1) for t in targets if t}
    assert names == {"out-of-stock.yaml", "pairings.yaml"}


@pytest.mark.parametrize("example", blocks("yaml"))
def test_every_rule_example_passes_check(example: str, tmp_path: Path) -> None:
    match = TARGET.match(example)
    assert match is not None
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / match.group(1)).write_text(example)
    result = CliRunner().invoke(main, ["check", str(folder)])
    assert result.exit_code == 0, result.output


def test_the_json_example_has_the_shape_the_fragment_answers_with(
    make_client: Callable[..., TestClient],
) -> None:
    (example,) = blocks("json")
    shown = json.loads(example)
    real = make_client().get(
        "/_sw/fragments/recommendations",
        params={"product_id": shown["product_id"]},
        headers={"accept": "application/json"},
    )
    body = real.json()
    assert body.keys() == shown.keys()
    assert body["title"] == shown["title"] and body["in_stock"] == shown["in_stock"]
    first, shown_first = body["lists"][0], shown["lists"][0]
    assert first.keys() == shown_first.keys()
    assert (first["name"], first["title"]) == (shown_first["name"], shown_first["title"])
    assert first["products"][0] == shown_first["products"][0]
