"""JSON Schema of the rule files, so editors validate and autocomplete them."""

from __future__ import annotations

from typing import Any

from shopwindow.rules.conditions import OPERATORS
from shopwindow.rules.contextkeys import KEYS
from shopwindow.rules.rules import CAP_FIELDS
from shopwindow.rules.thenspec import SPECS


def _value_schema(kind: str) -> dict[str, Any]:
    scalars: dict[str, dict[str, Any]] = {
        "text": {"type": ["string", "integer"]},
        "number": {"type": "number"},
        "bool": {"type": "boolean"},
        "list": {"type": ["string", "integer"]},
        "time": {"type": "string"},
    }
    scalar = scalars[kind]
    ops: dict[str, Any] = {op: {} for op in OPERATORS}
    return {
        "anyOf": [
            scalar,
            {"type": "array", "items": scalar},
            {"type": "object", "properties": ops, "additionalProperties": False},
        ]
    }


def rule_file_schema() -> dict[str, Any]:
    when_props: dict[str, Any] = {
        path: {**_value_schema(key.type), "description": key.help} for path, key in KEYS.items()
    }
    when_props["any"] = {"type": "array", "items": {"$ref": "#/$defs/when"}}
    when_props["all"] = {"type": "array", "items": {"$ref": "#/$defs/when"}}
    when_props["not"] = {"$ref": "#/$defs/when"}
    then_props: dict[str, Any] = {}
    for spec in SPECS.values():
        for name in spec.fields:
            then_props.setdefault(name, {"description": f"{spec.name}: see docs"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "shopwindow rule file",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "then"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,80}$"},
                "note": {"type": "string"},
                "when": {"$ref": "#/$defs/when"},
                "then": {"type": "object", "properties": then_props},
                "priority": {"type": "integer"},
                "enabled": {"type": "boolean"},
                "schedule": {
                    "type": "object",
                    "properties": {
                        "timezone": {"type": "string"},
                        "start": {"type": "string"},
                        "end": {"type": "string"},
                        "every": {},
                    },
                    "additionalProperties": False,
                },
                "split": {
                    "type": "object",
                    "properties": {
                        "variants": {"type": "object"},
                        "holdout": {"type": "number", "minimum": 0, "maximum": 99},
                        "seed": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
                "caps": {
                    "type": "object",
                    "properties": {name: {"type": "number", "minimum": 0} for name in CAP_FIELDS},
                    "additionalProperties": False,
                },
            },
        },
        "$defs": {
            "when": {"type": "object", "properties": when_props, "additionalProperties": False}
        },
    }
