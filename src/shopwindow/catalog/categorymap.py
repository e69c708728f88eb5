"""Which shop category a feed's product_type or Google product category stands for."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import yaml

# Google's taxonomy names (and a few of its numeric ids) and the product types shops
# commonly write, mapped to the category slugs rules and pages use. Keys are compared
# lower-cased with single spaces; a marketer's own file is consulted before this one.
DEFAULT_CATEGORIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "running shoes": "running-shoes",
        "running": "running-shoes",
        "trail running shoes": "running-shoes",
        "athletic shoes": "sneakers",
        "sneakers": "sneakers",
        "trainers": "sneakers",
        "boots": "boots",
        "sandals": "sandals",
        "flip flops": "sandals",
        "shoes": "shoes",
        "187": "shoes",
        "handbags": "bags",
        "handbags, wallets & cases": "bags",
        "3032": "bags",
        "backpacks": "bags",
        "bags": "bags",
        "luggage & bags": "bags",
        "coats & jackets": "jackets",
        "outerwear": "jackets",
        "jackets": "jackets",
        "hoodies": "hoodies",
        "sweatshirts": "hoodies",
        "t-shirts": "t-shirts",
        "tees": "t-shirts",
        "shirts & tops": "t-shirts",
        "212": "t-shirts",
        "jeans": "jeans",
        "pants": "trousers",
        "204": "trousers",
        "dresses": "dresses",
        "2271": "dresses",
        "socks": "socks",
        "insoles": "insoles",
        "shoe inserts": "insoles",
        "clothing accessories": "accessories",
        "167": "accessories",
        "accessories": "accessories",
        "clothing": "clothing",
        "1604": "clothing",
    }
)

_SPACE = re.compile(r"\s+")
_PATH = re.compile(r"\s*>\s*")


class CategoryMap:
    """Looks a product's type and Google category up, most specific part first."""

    __slots__ = ("_names",)

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        names = {_key(k): v for k, v in DEFAULT_CATEGORIES.items()}
        # The marketer's names win over the defaults.
        names.update({_key(k): _slug(v) for k, v in (extra or {}).items()})
        self._names = names

    def category(self, *paths: str) -> str:
        """The category for the first path that maps; else the last part of the first path.

        Each path is tried whole ("Apparel & Accessories > Shoes"), then by its parts
        from the most specific one ("Shoes") back to the broadest. An empty answer
        means every path was empty.
        """
        for path in paths:
            found = self._lookup(path)
            if found:
                return found
        for path in paths:
            last = _PATH.split(path.strip())[-1].strip()
            if last and not last.isdigit():
                return _slug(last)
        return ""

    def _lookup(self, path: str) -> str:
        key = _key(path)
        if not key:
            return ""
        if key in self._names:
            return self._names[key]
        for part in reversed(_PATH.split(key)):
            if part in self._names:
                return self._names[part]
        return ""


def load_category_map(path: str | os.PathLike[str] | None) -> CategoryMap:
    """The default map, extended by a YAML file of `name or path: category` lines.

    Raises OSError when the file cannot be read and ValueError when it is not such a map.
    """
    if not path:
        return CategoryMap()
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ValueError(f"{os.fspath(path)}: not valid YAML: {exc}") from None
    if data is None:
        return CategoryMap()
    if not isinstance(data, dict) or not all(
        isinstance(k, str | int) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise ValueError(
            f"{os.fspath(path)}: expected lines of `product type or Google category: category`"
        )
    return CategoryMap({str(k): v for k, v in data.items()})


def _key(name: str) -> str:
    return _PATH.sub(" > ", _SPACE.sub(" ", str(name).strip().lower()))


def _slug(value: str) -> str:
    return "-".join(value.strip().lower().split())
