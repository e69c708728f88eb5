"""Language packs: what shoppers and marketers call products and occasions, per language.

Each pack is a data file in language_packs/ shaped like synonyms.yaml (genders,
categories, attributes, occasions, and `stop_words` that carry no meaning). English
occasions (sale, Black Friday, abandoned cart, ...) are always read; the other
languages are switched on with the `languages` setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from shopwindow.rules.keywords import Synonyms, words

ENGLISH = "en"
PACKS = ("de", "es", "fr", "it", "nl")
NAMES = {"de": "German", "es": "Spanish", "fr": "French", "it": "Italian", "nl": "Dutch"}
FOLDER = Path(__file__).parent / "language_packs"
_SECTIONS = ("genders", "categories", "attributes", "occasions")


@lru_cache(maxsize=len(PACKS) + 1)  # the shipped packs, each read once
def pack(code: str) -> Synonyms:
    """A shipped language pack, read once. Unknown codes are refused by settings first."""
    data: Any = yaml.safe_load((FOLDER / f"{code}.yaml").read_text(encoding="utf-8")) or {}
    sections: dict[str, dict[str, tuple[str, ...]]] = {}
    for name in _SECTIONS:
        found: Mapping[str, Any] = data.get(name) or {}
        sections[name] = {str(k): tuple(str(p) for p in v or ()) for k, v in found.items()}
    stop = frozenset(w for phrase in data.get("stop_words") or () for w in words(str(phrase)))
    return Synonyms(
        sections["genders"],
        sections["categories"],
        sections["attributes"],
        stop,
        sections["occasions"],
    )


def packs_for(languages: Sequence[str]) -> tuple[Synonyms, ...]:
    """English occasions, then each language the shop switched on, in the order listed."""
    return tuple(pack(code) for code in dict.fromkeys([ENGLISH, *languages]))
