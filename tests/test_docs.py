"""Docs are tested: every rule example passes `shopwindow check`, settings docs match the code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopwindow import settings as settings_mod
from shopwindow.cli.main import main
from tests.conftest import DEMO_CATALOG, DEMO_RULES, PROJECT_ROOT, TEMPLATES

DOCS = PROJECT_ROOT / "docs"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
HEADER = re.compile(r"^# rules/([\w.-]+\.yaml)\s*$")


def rule_examples() -> list[tuple[str, int, str, str]]:
    out = []
    for doc in sorted(DOCS.glob("*.md")):
        text = doc.read_text()
        for m in BLOCK.finditer(text):
            block = m.group(1)
            first = block.splitlines()[0] if block else ""
            header = HEADER.match(first)
            line = text[: m.start()].count("\n") + 1
            out.append((doc.name, line, header.group(1) if header else "", block))
    return out


EXAMPLES = rule_examples()


def test_docs_have_rule_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(
    ("doc", "line", "file", "block"), EXAMPLES, ids=[f"{e[0]}:{e[1]}" for e in EXAMPLES]
)
def test_rule_example_passes_check(
    tmp_path: Path, doc: str, line: int, file: str, block: str
) -> None:
    assert file, (
        f"{doc}:{line}: a yaml example must start with '# rules/<file>.yaml' naming its file"
    )
    folder = tmp_path / "rules"
    folder.mkdir()
    for data in ("synonyms.yaml", "posts.yaml", "pairings.yaml"):
        if (DEMO_RULES / data).exists() and data != file:
            shutil.copy(DEMO_RULES / data, folder / data)
    (folder / file).write_text(block)
    result = CliRunner().invoke(
        main,
        ["check", str(folder), "--catalog", str(DEMO_CATALOG), "--templates", str(TEMPLATES)],
        env={"SHOPWINDOW_CONFIG": ""},
    )
    assert result.exit_code == 0, f"{doc}:{line}:\n{result.output}"


def test_settings_doc_matches_declarations() -> None:
    assert (DOCS / "settings.md").read_text() == settings_mod.markdown(), (
        "docs/settings.md is stale: run `shopwindow docs settings > docs/settings.md`"
    )


def test_every_command_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in DOCS.glob("*.md")
    )
    missing = []
    for name, command in main.commands.items():
        sub = getattr(command, "commands", None)
        names = [f"shopwindow {name} {s}" for s in sub] if sub else [f"shopwindow {name}"]
        missing += [n for n in names if n not in readme]
    assert missing == []


def test_schema_is_valid_json_schema() -> None:
    import jsonschema
    import yaml

    from shopwindow.rules.schema import rule_file_schema

    schema = rule_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    from shopwindow.rules.thenspec import DATA_FILES

    for path in DEMO_RULES.glob("*.yaml"):
        if path.name in DATA_FILES:  # data beside the rules, not rule files
            continue
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path, errors[:1])
