"""Reads a rules folder: one YAML file per placement, compiled into a RuleSet."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from shopwindow.rules.drops import check_teasers
from shopwindow.rules.errors import RuleError
from shopwindow.rules.keywords import read_synonyms
from shopwindow.rules.markets import read_markets
from shopwindow.rules.pairings import read_pairings
from shopwindow.rules.posts import check_catalog, read_posts
from shopwindow.rules.rules import Placement, Rule, RuleSet, compile_rules
from shopwindow.rules.thenspec import DATA_FILES, SPECS, CheckEnv, ProductLookup
from shopwindow.rules.yamlsrc import Node, parse

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


# The largest rule file read when nothing else is set (settings: rule_file_max_bytes).
# A file many times this size is a mistake (an export, a log pasted in), and parsing
# it would hold a worker for seconds and gigabytes.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
RULE_SUFFIXES = (".yaml", ".yml")
WATCHED_SUFFIXES = (*RULE_SUFFIXES, ".toml")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the folder looked like when read: (name, size, mtime) of each file.

    `skipped` names the files that cannot be read as rules (a symbolic link loop, a
    dangling link, a pipe, an unreadable file) with why; `folder` is the folder the
    path led to (a symlinked rules folder flipped to a new version changes it).
    """

    files: tuple[tuple[str, int, int], ...]
    skipped: tuple[str, ...] = ()
    folder: str = ""


def fingerprint(folder: str | os.PathLike[str]) -> Fingerprint:
    """One look at the folder; never blocks on a file and never stops at a bad one."""
    real = os.path.realpath(folder)
    try:
        with os.scandir(real) as it:
            entries = sorted(it, key=lambda entry: entry.name)
    except OSError:
        return Fingerprint((), (), real)
    files: list[tuple[str, int, int]] = []
    skipped: list[str] = []
    for entry in entries:
        if not entry.name.endswith(WATCHED_SUFFIXES):
            continue
        try:
            st = os.stat(entry.path)  # follows links: a loop or a dangling one fails here
        except OSError as exc:
            skipped.append(f"{entry.name}: {_unreadable(entry, exc)}")
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if not stat.S_ISREG(st.st_mode):
            # Reading a named pipe waits for a writer that may never come.
            skipped.append(f"{entry.name}: not a regular file (a pipe, socket or device)")
        elif not os.access(entry.path, os.R_OK):
            skipped.append(f"{entry.name}: not readable (permissions)")
        else:
            files.append((entry.name, st.st_size, st.st_mtime_ns))
    return Fingerprint(tuple(files), tuple(skipped), real)


def _unreadable(entry: os.DirEntry[str], exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT and entry.is_symlink():
        try:
            target = os.readlink(entry.path)
        except OSError:
            target = "?"
        return f"symbolic link to a missing file ({target})"
    return exc.strerror or str(exc)


def rule_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The readable rule files of folder, in name order (skipped ones left out)."""
    seen = fingerprint(folder)
    return [Path(seen.folder, name) for name, _, _ in seen.files if name.endswith(RULE_SUFFIXES)]


def read_rule_file(path: Path, size: int, max_bytes: int) -> str:
    """The file's text, refused before it is parsed when larger than max_bytes."""
    if size > max_bytes:
        raise _TooLarge(size, max_bytes)
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)  # it may have grown since it was looked at
    if len(data) > max_bytes:
        raise _TooLarge(len(data), max_bytes)
    return data.decode("utf-8")


class _TooLarge(Exception):
    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(
            f"this file is {size:,} bytes, more than the {max_bytes:,} a rule file may have "
            "(setting rule_file_max_bytes); it was not read"
        )


def load_rules(
    folder: str | os.PathLike[str],
    timezone: tzinfo,
    env: CheckEnv | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
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
    seen = fingerprint(root)
    files = [
        (Path(seen.folder, name), size)
        for name, size, _ in seen.files
        if name.endswith(RULE_SUFFIXES)
    ]
    for path, size in files:
        shown = _shown(path)
        try:
            text = read_rule_file(path, size, max_bytes)
        except _TooLarge as exc:
            errors.append(RuleError(shown, 1, 1, str(exc)))
            continue
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
    ruleset = RuleSet(placements, tuple(_shown(p) for p, _ in files), data)
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
