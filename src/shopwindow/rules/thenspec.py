"""What a rule's `then` block may hold, per placement: the fields and their checks.

Pure data plus small validators; `shopwindow check` uses them to report a
mistyped field or an unknown product with its file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from shopwindow.rules.errors import RuleError
from shopwindow.rules.yamlsrc import Node


class ProductLookup(Protocol):
    def __contains__(self, product_id: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class CheckEnv:
    """What a check may compare against; None means 'not known, do not check'."""

    catalog: ProductLookup | None = None
    categories: Collection[str] | None = None
    templates: Collection[str] | None = None
    brands: Collection[str] | None = None  # the feed's brand:... tags, without the prefix


Field = Callable[[Node, CheckEnv], list[RuleError]]


@dataclass(frozen=True, slots=True)
class PlacementSpec:
    name: str
    help: str
    fields: Mapping[str, Field]
    required: tuple[str, ...] = ()
    # Data files that live in the rules folder but are not rule lists.
    extra: Mapping[str, str] = field(default_factory=dict)

    def check(self, then: Node, env: CheckEnv, *, partial: bool = False) -> list[RuleError]:
        if then.kind != "map":
            return [then.error(f"`then` must be a mapping, not {then.type_name}")]
        errors: list[RuleError] = []
        if (unknown := then.unknown_key(self.fields.keys(), f"{self.name} field")) is not None:
            errors.append(unknown)
        for key, value in then.entries:
            validate = self.fields.get(str(key.value))
            if validate is not None:
                errors.extend(named(str(key.value), validate(value, env)))
        if not partial:
            errors.extend(
                then.error(f"`then` needs `{name}` for a {self.name} rule")
                for name in self.required
                if then.get(name) is None
            )
        return errors


def named(name: str, errors: list[RuleError]) -> list[RuleError]:
    """A field's errors, its type errors ("expected a number, got text") naming it."""
    return [
        replace(e, message=f"`{name}`: {e.message}") if e.message.startswith("expected") else e
        for e in errors
    ]


# --- validators -------------------------------------------------------------


def text(max_len: int = 500) -> Field:
    def check(node: Node, env: CheckEnv) -> list[RuleError]:
        if node.kind != "scalar" or not isinstance(node.value, str | int) or node.value is True:
            return [node.error(f"expected text, got {node.type_name}")]
        if len(str(node.value)) > max_len:
            return [node.error(f"text longer than {max_len} characters")]
        return []

    return check


def number(low: float = 0, high: float = 1e9, whole: bool = False) -> Field:
    def check(node: Node, env: CheckEnv) -> list[RuleError]:
        v = node.value
        ok_type = int if whole else (int, float)
        if node.kind != "scalar" or isinstance(v, bool) or not isinstance(v, ok_type):
            kind = "a whole number" if whole else "a number"
            return [node.error(f"expected {kind}, got {node.type_name}")]
        if not low <= v <= high:
            return [node.error(f"expected a number from {low:g} to {high:g}, got {v}")]
        return []

    return check


def boolean(node: Node, env: CheckEnv) -> list[RuleError]:
    if node.kind != "scalar" or not isinstance(node.value, bool):
        return [node.error(f"expected true or false, got {node.type_name}")]
    return []


def choice(*values: str) -> Field:
    def check(node: Node, env: CheckEnv) -> list[RuleError]:
        if node.kind != "scalar" or node.value not in values:
            return [node.error(f"expected one of {', '.join(values)}, got {node.plain()!r}")]
        return []

    return check


def template(node: Node, env: CheckEnv) -> list[RuleError]:
    if errors := text(200)(node, env):
        return errors
    name = str(node.value)
    if ".." in name or name.startswith("/"):
        return [node.error(f"template {name!r} must be a name inside templates/")]
    if env.templates is not None and name not in env.templates:
        return [node.error(f"unknown template {name!r}")]
    return []


def product_id(node: Node, env: CheckEnv) -> list[RuleError]:
    if errors := text(200)(node, env):
        return errors
    if env.catalog is not None and str(node.value) not in env.catalog:
        return [node.error(f"product {node.value!r} is not in the catalog")]
    return []


def category(node: Node, env: CheckEnv) -> list[RuleError]:
    if errors := text(200)(node, env):
        return errors
    if env.categories is not None and str(node.value) not in env.categories:
        return [node.error(f"category {node.value!r} is not in the catalog")]
    return []


_PLACEHOLDER = re.compile(r"\{([a-z_.]+)\}")
PATH_PLACEHOLDERS = frozenset({"country", "market", "gender", "category", "language"})


def local_path(node: Node, env: CheckEnv) -> list[RuleError]:
    """A path on the shop's own site, optionally with {country}/{gender}/{category}."""
    if errors := text(500)(node, env):
        return errors
    value = str(node.value)
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return [node.error(f"{value!r} must be a path on this site, starting with one '/'")]
    for name in _PLACEHOLDER.findall(value):
        if name not in PATH_PLACEHOLDERS:
            known = ", ".join(sorted(PATH_PLACEHOLDERS))
            return [node.error(f"unknown placeholder {{{name}}} in path; use {known}")]
    return []


def list_of(item: Field, max_items: int = 100) -> Field:
    def check(node: Node, env: CheckEnv) -> list[RuleError]:
        if node.kind != "list":
            return item(node, env)  # a single value stands for a list of one
        if len(node.items) > max_items:
            return [node.error(f"at most {max_items} entries")]
        return [e for child in node.items for e in item(child, env)]

    return check


def mapping(fields: Mapping[str, Field], what: str, required: tuple[str, ...] = ()) -> Field:
    def check(node: Node, env: CheckEnv) -> list[RuleError]:
        if node.kind != "map":
            return [node.error(f"{what} must be a mapping, not {node.type_name}")]
        errors: list[RuleError] = []
        if (unknown := node.unknown_key(fields.keys(), f"{what} field")) is not None:
            errors.append(unknown)
        for key, value in node.entries:
            if (validate := fields.get(str(key.value))) is not None:
                errors.extend(named(str(key.value), validate(value, env)))
        errors.extend(node.error(f"{what} needs `{r}`") for r in required if node.get(r) is None)
        return errors

    return check


# --- placements ---------------------------------------------------------------

PRODUCT_FILTER = mapping(
    {
        "gender": choice("women", "men", "kids", "unisex"),
        "category": category,
        "tags": list_of(text(100)),
        "tier": text(50),
        "ids": list_of(product_id),
        "limit": number(1, 100, whole=True),
        "in_stock_only": boolean,
    },
    "products",
)

OFFER = mapping(
    {
        "code": text(40),
        "percent_off": number(0, 100),
        "amount_off": number(0, 100000),
        "category": category,
        "free_shipping": boolean,
        "expires_hours": number(0, 24 * 365),
    },
    "offer",
)

RECOMMENDATION_LIST = mapping(
    {
        "name": choice("similar", "premium", "accessories", "popular"),
        "count": number(1, 24, whole=True),
        "title": text(120),
    },
    "list",
    required=("name",),
)


def recommendation_lists(node: Node, env: CheckEnv) -> list[RuleError]:
    """The lists of an out-of-stock rule; each list at most once."""
    errors = list_of(RECOMMENDATION_LIST, 8)(node, env)
    seen: set[object] = set()
    for item in node.items if node.kind == "list" else [node]:
        name = item.get("name") if item.kind == "map" else None
        if name is not None and name.value in seen:
            errors.append(name.error(f"list {name.value!r} is already in this rule"))
        elif name is not None:
            seen.add(name.value)
    return errors


def seasonal_category(node: Node, env: CheckEnv) -> list[RuleError]:
    """A category the feed may not carry right now (out of season): only a near miss is an error.

    Landing pages and accessory pairings outlive a feed's categories (a feed may drop
    one for a while without stopping catalog reloads); "running-shoe" next to
    "running-shoes" is a typo, "jackets" in a summer feed is not.
    """
    if errors := text(200)(node, env):
        return errors
    name = str(node.value)
    if env.categories is None or name in env.categories:
        return []
    import difflib

    close = difflib.get_close_matches(name, list(env.categories), n=1, cutoff=0.8)
    if close:
        return [node.error(f"category {name!r} is not in the catalog; did you mean {close[0]!r}?")]
    return []


ACCESSORY_PAIRING = mapping(
    {"category": seasonal_category, "accessories": list_of(seasonal_category, 12)},
    "pairing",
    required=("category", "accessories"),
)

POPUP_PLACEHOLDERS = frozenset({"search"})


def popup_text(max_len: int) -> Field:
    """Popup text; {search} stands for the visitor's latest search."""

    def check(node: Node, env: CheckEnv) -> list[RuleError]:
        if errors := text(max_len)(node, env):
            return errors
        for name in _PLACEHOLDER.findall(str(node.value)):
            if name not in POPUP_PLACEHOLDERS:
                return [node.error(f"unknown placeholder {{{name}}} in popup text; use {{search}}")]
        return []

    return check


def popup_path(node: Node, env: CheckEnv) -> list[RuleError]:
    """A path on this site like local_path; {search} adds the visitor's latest search."""
    value = str(node.value) if node.kind == "scalar" else ""
    if "{search}" not in value:
        return local_path(node, env)
    stripped = replace(node, value=value.replace("{search}", "search"))
    return local_path(stripped, env)


# Landing pages: the product list, filled from the ad keyword where the rule leaves a gap.
LANDING_PRODUCTS = mapping(
    {
        "gender": choice("women", "men", "kids", "unisex"),
        "category": seasonal_category,
        "tags": list_of(text(100)),
        "tier": text(50),
        "ids": list_of(product_id),
        "limit": number(1, 100, whole=True),
        "in_stock_only": boolean,
        "from_keyword": boolean,
    },
    "products",
)
_HEADLINE_FIELD = re.compile(r"\{([^{}]*)\}")
HEADLINE_KEYWORDS = ("keyword", "Keyword", "KeyWord")


def headline(node: Node, env: CheckEnv) -> list[RuleError]:
    """A headline; {keyword}, {Keyword} or {KeyWord} insert the ad keyword (as Google Ads does)."""
    if errors := text(200)(node, env):
        return errors
    for name in _HEADLINE_FIELD.findall(str(node.value)):
        if name not in HEADLINE_KEYWORDS:
            return [node.error(f"unknown placeholder {{{name}}} in headline; use {{keyword}}")]
    return []


def rule_id(node: Node, env: CheckEnv) -> list[RuleError]:
    if node.kind != "scalar" or not isinstance(node.value, str) or not node.value:
        return [node.error(f"expected a rule id, got {node.type_name}")]
    return []


SPECS: dict[str, PlacementSpec] = {
    spec.name: spec
    for spec in [
        PlacementSpec(
            "homepage",
            "GET / without campaign parameters: which country/gender/category homepage",
            {
                "path": local_path,
                "template": template,
                "headline": text(200),
                "hero": text(500),
                "highlight": list_of(category, 12),
                "upsell": boolean,
                "cross_sell": boolean,
            },
            required=("path",),
        ),
        PlacementSpec(
            "landing-pages",
            "post-click landing pages for ads (UTM parameters, click ids, /lp/{slug})",
            {
                "template": template,
                "headline": headline,
                "default_headline": text(120),
                "hero": text(500),
                "hero_image": local_path,
                "products": LANDING_PRODUCTS,
                "redirect": local_path,
                "teaser": rule_id,
            },
        ),
        PlacementSpec(
            "popups",
            "exit-intent popups: which offer for this cart and session",
            {
                "template": template,
                "title": popup_text(200),
                "body": popup_text(1000),
                "cta": text(80),
                "cta_url": popup_path,
                "offer": OFFER,
                "show_cart": boolean,
                "products": list_of(product_id, 12),
                "search_products": number(1, 12, whole=True),
            },
            required=("title",),
        ),
        PlacementSpec(
            "out-of-stock",
            "recommendations on product pages (sold out or cross-sell): which lists, in what order",
            {
                "lists": recommendation_lists,
                "title": text(200),
                "pairings": list_of(ACCESSORY_PAIRING, 50),
            },
            required=("lists",),
        ),
    ]
}

# Files in the rules folder that are data for a placement, not rule lists.
DATA_FILES = frozenset({"synonyms.yaml", "posts.yaml", "pairings.yaml", "markets.yaml"})
