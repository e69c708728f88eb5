"""Reads a rules folder: one YAML file per placement, compiled into a RuleSet."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from shopwindow.drops import check_teasers
from shopwindow.errors import RuleError
from shopwindow.keywords import read_synonyms
from shopwindow.markets import read_markets
from shopwindow.pairings import read_pairings
from shopwindow.posts import check_catalog, read_posts
from shopwindow.rules import Placement, Rule, RuleSet, compile_rules
from shopwindow.thenspec import DATA_FILES, SPECS, CheckEnv, ProductLookup
from shopwindow.yamlsrc import Node, parse

# Readers for the data files that live beside the rules (synonyms, posts):
# each turns its parsed file into a value for RuleSet.data, or errors.
DataReader = Callable[[Node | None, CheckEnv], tuple[Any, list[RuleError]]]
DATA_READERS: dict[str, DataReader] = {
    "synonyms": read_synonyms,
    "pairings": read_pairings,
    "posts": read_posts,
    "markets": read_markets,
}
# Checks that need the whole rule set (one rule naming another), run after compiling.
RULESET_CHECKS: list[Callable[[RuleSet], list[RuleError]]] = [check_teasers]
# Checks `shopwindow check` runs against the feed it is given, and a running shop does
# not: what only a feed change breaks (a post's product leaving the feed) must never
# stop the next feed from loading.
CATALOG_CHECKS: list[Callable[[RuleSet, ProductLookup], list[RuleError]]] = [check_catalog]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the folder looked like when read: (name, size, mtime) of each file."""

    files: tuple[tuple[str, int, int], ...]


def fingerprint(folder: str | os.PathLike[str]) -> Fingerprint:
    entries = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.endswith((".yaml", ".yml", ".toml")) and entry.is_file():
                    st = entry.stat()
                    entries.append((entry.name, st.st_size, st.st_mtime_ns))
    except OSError:
        pass
    return Fingerprint(tuple(sorted(entries)))


def rule_files(folder: str | os.PathLike[str]) -> list[Path]:
    root = Path(folder)
    return sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rules(
    folder: str | os.PathLike[str], timezone: tzinfo, env: CheckEnv | None = None
) -> tuple[RuleSet, list[RuleError]]:
    """Compile every rule file; returns the rules that compiled and every error found."""
    env = env or CheckEnv()
    root = Path(folder)
    if not root.is_dir():
        return RuleSet({}), [RuleError(str(root), 1, 1, "rules folder not found")]
    errors: list[RuleError] = []
    by_placement: dict[str, list[Rule]] = {}
    data: dict[str, Any] = {}
    seen_ids: dict[str, str] = {}
    order = 0
    files = rule_files(root)
    for path in files:
        shown = _shown(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(RuleError(shown, 1, 1, f"cannot read file: {exc}"))
            continue
        node, parse_errors = parse(text, shown)
        errors.extend(parse_errors)
        if parse_errors:
            continue
        if path.name in DATA_FILES or path.stem in DATA_READERS:
            reader = DATA_READERS.get(path.stem)
            if reader is not None:
                value, data_errors = reader(node, env)
                errors.extend(data_errors)
                data[path.stem] = value
            continue
        spec = SPECS.get(path.stem)
        if spec is None:
            known = ", ".join(f"{name}.yaml" for name in sorted(SPECS))
            errors.append(RuleError(shown, 1, 1, f"unknown placement file; rule files are {known}"))
            continue
        errors.extend(_duplicate_ids(node, seen_ids))
        rules, rule_errors = compile_rules(
            node, placement=spec, timezone=timezone, env=env, first_order=order
        )
        order += len(rules) + 1000
        errors.extend(rule_errors)
        by_placement.setdefault(spec.name, []).extend(rules)
    placements: Mapping[str, Placement] = {
        name: Placement.build(name, rules) for name, rules in by_placement.items()
    }
    ruleset = RuleSet(placements, tuple(_shown(p) for p in files), data)
    for check in RULESET_CHECKS:
        errors.extend(check(ruleset))
    return ruleset, sorted(errors)


def _duplicate_ids(root: Node | None, seen: dict[str, str]) -> list[RuleError]:
    """Rule ids are unique across all files: counts and explain name rules by id."""
    errors = []
    for item in root.items if root is not None and root.kind == "list" else []:
        id_node = item.get("id") if item.kind == "map" else None
        if id_node is None or id_node.kind != "scalar" or id_node.value is None:
            continue
        rule_id = str(id_node.value)
        where = f"{item.file}:{item.line}:{item.column}"
        if rule_id in seen:
            errors.append(item.error(f"duplicate id {rule_id!r} (first at {seen[rule_id]})"))
        else:
            seen[rule_id] = where
    return errors


def _shown(path: Path) -> str:
    """A path as a marketer's editor shows it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
