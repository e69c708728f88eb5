"""Compiles a rule's `when` block into fast callables over the request context.

Pure: no I/O, no framework. A context is a flat mapping of dotted keys
(`country`, `visitor.orders`, `cart.categories`) to plain values.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, TypeVar

import re2

from shopwindow.rules.contextkeys import KEYS, suggest
from shopwindow.rules.errors import RuleError
from shopwindow.rules.vocabulary import FIXED, Vocabulary
from shopwindow.rules.yamlsrc import Node

Context = Mapping[str, Any]
ValueTest = Callable[[Any], bool]
ContextTest = Callable[[Context], bool]

OPERATORS = ("gte", "gt", "lte", "lt", "contains", "matches", "not", "any", "all", "exists", "in")
_MISSING = object()

# Keys whose values are normalised so marketers need not match case.
_UPPER = frozenset({"country"})
_LOWER = frozenset({"device", "channel", "weekday", "language", "visitor.gender", "product.gender"})


class CompileError(Exception):
    """One or more errors of a block; `error` is the first of `errors`."""

    def __init__(self, error: RuleError | Sequence[RuleError]) -> None:
        self.errors = [error] if isinstance(error, RuleError) else list(error)
        self.error = self.errors[0]
        super().__init__("\n".join(str(e) for e in self.errors))


T = TypeVar("T")
N = TypeVar("N")


def each(items: Iterable[N], compile_one: Callable[[N], T]) -> list[T]:
    """compile_one over every item; raises one CompileError with every item's errors."""
    done: list[T] = []
    errors: list[RuleError] = []
    for item in items:
        try:
            done.append(compile_one(item))
        except CompileError as exc:
            errors.extend(exc.errors)
    if errors:
        raise CompileError(errors)
    return done


@dataclass(frozen=True, slots=True)
class Condition:
    """One line of a `when` block, compiled; `text` is how explain shows it."""

    path: str | None  # None for a top-level any/all/not block
    text: str
    test: ContextTest
    # For indexing: the exact values this condition requires, when it is an equality test.
    equals: frozenset[Any] | None = None
    # The context keys an any/all/not block reads (the decision log records them).
    inner: tuple[str, ...] = ()

    def value(self, ctx: Context) -> Any:
        return ctx.get(self.path) if self.path else None

    @property
    def reads(self) -> tuple[str, ...]:
        """Every context key this condition looks at."""
        return (self.path,) if self.path else self.inner


@dataclass(frozen=True, slots=True)
class Options:
    timezone: tzinfo
    # The values an enumerated key can take: a value outside them can never match.
    known: Mapping[str, tuple[Vocabulary, ...]] = field(default_factory=lambda: FIXED)


def compile_when(node: Node | None, options: Options) -> list[Condition]:
    """Every condition of a `when` block; raises CompileError with every bad one."""
    if node is None or (node.kind == "scalar" and node.value is None):
        return []
    if node.kind != "map":
        raise CompileError(
            node.error(f"`when` must be a mapping of conditions, not {node.type_name}")
        )
    return each(node.entries, lambda entry: _compile_entry(entry[0], entry[1], options))


def _compile_entry(key: Node, value: Node, options: Options) -> Condition:
    name = str(key.value)
    if name in ("any", "all"):
        if value.kind != "list" or not value.items:
            raise CompileError(value.error(f"`{name}` takes a list of condition blocks"))
        blocks = each(value.items, lambda item: compile_when(item, options))
        tests = [_all_of([c.test for c in block]) for block in blocks]
        text = f"{name} of {len(tests)} blocks"
        reads = _reads(c for block in blocks for c in block)
        if name == "any":
            return Condition(None, text, _any_of(tests), inner=reads)
        return Condition(None, text, _all_of(tests), inner=reads)
    if name == "not":
        negated = compile_when(value, options)
        inner = _all_of([c.test for c in negated])
        return Condition(None, "not {...}", lambda ctx: not inner(ctx), inner=_reads(negated))
    if name not in KEYS:
        hint = suggest(name)
        more = f"; did you mean {hint!r}?" if hint else ""
        raise CompileError(key.error(f"unknown context key {name!r}{more}"))
    test, text, equals = _compile_value(name, value, options)
    path = name

    def check(ctx: Context) -> bool:
        return test(ctx.get(path))

    return Condition(path, f"{path} {text}", check, equals)


def _reads(conditions: Iterable[Condition]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(key for c in conditions for key in c.reads))


def _compile_value(
    path: str, node: Node, options: Options
) -> tuple[ValueTest, str, frozenset[Any] | None]:
    """A test on one context value, its description, and the values it equals (for the index)."""
    kind = KEYS[path].type
    if node.kind == "scalar":
        want = _operand(path, node, options)
        if kind == "list":
            return (lambda v: v is not None and want in v), f"contains {want!r}", None
        return (lambda v: v == want), f"= {want!r}", frozenset([want])
    if node.kind == "list":
        wants = frozenset(each(node.items, lambda item: _operand(path, item, options)))
        if not wants:
            raise CompileError(node.error("an empty list matches nothing"))
        if kind == "list":
            return (lambda v: v is not None and not wants.isdisjoint(v)), _any_text(wants), None
        return (lambda v: v in wants), f"in {sorted(map(str, wants))}", wants

    def compile_op(entry: tuple[Node, Node]) -> tuple[ValueTest, str, frozenset[Any] | None]:
        op_node, arg = entry
        op = str(op_node.value)
        if op not in OPERATORS:
            raise CompileError(
                op_node.error(f"unknown operator {op!r}; use one of: {', '.join(OPERATORS)}")
            )
        return _compile_operator(path, kind, op, arg, options)

    compiled = each(node.entries, compile_op)
    tests = [test for test, _, _ in compiled]
    texts = [text for _, text, _ in compiled]
    equals: frozenset[Any] | None = None
    for _, _, op_equals in compiled:
        equals = op_equals if equals is None else equals
    if not tests:
        raise CompileError(node.error(f"no condition given for {path!r}"))
    return _all_values(tests), " and ".join(texts), equals


def _compile_operator(
    path: str, kind: str, op: str, arg: Node, options: Options
) -> tuple[ValueTest, str, frozenset[Any] | None]:
    if op in ("gte", "gt", "lte", "lt"):
        if kind not in ("number", "time"):
            raise CompileError(arg.error(f"`{op}` compares numbers or times; {path!r} is {kind}"))
        bound = _operand(path, arg, options)
        return _comparison(op, bound), f"{op} {bound}", None
    if op == "in":
        if arg.kind != "list":
            raise CompileError(arg.error("`in` takes a list"))
        return _compile_value(path, arg, options)
    if op == "contains":
        if kind not in ("list", "text"):
            raise CompileError(arg.error(f"`contains` works on lists and text; {path!r} is {kind}"))
        items = arg.items if arg.kind == "list" else [arg]
        # A text's `contains` looks for a part of it: only a list's entries are whole values.
        wants = frozenset(
            each(
                items,
                lambda item: _operand(path, item, options, as_text=True, whole=kind == "list"),
            )
        )
        if kind == "list":
            return (
                (lambda v: bool(v) and not wants.isdisjoint(v)),
                f"contains {_any_text(wants)}",
                None,
            )
        lowered = tuple(w.lower() for w in wants)
        return (
            lambda v: isinstance(v, str) and any(w in v.lower() for w in lowered),
            f"contains {_any_text(wants)}",
            None,
        )
    if op == "matches":
        return _compile_matches(path, kind, arg)
    if op == "exists":
        if not isinstance(arg.value, bool) or arg.kind != "scalar":
            raise CompileError(arg.error("`exists` takes true or false"))
        want_present = arg.value
        return (lambda v: _present(v) is want_present), f"exists {want_present}", None
    if op == "not":
        inner, text, _ = _compile_value(path, arg, options)
        return (lambda v: not inner(v)), f"not ({text})", None
    # any / all over value conditions
    if arg.kind != "list" or not arg.items:
        raise CompileError(arg.error(f"`{op}` takes a list of conditions"))
    parts = each(arg.items, lambda item: _compile_value(path, item, options))
    tests = [p[0] for p in parts]
    text = f"{op}({'; '.join(p[1] for p in parts)})"
    if op == "any":
        return (lambda v: any(t(v) for t in tests)), text, None
    return _all_values(tests), text, None


# re2 runs in time linear in the text, so a slow pattern cannot backtrack; the text
# itself is cut to this many characters, so no visitor-sized input makes one test slow.
MAX_MATCH_CHARS = 2048


def _compile_matches(path: str, kind: str, arg: Node) -> tuple[ValueTest, str, None]:
    if kind not in ("text", "list"):
        raise CompileError(arg.error(f"`matches` works on text; {path!r} is {kind}"))
    if arg.kind != "scalar" or not isinstance(arg.value, str):
        raise CompileError(arg.error("`matches` takes a pattern as text"))
    opts = re2.Options()
    opts.case_sensitive = False
    opts.max_mem = 1 << 20  # a pattern that needs more is refused, not run
    opts.log_errors = False
    try:
        pattern = re2.compile(arg.value, opts)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise CompileError(arg.error(f"bad pattern {arg.value!r}: {reason}")) from None
    search = pattern.search
    cut = MAX_MATCH_CHARS
    if kind == "list":
        return (
            lambda v: bool(v) and any(isinstance(x, str) and search(x[:cut]) for x in v),
            f"matches /{arg.value}/",
            None,
        )
    return (
        (lambda v: isinstance(v, str) and search(v[:cut]) is not None),
        f"matches /{arg.value}/",
        None,
    )


def _comparison(op: str, bound: Any) -> ValueTest:
    compare = _COMPARE[op]

    # Missing or incomparable values never match, so a rule on cart.value is
    # simply skipped for a visitor with no cart.
    def test(v: Any) -> bool:
        if v is None or isinstance(v, bool):
            return False
        try:
            return bool(compare(v, bound))
        except TypeError:
            return False

    return test


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}


def _operand(
    path: str, node: Node, options: Options, *, as_text: bool = False, whole: bool = True
) -> Any:
    """A literal from the rule file, checked and normalised for the key it is compared to.

    A `whole` value (not a part of a text) must be one the key can take.
    """
    if node.kind != "scalar":
        raise CompileError(node.error(f"expected a value for {path!r}, got {node.type_name}"))
    kind = KEYS[path].type
    value = node.value
    if kind in ("text", "list") or as_text:
        if isinstance(value, bool) or value is None or isinstance(value, float):
            raise CompileError(node.error(f"{path!r} takes text, got {node.type_name}"))
        text = str(value)
        if path in _UPPER:
            text = text.upper()
        elif path in _LOWER:
            text = text.lower()
        if whole:
            for vocabulary in options.known.get(path, ()):
                if (why := vocabulary.refuse(text)) is not None:
                    raise CompileError(node.error(f"{path!r}: {why}"))
        return text
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CompileError(node.error(f"{path!r} takes a number, got {node.type_name}"))
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise CompileError(node.error(f"{path!r} takes true or false, got {node.type_name}"))
        return value
    if kind == "time":
        return parse_time(node, options.timezone)
    raise CompileError(node.error(f"{path!r} cannot be tested"))  # pragma: no cover


def parse_time(node: Node, tz: tzinfo) -> datetime:
    """ISO date or date-time; without an offset it is in the shop's time zone."""
    text = str(node.value) if node.value is not None else ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CompileError(
            node.error(f"{text!r} is not a date or time (use 2026-11-17 or 2026-11-17T09:00)")
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != ()


def _any_text(values: frozenset[Any]) -> str:
    return "any of " + ", ".join(sorted(map(str, values)))


def _all_values(tests: list[ValueTest]) -> ValueTest:
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


def _all_of(tests: list[ContextTest]) -> ContextTest:
    if not tests:
        return lambda ctx: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda ctx: a(ctx) and b(ctx)
    if len(tests) == 3:
        a, b, c = tests
        return lambda ctx: a(ctx) and b(ctx) and c(ctx)
    return lambda ctx: all(t(ctx) for t in tests)


def _any_of(tests: list[ContextTest]) -> ContextTest:
    return lambda ctx: any(t(ctx) for t in tests)


all_of = _all_of
