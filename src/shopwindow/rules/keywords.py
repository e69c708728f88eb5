"""Reads an ad keyword as gender + category + attributes: normalised, synonym-aware, order-free.

Pure: no I/O and no framework. "Women's running shoes", "womens running shoe",
"running shoes for women" and "ladies running trainers" all read as
gender=women, category=running-shoes. The vocabulary is built once per catalog
and synonyms file; reading a keyword is then a few dictionary lookups.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cachetools import LRUCache

from shopwindow.rules.errors import RuleError
from shopwindow.rules.thenspec import CheckEnv, seasonal_category
from shopwindow.rules.yamlsrc import Node

GENDER = "gender"
CATEGORY = "category"
OCCASION = "occasion"  # a sale, a season's event, an email flow: when, not what
ATTRIBUTE = "attribute"
# When one phrase could mean two things, the earlier kind wins.
_KIND_RANK = {CATEGORY: 0, GENDER: 1, OCCASION: 2, ATTRIBUTE: 3}

# Attributes that describe a product rather than choose a range: a colour, a material,
# a pattern, a size. Alone they never narrow a page; beside a rule's own filter they
# rank the products that have them first.
_DESCRIPTIVE_PREFIXES = ("color:", "colour:", "material:", "pattern:", "size:")
DESCRIPTIVE_TAGS = frozenset(
    {
        "leather", "suede", "nubuck", "wool", "merino", "cashmere", "alpaca", "cotton",
        "organic-cotton", "linen", "silk", "satin", "velvet", "corduroy", "canvas", "fleece",
        "denim", "nylon", "polyester", "mesh", "knit", "lace", "sequin", "floral", "striped",
        "checked", "plaid", "polka-dot", "animal-print", "camo", "tie-dye",
    }
)  # fmt: skip
# Fuzzy matching (typos) only for words this long: shorter ones are too easily
# something else ("de", "da" are a letter or two from anything).
MIN_FUZZY_CHARS = 4
# A language pack's single word shorter than this is never read alone ("de", "sac").
MIN_ALONE_CHARS = 4

# Words that carry no product meaning in ad keywords and campaign names.
DEFAULT_IGNORED = frozenset(
    {
        "a", "an", "the", "for", "and", "with", "in", "on", "of", "to", "by", "from", "at",
        "buy", "shop", "online", "store", "best", "top", "new",
        "ad", "ads", "campaign", "utm", "cpc", "ppc", "search", "shopping",
    }
)  # fmt: skip
# Genders every shop means the same way; a synonyms file adds more.
DEFAULT_GENDER_WORDS: Mapping[str, tuple[str, ...]] = {
    "women": ("woman", "womens", "female", "lady", "ladies"),
    "men": ("man", "mens", "male", "gents"),
    "kids": ("kid", "child", "children"),
}
# The catalog's default tier is no attribute a shopper searches for.
DEFAULT_TIER = "standard"

_APOSTROPHES = re.compile("['\u2019\u2018`\u00b4\u02bc]")
_NOT_WORD = re.compile(r"[\W_]+")
_SIBILANT_PLURAL = ("sses", "shes", "ches", "xes", "zes")
_NOT_PLURAL = ("ss", "us", "is", "as")
MAX_KEYWORD_CHARS = 200
MAX_TOKENS = 16


def stem(word: str) -> str:
    """A word's singular, good enough for shop vocabulary: shoes/shoe, dresses/dress, ladies/lady."""
    if len(word) > 3 and word.endswith(_SIBILANT_PLURAL):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(_NOT_PLURAL):
        word = word[:-1]
    if len(word) > 3 and word.endswith("ie"):
        word = word[:-2] + "y"  # hoodie/hoodies/hoody and lady/ladies meet here
    return word


def words(text: str) -> list[str]:
    """Lower-case words without accents, apostrophes or punctuation; not yet stemmed."""
    text = unicodedata.normalize("NFKD", text[:MAX_KEYWORD_CHARS])
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _APOSTROPHES.sub("", text)
    return _NOT_WORD.sub(" ", text).split()[:MAX_TOKENS]


def descriptive(attribute: str) -> bool:
    """Whether an attribute describes (colour, material, pattern, size) rather than selects."""
    return attribute.startswith(_DESCRIPTIVE_PREFIXES) or attribute in DESCRIPTIVE_TAGS


@dataclass(frozen=True, slots=True)
class Synonyms:
    """The rules folder's synonyms.yaml, read: canonical value -> phrases shoppers use."""

    genders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    occasions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


NO_SYNONYMS = Synonyms()


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """What a keyword says about the products wanted."""

    gender: str | None = None
    category: str | None = None
    attributes: tuple[str, ...] = ()
    leftover: tuple[str, ...] = ()  # words that meant nothing to the vocabulary
    fuzzy: bool = False  # found by closeness (typos, partial phrases), not exactly
    occasion: str | None = None  # black-friday, abandoned-cart, ...: says when, not what

    @property
    def usable(self) -> bool:
        return self.gender is not None or self.category is not None or bool(self.attributes)

    def narrowing(self) -> KeywordMatch:
        """What may narrow a page: a colour, material or size alone never does."""
        if self.category is not None or not any(descriptive(a) for a in self.attributes):
            return self
        kept = tuple(a for a in self.attributes if not descriptive(a))
        return dataclasses.replace(self, attributes=kept)

    def merged(self, other: KeywordMatch) -> KeywordMatch:
        """This match, with what it lacks taken from `other` (a less trusted source)."""
        attributes = self.attributes + tuple(
            a for a in other.attributes if a not in self.attributes
        )
        return KeywordMatch(
            self.gender or other.gender,
            self.category or other.category,
            attributes,
            self.leftover + other.leftover,
            self.fuzzy or other.fuzzy,
            self.occasion or other.occasion,
        )


NO_MATCH = KeywordMatch()


class CatalogFacts(Protocol):
    """What a vocabulary reads from the catalog (Catalog satisfies it)."""

    @property
    def categories(self) -> frozenset[str]: ...

    @property
    def genders(self) -> frozenset[str]: ...

    def __iter__(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Meaning:
    kind: str
    value: str
    size: int  # number of words in the phrase: longer phrases win
    short: bool = False  # one short word of a language pack: read only beside a known word


class Vocabulary:
    """Phrases the shop's products are known by, each read as adjacent stemmed words."""

    __slots__ = (
        "_cache",
        "_categories_of",
        "_fuzzy_words",
        "_ignored",
        "_phrases",
        "_sizes",
        "_words",
        "categories",
    )

    def __init__(
        self,
        categories: Collection[str],
        genders: Collection[str],
        tags: Collection[str],
        tiers: Collection[str],
        synonyms: Synonyms = NO_SYNONYMS,
        packs: Sequence[Synonyms] = (),
    ) -> None:
        self.categories = frozenset(categories)
        ignored = set(DEFAULT_IGNORED | synonyms.ignore)
        for pack in packs:
            ignored |= pack.ignore
        self._ignored = frozenset(stem(w) for w in ignored) | ignored
        phrases: dict[tuple[str, ...], _Meaning] = {}

        def add(phrase: str, kind: str, value: str, *, alone: int = 1) -> None:
            bag = tuple(sorted(self._stems(words(phrase.replace("-", " ")))))
            if not bag:
                return
            meaning = _Meaning(kind, value, len(bag), len(bag) == 1 and len(bag[0]) < alone)
            known = phrases.get(bag)
            if known is None or _KIND_RANK[kind] < _KIND_RANK[known.kind]:
                phrases[bag] = meaning

        for tag in tags:
            prefix, sep, value = tag.partition(":")
            add(value if sep else prefix, ATTRIBUTE, tag)
        for tier in tiers:
            if tier and tier != DEFAULT_TIER:
                add(tier, ATTRIBUTE, f"tier:{tier}")
        known_attributes = {*tags, *(f"tier:{t}" for t in tiers)}
        for attribute, spoken in synonyms.attributes.items():
            for phrase in spoken:
                add(phrase, ATTRIBUTE, attribute)
        # Language packs speak of what shops commonly sell: only what this catalog has counts.
        for pack in packs:
            for attribute, spoken in pack.attributes.items():
                if attribute in known_attributes:
                    for phrase in spoken:
                        add(phrase, ATTRIBUTE, attribute, alone=MIN_ALONE_CHARS)
            for occasion, spoken in pack.occasions.items():
                for phrase in (occasion, *spoken):
                    add(phrase, OCCASION, occasion)
        for occasion, spoken in synonyms.occasions.items():
            for phrase in (occasion, *spoken):
                add(phrase, OCCASION, occasion)
        for gender, spoken in {**DEFAULT_GENDER_WORDS, **synonyms.genders}.items():
            if gender in genders or not genders:
                for phrase in (gender, *spoken):
                    add(phrase, GENDER, gender)
                for pack in packs:
                    for phrase in pack.genders.get(gender, ()):
                        add(phrase, GENDER, gender, alone=MIN_ALONE_CHARS)
        for category in self.categories:
            add(category, CATEGORY, category)
        for category, spoken in synonyms.categories.items():
            for phrase in spoken:
                add(phrase, CATEGORY, category)
        for pack in packs:
            for category, spoken in pack.categories.items():
                if category in self.categories:
                    for phrase in spoken:
                        add(phrase, CATEGORY, category, alone=MIN_ALONE_CHARS)

        self._phrases = phrases
        # Phrase lengths, longest first: a keyword is scanned once per length.
        self._sizes = tuple(sorted({len(bag) for bag in phrases}, reverse=True))
        self._words = frozenset(w for bag in phrases for w in bag)
        # Typos are forgiven towards product words only: never towards an occasion,
        # and never towards a word too short to tell apart.
        self._fuzzy_words = tuple(
            sorted(
                {
                    w
                    for bag, meaning in phrases.items()
                    if meaning.kind != OCCASION
                    for w in bag
                    if len(w) >= MIN_ALONE_CHARS
                }
            )
        )
        # A word of a category's own name that names exactly that one category ("running")
        # points to it even alone; a word of a synonym phrase ("main" of "sac a main",
        # "summer" of "summer shoes") does not.
        categories_of: dict[str, set[str]] = {}
        for bag, meaning in phrases.items():
            if meaning.kind == CATEGORY:
                for word in bag:
                    categories_of.setdefault(word, set()).add(meaning.value)
        own_words = {w for c in self.categories for w in self._stems(words(c.replace("-", " ")))}
        self._categories_of = {
            word: next(iter(cats))
            for word, cats in categories_of.items()
            if len(cats) == 1 and word in own_words
        }
        # Bounded: a flood of random keywords evicts the oldest readings.
        self._cache: LRUCache[str, KeywordMatch] = LRUCache(maxsize=4096)

    @staticmethod
    def of(
        catalog: CatalogFacts, synonyms: Synonyms = NO_SYNONYMS, packs: Sequence[Synonyms] = ()
    ) -> Vocabulary:
        tags: set[str] = set()
        tiers: set[str] = set()
        for product in catalog:
            tags.update(product.tags)
            tiers.add(product.tier)
        genders = {g for g in catalog.genders if g in DEFAULT_GENDER_WORDS or g in synonyms.genders}
        return Vocabulary(catalog.categories, genders, tags, tiers, synonyms, packs)

    def _stems(self, raw: Iterable[str]) -> list[str]:
        out = []
        for word in raw:
            if word in self._ignored:
                continue
            stemmed = stem(word)
            if stemmed not in self._ignored:
                out.append(stemmed)
        return out

    def tokens(self, text: str) -> list[str]:
        """The keyword's meaningful words, stemmed, in the order written."""
        return self._stems(words(text))

    def read(self, text: str | None) -> KeywordMatch:
        """Exact reading of a keyword: each phrase's words side by side, phrases in any order."""
        if not text:
            return NO_MATCH
        found = self._cache.get(text)
        if found is None:
            found = self._read(self.tokens(text))
            self._cache[text] = found
        return found

    def _read(self, tokens: Sequence[str]) -> KeywordMatch:
        candidates: list[tuple[int, int, int, _Meaning]] = []
        for size in self._sizes:
            for start in range(len(tokens) - size + 1):
                window = tokens[start : start + size]
                meaning = self._phrases.get(tuple(sorted(window)) if size > 1 else tuple(window))
                if meaning is not None:
                    candidates.append((-size, _KIND_RANK[meaning.kind], start, meaning))
        used = [False] * len(tokens)
        gender = category = occasion = None
        attributes: list[str] = []
        ranked = sorted(candidates, key=lambda c: c[:3])
        # Short words ("sac", "tas") count only beside a word already read ("sac femme").
        ranked = [c for c in ranked if not c[3].short] + [c for c in ranked if c[3].short]
        for _, _, start, meaning in ranked:
            span = range(start, start + meaning.size)
            if any(used[i] for i in span):
                continue  # its words were taken by a longer phrase
            if meaning.short and not (
                (start > 0 and used[start - 1]) or (start + 1 < len(tokens) and used[start + 1])
            ):
                continue
            if meaning.kind == GENDER:
                if gender is not None:
                    continue
                gender = meaning.value
            elif meaning.kind == CATEGORY:
                if category is not None:
                    continue
                category = meaning.value
            elif meaning.kind == OCCASION:
                occasion = occasion or meaning.value
            elif meaning.value not in attributes:
                attributes.append(meaning.value)
            for i in span:
                used[i] = True
        leftover = tuple(t for i, t in enumerate(tokens) if not used[i])
        return KeywordMatch(gender, category, tuple(attributes), leftover, occasion=occasion)

    def without_unshown(self, keyword: str, shown: Collection[str]) -> str | None:
        """The keyword less the colours and materials it names that `shown` lacks.

        "womens red running shoes" over a page whose first products are not all red
        reads "womens running shoes": a headline never promises what is not there.
        """
        unshown = {a for a in self.read(keyword).attributes if descriptive(a) and a not in shown}
        if not unshown:
            return keyword
        kept = []
        for raw in keyword.split(" "):
            token = self.tokens(raw)
            meaning = self._phrases.get(tuple(token)) if len(token) == 1 else None
            if meaning is not None and meaning.kind == ATTRIBUTE and meaning.value in unshown:
                continue
            kept.append(raw)
        return " ".join(kept) or None

    def closest(self, text: str | None) -> KeywordMatch:
        """The exact reading, else the nearest one: typos and partial phrases forgiven.

        Used only for search keywords no rule answers: a guess may pick a category
        page, but never fires a marketer's rule. Campaign names are the marketer's
        own words and are read exactly.
        """
        exact = self.read(text)
        if exact.category is not None or not exact.leftover:
            return exact
        guesses: list[str] = []
        for token in exact.leftover:
            if token in self._words:
                guesses.append(token)
                continue
            if len(token) < MIN_FUZZY_CHARS:
                continue
            # Typos seldom hit the first letter; requiring it keeps "name" from reading as "acme".
            same_start = [w for w in self._fuzzy_words if w[:1] == token[:1]]
            close = difflib.get_close_matches(token, same_start, n=1, cutoff=0.75)
            if close:
                guesses.append(close[0])
        if not guesses:
            return exact
        again = self._read(guesses)
        category = again.category
        if category is None:
            for word in guesses:
                if word in self._categories_of:
                    category = self._categories_of[word]
                    break
        found = KeywordMatch(
            exact.gender or again.gender,
            category,
            exact.attributes + tuple(a for a in again.attributes if a not in exact.attributes),
            exact.leftover,
            fuzzy=True,
            occasion=exact.occasion,
        )
        return found if found.usable else exact


# --- the keyword shown in a headline (dynamic text replacement) -------------------------

MAX_HEADLINE_KEYWORD = 40
# Match-type marks advertisers leave on keywords: +broad, "phrase", [exact].
_MATCH_MARKS = re.compile(r"^[\s+\"\[\]]+|[\s+\"\[\]]+$|(?<=\s)\+")
_SHOWABLE = re.compile(r"^[\w][\w '\u2019&.,-]*$")
_PLACEHOLDER = re.compile(r"\{|\}|%7b|%7d", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_LINKY = re.compile(r"https?|www\.|\.[a-z]{2,4}\b|@", re.IGNORECASE)


def showable_keyword(raw: str | None, cap: int = MAX_HEADLINE_KEYWORD) -> str | None:
    """The keyword as a headline may show it, or None when it is missing or suspicious.

    Suspicious: an unfilled ad-platform placeholder ({keyword}), markup or
    symbols, links, or no letters at all. Long keywords are cut at a word.
    The result is plain text: the template still escapes it.
    """
    if not raw:
        return None
    text = _SPACES.sub(" ", _MATCH_MARKS.sub("", raw.replace("\u00a0", " "))).strip()
    if not text or _PLACEHOLDER.search(text) or _LINKY.search(text):
        return None
    if not _SHOWABLE.match(text) or not any(ch.isalpha() for ch in text):
        return None
    if len(text) > cap:
        cut = text[: cap + 1].rsplit(" ", 1)[0]
        text = cut if 0 < len(cut) <= cap else text[:cap]
        text = text.rstrip(" ,.-&")
    return text or None


def cased(keyword: str, style: str) -> str:
    """Google's keyword insertion casing: {keyword} lower, {Keyword} sentence, {KeyWord} title."""
    if style == "KeyWord":
        return " ".join(w[:1].upper() + w[1:] for w in keyword.split(" "))
    if style == "Keyword":
        return keyword[:1].upper() + keyword[1:].lower()
    return keyword.lower()


HEADLINE_PLACEHOLDER = re.compile(r"\{(keyword|Keyword|KeyWord)\}")


def fill_headline(template: str, keyword: str | None, default: str) -> str:
    """A headline with its {keyword} filled, or the default when the keyword is unusable."""
    if not HEADLINE_PLACEHOLDER.search(template):
        return template
    if keyword is None:
        return default
    return HEADLINE_PLACEHOLDER.sub(lambda m: cased(keyword, m.group(1)), template)


# --- synonyms.yaml ------------------------------------------------------------------------


def read_synonyms(node: Node | None, env: CheckEnv) -> tuple[Synonyms, list[RuleError]]:
    """synonyms.yaml: genders, categories, attributes, occasions (canonical -> phrases), ignore."""
    if node is None:
        return NO_SYNONYMS, []
    if node.kind != "map":
        return NO_SYNONYMS, [
            node.error(
                "synonyms.yaml is a mapping: genders, categories, attributes, occasions, ignore"
            )
        ]
    errors: list[RuleError] = []
    if (unknown := node.unknown_key(_SECTIONS, "synonyms section")) is not None:
        errors.append(unknown)
    sections: dict[str, dict[str, tuple[str, ...]]] = {}
    for name in ("genders", "categories", "attributes", "occasions"):
        section = node.get(name)
        sections[name] = _phrase_map(section, name, errors) if section is not None else {}
    if env.categories is not None and (section := node.get("categories")) is not None:
        for key, _ in section.entries:
            errors.extend(seasonal_category(key, env))
    ignore: set[str] = set()
    if (ignored := node.get("ignore")) is not None:
        ignore.update(w for phrase in _phrases(ignored, "ignore", errors) for w in words(phrase))
    return (
        Synonyms(
            sections["genders"],
            sections["categories"],
            sections["attributes"],
            frozenset(ignore),
            sections["occasions"],
        ),
        errors,
    )


_SECTIONS = ("genders", "categories", "attributes", "occasions", "ignore")


def _phrase_map(node: Node, what: str, errors: list[RuleError]) -> dict[str, tuple[str, ...]]:
    if node.kind != "map":
        errors.append(node.error(f"`{what}` maps a value to the phrases that mean it"))
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for key, value in node.entries:
        out[str(key.value)] = tuple(_phrases(value, f"{what}.{key.value}", errors))
    return out


def _phrases(node: Node, what: str, errors: list[RuleError]) -> list[str]:
    items = node.items if node.kind == "list" else [node]
    out = []
    for item in items:
        if item.kind != "scalar" or not isinstance(item.value, str | int) or item.value is True:
            errors.append(item.error(f"`{what}` takes words or phrases, got {item.type_name}"))
            continue
        if not words(str(item.value)):
            errors.append(item.error(f"`{what}`: {item.value!r} has no words"))
            continue
        out.append(str(item.value))
    return out
