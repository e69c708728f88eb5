"""Rules compiled for fast matching: first match by priority then file order, indexed."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from shopwindow.rules.conditions import (
    CompileError,
    Condition,
    Context,
    ContextTest,
    Options,
    all_of,
    compile_when,
)
from shopwindow.rules.errors import RuleError
from shopwindow.rules.pathtemplate import compile_paths
from shopwindow.rules.schedule import Schedule, compile_schedule
from shopwindow.rules.thenspec import CheckEnv, PlacementSpec
from shopwindow.rules.vocabulary import vocabularies
from shopwindow.rules.yamlsrc import Node

RULE_FIELDS = ("id", "when", "then", "schedule", "split", "caps", "priority", "enabled", "note")
CAP_FIELDS = ("per_session", "per_day", "per_visitor", "after_dismiss_days")
BUCKETS = 10_000
HOLDOUT = "holdout"  # the variant name X-Shopwindow-Rules and the stats give held-out visitors
CONTROL = "\x00control"  # never a variant's name: the control arm, asked for by name


class ControlArms(dict[str, str]):
    """Remembered variants of a crawler: the control arm of every split, never remembered."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> str:
        return CONTROL

    def __bool__(self) -> bool:
        return True  # empty, yet it answers for every rule


CRAWLER_ARMS: Mapping[str, str] = ControlArms()


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: float
    then: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Split:
    """Variants by weight plus a holdout share, bucketed by a hash of (seed, visitor id)."""

    seed: str
    variants: tuple[Variant, ...]
    holdout: float  # percent of visitors who get what they would get without the rule
    _bounds: tuple[int, ...] = ()

    @staticmethod
    def build(seed: str, variants: Sequence[Variant], holdout: float) -> Split:
        total = sum(v.weight for v in variants)
        bounds, acc = [], 0.0
        for v in variants:
            acc += v.weight
            bounds.append(round(acc / total * BUCKETS))
        return Split(seed, tuple(variants), holdout, tuple(bounds))

    def bucket(self, visitor_id: str) -> Variant | None:
        """The visitor's variant, or None when they are held out."""
        if self.holdout and bucket_of(self.seed + ":holdout", visitor_id) < self.holdout * 100:
            return None
        point = bucket_of(self.seed, visitor_id)
        for variant, bound in zip(self.variants, self._bounds, strict=True):
            if point < bound:
                return variant
        return self.variants[-1]

    def variant(self, name: str) -> Variant | None:
        for v in self.variants:
            if v.name == name:
                return v
        return None

    def assign(self, visitor_id: str, sticky: str | None = None) -> Variant | None:
        """The visitor's variant (None: held out), keeping the one they were given before.

        A remembered variant stays while it still exists with a weight above 0, and a
        remembered holdout while the split still holds visitors out; otherwise the
        visitor is bucketed afresh, so only the visitors a change must move are moved.
        """
        if sticky is not None:
            if sticky == CONTROL:
                # Crawlers: what the experiment compares against, the same every time.
                return None if self.holdout > 0 else self.variants[0]
            if sticky == HOLDOUT:
                if self.holdout > 0:
                    return None
            elif (kept := self.variant(sticky)) is not None and kept.weight > 0:
                return kept
        return self.bucket(visitor_id)


def bucket_of(seed: str, visitor_id: str) -> int:
    """0..9999 from BLAKE2b-64 of "seed:visitor_id" (big-endian), modulo 10,000.

    Documented so another system can reproduce the split (docs/experiments.md).
    """
    digest = hashlib.blake2b(f"{seed}:{visitor_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class Caps:
    per_session: int | None = None
    per_day: int | None = None
    per_visitor: int | None = None
    after_dismiss_days: float | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    placement: str
    order: int
    priority: int
    conditions: tuple[Condition, ...]
    test: ContextTest
    then: Mapping[str, Any]
    file: str
    line: int
    column: int
    enabled: bool = True
    schedule: Schedule | None = None
    split: Split | None = None
    caps: Caps | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(slots=True)  # not frozen: one is made per answer, and frozen ones cost 3× to build
class Decision:
    """The winning rule (if any), its variant and the merged `then` it asks for."""

    rule: Rule | None
    variant: str | None
    then: Mapping[str, Any]
    held_out: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        """What decided, as `rule[:variant]` entries for X-Shopwindow-Rules."""
        out = [f"{rule_id}:{HOLDOUT}" for rule_id in self.held_out]
        if self.rule is not None:
            out.append(f"{self.rule.id}:{self.variant}" if self.variant else self.rule.id)
        return out


NO_DECISION = Decision(None, None, {})
Accept = Callable[[Rule], bool]


@dataclass(frozen=True, slots=True)
class Index:
    """Rules bucketed by the value of one context key; buckets may index further.

    Every bucket keeps the rules that do not test the key, in file order, so the
    first match within a bucket is the first match overall.
    """

    key: str
    by_value: Mapping[Any, Index | tuple[Rule, ...]]
    rest: Index | tuple[Rule, ...]


IndexNode = Index | tuple[Rule, ...]
LEAF_SIZE = 8
MAX_DEPTH = 4
MAX_COPIES = 200_000  # bounds the memory a wide index may take


def build_index(
    rules: tuple[Rule, ...], used: frozenset[str] = frozenset(), depth: int = 0
) -> IndexNode:
    if len(rules) <= LEAF_SIZE or depth >= MAX_DEPTH:
        return rules
    key = _index_key(rules, used)
    if key is None:
        return rules
    buckets: dict[Any, list[Rule]] = {}
    rest: list[Rule] = []
    for rule in rules:
        values = _equals(rule, key)
        if values is None:
            rest.append(rule)
            for bucket in buckets.values():
                bucket.append(rule)
        else:
            for value in values:
                # a new bucket starts with every key-free rule seen so far
                buckets.setdefault(value, list(rest)).append(rule)
    if len(rest) * len(buckets) > MAX_COPIES:
        return rules
    deeper = used | {key}
    return Index(
        key,
        {value: build_index(tuple(b), deeper, depth + 1) for value, b in buckets.items()},
        build_index(tuple(rest), deeper, depth + 1),
    )


@dataclass(frozen=True, slots=True)
class Placement:
    """The compiled rules of one placement, indexed on the keys they test for equality."""

    name: str
    rules: tuple[Rule, ...]  # enabled ones, in evaluation order
    index: IndexNode = ()

    @staticmethod
    def build(name: str, rules: Sequence[Rule]) -> Placement:
        ordered = tuple(
            sorted((r for r in rules if r.enabled), key=lambda r: (-r.priority, r.order))
        )
        return Placement(name, ordered, build_index(ordered))

    def candidates(self, ctx: Context) -> tuple[Rule, ...]:
        node: IndexNode = self.index
        while isinstance(node, Index):
            index = node
            try:
                node = index.by_value.get(ctx.get(index.key), index.rest)
            except TypeError:  # an unhashable value matches no bucket
                node = index.rest
        return node

    def decide(
        self,
        ctx: Context,
        visitor_id: str = "",
        *,
        accept: Accept | None = None,
        assigned: Mapping[str, str] | None = None,
    ) -> Decision:
        """The first rule that matches, is accepted (caps) and does not hold the visitor out."""
        held: list[str] = []
        for rule in self.candidates(ctx):
            if not rule.test(ctx):
                continue
            if accept is not None and not accept(rule):
                continue
            if rule.split is None:
                return Decision(rule, None, rule.then, tuple(held))
            variant = rule.split.assign(visitor_id, assigned.get(rule.id) if assigned else None)
            if variant is None:
                held.append(rule.id)
                continue
            return Decision(rule, variant.name, variant.then, tuple(held))
        return Decision(None, None, {}, tuple(held)) if held else NO_DECISION

    def why(self, ctx: Context, rules: Iterable[Rule] | None = None) -> Iterator[Why]:
        """For each rule, in the order tried (all of them unless given): which condition
        failed, with what value. `shopwindow explain` and the decision log both ask here."""
        for rule in self.rules if rules is None else rules:
            failed = next((c for c in rule.conditions if not c.test(ctx)), None)
            yield Why(rule, failed, failed.value(ctx) if failed is not None else None)


@dataclass(frozen=True, slots=True)
class Why:
    """One rule tried for a context: its first failing condition and the value that condition read."""

    rule: Rule
    failed: Condition | None  # None: every condition held
    actual: Any = None

    @property
    def matched(self) -> bool:
        return self.failed is None


def _equals(rule: Rule, key: str) -> frozenset[Any] | None:
    for cond in rule.conditions:
        if cond.path == key and cond.equals is not None:
            return cond.equals
    return None


def _index_key(rules: Sequence[Rule], used: frozenset[str]) -> str | None:
    """The key that leaves the fewest rules to try per request, if it is worth indexing."""
    with_key: Counter[str] = Counter()
    values: dict[str, set[Any]] = {}
    for rule in rules:
        for cond in rule.conditions:
            if cond.path and cond.equals is not None and cond.path not in used:
                if cond.path not in values:
                    values[cond.path] = set()
                values[cond.path].update(cond.equals)
        for path in {c.path for c in rule.conditions if c.path and c.equals is not None}:
            if path not in used:
                with_key[path] += 1
    best, best_cost = None, float(len(rules))
    for path, count in with_key.items():
        # expected rules per request: those without the key, plus one bucket's share
        cost = (len(rules) - count) + count / max(1, len(values[path]))
        if cost < best_cost * 0.8:
            best, best_cost = path, cost
    return best


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every placement's compiled rules: an immutable snapshot swapped whole on reload."""

    placements: Mapping[str, Placement]
    files: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # synonyms, posts, ...

    def placement(self, name: str) -> Placement:
        return self.placements.get(name) or Placement(name, ())

    def decide(
        self,
        name: str,
        ctx: Context,
        visitor_id: str = "",
        *,
        accept: Accept | None = None,
        assigned: Mapping[str, str] | None = None,
    ) -> Decision:
        placement = self.placements.get(name)
        if placement is None:
            return NO_DECISION
        return placement.decide(ctx, visitor_id, accept=accept, assigned=assigned)

    def rule(self, rule_id: str) -> Rule | None:
        for placement in self.placements.values():
            for rule in placement.rules:
                if rule.id == rule_id:
                    return rule
        return None

    def all_rules(self) -> list[Rule]:
        return [r for p in self.placements.values() for r in p.rules]


# --- compiling one file ---------------------------------------------------------------


def compile_rules(
    root: Node | None,
    *,
    placement: PlacementSpec,
    timezone: tzinfo,
    env: CheckEnv,
    first_order: int = 0,
) -> tuple[list[Rule], list[RuleError]]:
    """Every rule of one placement file, and every error found (not only the first)."""
    if root is None:
        return [], []
    if root.kind != "list":
        return [], [root.error("a rule file is a list of rules, each starting with `- id:`")]
    options = Options(timezone, vocabularies(env.categories, env.brands))
    rules: list[Rule] = []
    errors: list[RuleError] = []
    for offset, node in enumerate(root.items):
        rule, rule_errors = _compile_rule(node, placement, options, env, first_order + offset)
        errors.extend(rule_errors)
        if rule is not None and not rule_errors:
            rules.append(rule)
    return rules, errors


def _compile_rule(
    node: Node, spec: PlacementSpec, options: Options, env: CheckEnv, order: int
) -> tuple[Rule | None, list[RuleError]]:
    if node.kind != "map":
        return None, [node.error(f"a rule is a mapping with id, when, then; got {node.type_name}")]
    errors: list[RuleError] = []
    if (unknown := node.unknown_key(RULE_FIELDS, "rule field")) is not None:
        errors.append(unknown)
    id_node = node.get("id")
    if id_node is None or id_node.kind != "scalar" or not str(id_node.value or "").strip():
        return None, [*errors, node.error("a rule needs an `id`")]
    rule_id = str(id_node.value)
    if not _ID_CHARS.issuperset(rule_id) or len(rule_id) > 80:
        errors.append(id_node.error("an id uses letters, digits, '-' and '_' (at most 80)"))

    conditions: list[Condition] = []
    try:
        conditions = compile_when(node.get("when"), options)
    except CompileError as exc:
        errors.extend(exc.errors)

    then_node = node.get("then")
    then: Mapping[str, Any] = {}
    if then_node is None:
        errors.append(node.error("a rule needs a `then` block"))
    else:
        errors.extend(spec.check(then_node, env))
        then = compile_paths(then_node.plain()) if then_node.kind == "map" else {}

    schedule = None
    if (sched_node := node.get("schedule")) is not None:
        try:
            schedule = compile_schedule(sched_node, options.timezone)
        except CompileError as exc:
            errors.extend(exc.errors)

    split = None
    if (split_node := node.get("split")) is not None:
        split, split_errors = _compile_split(split_node, rule_id, then, spec, env)
        errors.extend(split_errors)

    caps = None
    if (caps_node := node.get("caps")) is not None:
        caps, cap_errors = _compile_caps(caps_node)
        errors.extend(cap_errors)

    priority = _int_field(node.get("priority"), 0, errors, "priority")
    enabled_node = node.get("enabled")
    enabled = True
    if enabled_node is not None:
        if not isinstance(enabled_node.value, bool):
            errors.append(enabled_node.error("`enabled` takes true or false"))
        else:
            enabled = enabled_node.value

    tests = [c.test for c in conditions]
    if schedule is not None:
        active = schedule.active
        tests.append(lambda ctx: active(ctx["time"]))
        conditions.append(Condition("time", "schedule is active", tests[-1]))
    rule = Rule(
        id=rule_id,
        placement=spec.name,
        order=order,
        priority=priority,
        conditions=tuple(conditions),
        test=all_of(tests),
        then=then,
        file=node.file,
        line=node.line,
        column=node.column,
        enabled=enabled,
        schedule=schedule,
        split=split,
        caps=caps,
    )
    return rule, errors


_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _int_field(node: Node | None, default: int, errors: list[RuleError], name: str) -> int:
    if node is None:
        return default
    if isinstance(node.value, bool) or not isinstance(node.value, int):
        errors.append(node.error(f"`{name}` takes a whole number"))
        return default
    return node.value


def _compile_split(
    node: Node, rule_id: str, then: Mapping[str, Any], spec: PlacementSpec, env: CheckEnv
) -> tuple[Split | None, list[RuleError]]:
    if node.kind != "map":
        return None, [node.error("`split` is a mapping with `variants` and optional `holdout`")]
    errors: list[RuleError] = []
    if (unknown := node.unknown_key(("variants", "holdout", "seed"), "split field")) is not None:
        errors.append(unknown)
    holdout = 0.0
    if (h := node.get("holdout")) is not None:
        if (
            isinstance(h.value, bool)
            or not isinstance(h.value, int | float)
            or not 0 <= h.value < 100
        ):
            errors.append(h.error("`holdout` is a percentage from 0 to 99"))
        else:
            holdout = float(h.value)
    seed = rule_id
    if (s := node.get("seed")) is not None:
        if s.kind != "scalar" or isinstance(s.value, bool) or not str(s.value or "").strip():
            errors.append(s.error("`seed` is a text, e.g. the experiment's name"))
        else:
            seed = str(s.value)
    variants: list[Variant] = []
    v_node = node.get("variants")
    if v_node is None:
        if holdout:
            variants = [Variant("on", 1.0, then)]  # a holdout alone: rule vs control
        else:
            errors.append(node.error("`split` needs `variants` (or a `holdout`)"))
    elif v_node.kind != "map" or not v_node.entries:
        errors.append(v_node.error("`variants` maps names to weights, e.g. {a: 50, b: 50}"))
    else:
        for name_node, body in v_node.entries:
            name = str(name_node.value)
            if name == HOLDOUT:
                errors.append(name_node.error("'holdout' is reserved; use the `holdout` field"))
                continue
            if not _ID_CHARS.issuperset(name) or len(name) > 40:
                # the name travels in X-Shopwindow-Rules and in the stats' keys
                errors.append(
                    name_node.error("a variant name uses letters, digits, '-' and '_' (at most 40)")
                )
                continue
            weight_node, override = body, None
            if body.kind == "map":
                if (unknown := body.unknown_key(("weight", "then"), "variant field")) is not None:
                    errors.append(unknown)
                weight_node = body.get("weight") or body
                override = body.get("then")
            w = weight_node.value
            if (
                weight_node.kind != "scalar"
                or isinstance(w, bool)
                or not isinstance(w, int | float)
            ):
                errors.append(weight_node.error(f"variant {name!r} needs a weight (a number)"))
                continue
            if w < 0:
                errors.append(weight_node.error("a weight cannot be negative"))
                continue
            merged = dict(then)
            if override is not None:
                errors.extend(spec.check(override, env, partial=True))
                if override.kind == "map":
                    merged.update(compile_paths(override.plain()))
            variants.append(Variant(name, float(w), merged))
        if variants and sum(v.weight for v in variants) <= 0:
            errors.append(v_node.error("variant weights add up to 0"))
    if errors or not variants:
        return None, errors
    return Split.build(seed, variants, holdout), []


def _compile_caps(node: Node) -> tuple[Caps | None, list[RuleError]]:
    if node.kind != "map":
        return None, [node.error("`caps` is a mapping such as {per_session: 1}")]
    errors: list[RuleError] = []
    if (unknown := node.unknown_key(CAP_FIELDS, "cap")) is not None:
        errors.append(unknown)
    values: dict[str, Any] = {}
    for key, value in node.entries:
        v = value.value
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            errors.append(value.error(f"`{key.value}` takes a number of 0 or more"))
        elif key.value in CAP_FIELDS:
            values[str(key.value)] = v if key.value == "after_dismiss_days" else int(v)
    return (None, errors) if errors else (Caps(**values), [])
