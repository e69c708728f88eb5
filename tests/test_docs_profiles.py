"""docs/profiles.md and docs/operations.md: every rule example passes `shopwindow check`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopwindow.cli.main import main
from shopwindow.settings import PROJECT_ROOT
from tests.conftest import SECRET

DOCS = [PROJECT_ROOT / "docs" / "profiles.md", PROJECT_ROOT / "docs" / "operations.md"]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
_TARGET = re.compile(r"^# rules/([a-z-]+\.yaml)\n")


def examples() -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in _BLOCK.finditer(text):
            line = text[: m.start()].count("\n") + 1
            out.append((doc.name, line, m.group(1)))
    return out


def test_the_profile_doc_has_rule_examples() -> None:
    assert sum(1 for name, _, _ in examples() if name == "profiles.md") >= 3


@pytest.mark.parametrize(("doc", "line", "block"), examples())
def test_rule_example_passes_check(doc: str, line: int, block: str, rules_dir: Path) -> None:
    target = _TARGET.match(block)
    assert target, f"{doc}:{line}: a yaml example starts with '# rules/<placement>.yaml'"
    (rules_dir / target.group(1)).write_text(block, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(rules_dir)], env={"SHOPWINDOW_SECRET": SECRET})
    assert result.exit_code == 0, f"{doc}:{line}:\n{result.output}"


def test_commands_and_settings_of_the_profile_store_are_documented() -> None:
    text = "".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    for needle in (
        "shopwindow import purchases",
        "shopwindow profile show",
        "shopwindow profile forget",
        "--map",
        "redis_timeout_ms",
        "profile_cache_seconds",
        "profile_flush_ms",
        "--profile-db",
        "--redis",
        "VACUUM INTO",
        ".backup",
        "maxmemory-policy noeviction",
        'shopwindow_degraded_total{part="profiles"}',
    ):
        assert needle in text, needle
    settings_md = (PROJECT_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name in ("redis_timeout_ms", "profile_cache_seconds", "profile_flush_ms"):
        assert f"`{name}`" in settings_md
