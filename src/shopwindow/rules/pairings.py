"""Category pairings for accessories (running-shoes → socks, insoles): rules/pairings.yaml.

The file maps a product category to the categories whose best sellers go with it:

    running-shoes: [socks, insoles]

An out-of-stock rule may pair differently for its own visitors with a `pairings`
field in its `then`; those entries replace the file's for the categories they name.
A category the catalog does not have pairs nothing; a near miss of one it has is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopwindow.rules.errors import RuleError
from shopwindow.rules.thenspec import CheckEnv, seasonal_category
from shopwindow.rules.yamlsrc import Node

Pairings = Mapping[str, tuple[str, ...]]
NO_PAIRINGS: Pairings = {}
MAX_PAIRED = 12


def read_pairings(root: Node | None, env: CheckEnv) -> tuple[Pairings, list[RuleError]]:
    """The pairings file: a mapping of category to a list of accessory categories."""
    if root is None:
        return NO_PAIRINGS, []
    if root.kind != "map":
        hint = "pairings.yaml maps a category to its accessory categories"
        return NO_PAIRINGS, [root.error(f"{hint}, e.g. `running-shoes: [socks, insoles]`")]
    errors: list[RuleError] = []
    out: dict[str, tuple[str, ...]] = {}
    for key, value in root.entries:
        errors.extend(_category_errors(key, env))
        items = value.items if value.kind == "list" else [value]
        if value.kind == "map" or not items:
            errors.append(value.error("list the accessory categories, e.g. [socks, insoles]"))
            continue
        if len(items) > MAX_PAIRED:
            errors.append(value.error(f"at most {MAX_PAIRED} accessory categories"))
            continue
        paired: list[str] = []
        for item in items:
            errors.extend(_category_errors(item, env))
            name = str(item.value)
            if name == str(key.value):
                errors.append(item.error(f"{name!r} cannot be its own accessory"))
            elif name not in paired:
                paired.append(name)
        out[str(key.value)] = tuple(paired)
    return (NO_PAIRINGS, errors) if errors else (out, [])


def _category_errors(node: Node, env: CheckEnv) -> list[RuleError]:
    if node.kind != "scalar" or not isinstance(node.value, str) or not node.value.strip():
        return [node.error(f"expected a category name, got {node.type_name}")]
    return seasonal_category(node, env)


def merged(shop_wide: Pairings, then: Mapping[str, Any]) -> Pairings:
    """The file's pairings with a rule's own `pairings` entries laid over them."""
    own = then.get("pairings")
    if not own:
        return shop_wide
    entries = own if isinstance(own, list) else [own]
    out = dict(shop_wide)
    for entry in entries:
        accessories = entry.get("accessories", [])
        if isinstance(accessories, str):
            accessories = [accessories]
        out[str(entry["category"])] = tuple(str(a) for a in accessories)
    return out
