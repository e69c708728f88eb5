"""YAML read with positions, so every rule error can name its file, line and column."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from shopwindow.rules.errors import RuleError

try:  # the C parser is several times faster; fall back when libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass(slots=True)
class Node:
    """One YAML value with where it stands (1-based line and column)."""

    file: str
    line: int
    column: int
    value: Any  # str | int | float | bool | None for scalars
    kind: str  # "scalar" | "map" | "list"
    entries: list[tuple[Node, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)

    def error(self, message: str) -> RuleError:
        return RuleError(self.file, self.line, self.column, message)

    def plain(self) -> Any:
        if self.kind == "map":
            return {k.value: v.plain() for k, v in self.entries}
        if self.kind == "list":
            return [item.plain() for item in self.items]
        return self.value

    def get(self, key: str) -> Node | None:
        for k, v in self.entries:
            if k.value == key:
                return v
        return None

    def key_nodes(self) -> Iterator[Node]:
        for k, _ in self.entries:
            yield k

    def unknown_key(self, allowed: Collection[str], what: str) -> RuleError | None:
        """The first key not in `allowed`, as an error with a 'did you mean' hint."""
        for key in self.key_nodes():
            if key.value not in allowed:
                close = difflib.get_close_matches(str(key.value), list(allowed), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                known = ", ".join(sorted(allowed))
                return key.error(f"unknown {what} {key.value!r}; {hint}known: {known}")
        return None

    @property
    def type_name(self) -> str:
        if self.kind == "map":
            return "a mapping"
        if self.kind == "list":
            return "a list"
        return _scalar_type_name(self.value)


def _scalar_type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "text"


_constructor = yaml.constructor.SafeConstructor()

# A rule file nests a few levels and holds a few thousand values. YAML aliases
# can make a short file stand for billions of values ("billion laughs") or for
# a value that contains itself: both are refused before they are walked. A file
# written out holds at most one value per two characters, so only aliases can
# take a file past MAX_VALUES plus that (the file's size is bounded before this).
MAX_DEPTH = 64
MAX_VALUES = 200_000


class _Refused(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def parse(text: str, file: str) -> tuple[Node | None, list[RuleError]]:
    """Parse one YAML document into positioned nodes; syntax errors become RuleErrors."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [RuleError(file, line, col, f"YAML syntax: {problem}")]
    except yaml.YAMLError as exc:
        return None, [RuleError(file, 1, 1, f"YAML syntax: {exc}")]
    if root is None:
        return None, []
    errors: list[RuleError] = []
    try:
        return _Converter(file, errors, MAX_VALUES + len(text) // 2).convert(root, []), errors
    except _Refused as refused:
        mark = refused.node.start_mark
        return None, [RuleError(file, mark.line + 1, mark.column + 1, refused.message)]


class _Converter:
    """Walks the composed YAML once, counting values and watching for self-reference."""

    def __init__(self, file: str, errors: list[RuleError], most: int = MAX_VALUES) -> None:
        self.file = file
        self.errors = errors
        self.most = most
        self.left = most

    def convert(self, node: yaml.Node, parents: list[yaml.Node]) -> Node:
        self.left -= 1
        if self.left < 0:
            raise _Refused(
                node,
                f"this file stands for more than {self.most:,} values (aliases repeat "
                "their anchor's value each time); write the values out or use fewer aliases",
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if any(parent is node for parent in parents):
                raise _Refused(node, "this anchored value contains an alias to itself")
            if len(parents) >= MAX_DEPTH:
                raise _Refused(node, f"values nested more than {MAX_DEPTH} levels deep")
        file, errors = self.file, self.errors
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.MappingNode):
            out = Node(file, line, col, None, "map")
            seen: set[Any] = set()
            parents.append(node)
            for key_node, value_node in node.value:
                key = self.convert(key_node, parents)
                if key.kind != "scalar":
                    errors.append(key.error("a key must be plain text"))
                    continue
                if key.value in seen:
                    errors.append(key.error(f"duplicate key {key.value!r}"))
                    continue
                seen.add(key.value)
                out.entries.append((key, self.convert(value_node, parents)))
            parents.pop()
            return out
        if isinstance(node, yaml.SequenceNode):
            out = Node(file, line, col, None, "list")
            parents.append(node)
            out.items = [self.convert(item, parents) for item in node.value]
            parents.pop()
            return out
        return _scalar(node, file, line, col, errors)


def _scalar(node: yaml.Node, file: str, line: int, col: int, errors: list[RuleError]) -> Node:
    try:
        value = _constructor.construct_object(node)
    except yaml.constructor.ConstructorError as exc:
        errors.append(RuleError(file, line, col, f"cannot read value: {exc.problem}"))
        value = None
    if hasattr(value, "isoformat"):  # YAML dates/timestamps: keep the text, schedules parse it
        value = str(node.value)
    return Node(file, line, col, value, "scalar")
