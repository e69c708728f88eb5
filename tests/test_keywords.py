"""Ad keywords read as gender + category + attributes, pinned by the phrasings ads really use."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.catalog.feed import load_catalog
from shopwindow.rules.keywords import (
    Synonyms,
    Vocabulary,
    fill_headline,
    read_synonyms,
    showable_keyword,
    stem,
    words,
)
from shopwindow.rules.rulefiles import load_rules
from shopwindow.rules.thenspec import CheckEnv
from shopwindow.rules.yamlsrc import parse
from tests.conftest import DEMO_CATALOG, DEMO_RULES

CATALOG, _ = load_catalog(DEMO_CATALOG)


def demo_synonyms() -> Synonyms:
    from zoneinfo import ZoneInfo

    ruleset, errors = load_rules(
        DEMO_RULES, ZoneInfo("UTC"), CheckEnv(categories=CATALOG.categories)
    )
    assert errors == []
    synonyms = ruleset.data["synonyms"]
    assert isinstance(synonyms, Synonyms)
    return synonyms


VOCAB = Vocabulary.of(CATALOG, demo_synonyms())
BARE = Vocabulary.of(CATALOG)  # no synonyms file: catalog names and built-in genders only

SEED_PHRASINGS = [
    "women's running shoes",
    "womens running shoes",
    "women's running shoe",
    "running shoes for women",
    "ladies running trainers",
    "Women’s Running Shoes",
    "WOMENS RUNNING SHOES",
    "+womens +running +shoes",
    "[women running shoes]",
    '"running shoes women"',
    "shoes, running - women",
    "womens_running_shoes",
    "running-shoes-women",
    "woman running shoe",
    "running trainers ladies",
    "female runners",
]


@pytest.mark.parametrize("keyword", SEED_PHRASINGS)
def test_seed_phrasings_all_mean_womens_running_shoes(keyword: str) -> None:
    match = VOCAB.read(keyword.replace("_", " "))
    assert (match.gender, match.category) == ("women", "running-shoes"), match


@pytest.mark.parametrize(
    ("keyword", "gender", "category", "attributes"),
    [
        ("womens shoes", "women", None, ()),  # "shoes" alone names no one category
        ("running shoes", None, "running-shoes", ()),
        ("mens running shoes", "men", "running-shoes", ()),
        (
            "men's road running shoes",
            "men",
            "running-shoes",
            (),
        ),  # a synonym phrase of the category
        ("black acme sneakers", None, "sneakers", ("brand:acme", "color:black")),
        ("acme trainers in black for women", "women", "sneakers", ("brand:acme", "color:black")),
        ("gray hoodies", None, "hoodies", ("color:grey",)),
        ("kids hiking boots", "kids", "boots", ()),
        ("luxury boots for men", "men", "boots", ("tier:premium",)),
        ("mens rain jackets", "men", "jackets", ("waterproof",)),
        ("urban mile tees", None, "t-shirts", ("brand:urbanmile",)),
        ("tshirts men", "men", "t-shirts", ()),
        ("girls sandals", "kids", "sandals", ()),
        ("light blue jeans", None, "jeans", ("color:light-blue",)),
        ("wide fit running shoes", None, "running-shoes", ("wide-fit",)),
        ("handbags", None, "bags", ()),
        ("dresses", None, "dresses", ()),
        ("accessories", None, "accessories", ()),
        ("zzqx", None, None, ()),
        ("", None, None, ()),
    ],
)
def test_keyword_table(
    keyword: str, gender: str | None, category: str | None, attributes: tuple[str, ...]
) -> None:
    match = VOCAB.read(keyword)
    assert (match.gender, match.category, tuple(sorted(match.attributes))) == (
        gender,
        category,
        tuple(sorted(attributes)),
    )


def test_catalog_names_are_known_without_a_synonyms_file() -> None:
    match = BARE.read("womens running shoes black acme")
    assert (match.gender, match.category) == ("women", "running-shoes")
    assert set(match.attributes) == {"color:black", "brand:acme"}
    assert BARE.read("ladies running trainers").category is None  # that needs synonyms.yaml


@pytest.mark.parametrize(
    "phrases", [("womens", "running shoes", "black"), ("acme", "womens", "sneakers", "grey")]
)
def test_phrases_may_come_in_any_order(phrases: tuple[str, ...]) -> None:
    first = VOCAB.read(" ".join(phrases))
    for order in itertools.permutations(phrases):
        again = VOCAB.read(" ".join(order))
        assert (again.gender, again.category, set(again.attributes)) == (
            first.gender,
            first.category,
            set(first.attributes),
        )


def test_a_phrase_is_read_only_with_its_words_side_by_side() -> None:
    assert VOCAB.read("shoes running women").category == "running-shoes"
    assert VOCAB.read("running womens shoes").category is None
    # "high end" means premium; "high" and "end" apart do not.
    assert VOCAB.read("high end boots").attributes == ("tier:premium",)
    assert VOCAB.read("high waist boots end of line").attributes == ()


@pytest.mark.parametrize(
    ("word", "singular"),
    [
        ("shoes", "shoe"),
        ("dresses", "dress"),
        ("ladies", "lady"),
        ("lady", "lady"),
        ("hoodies", "hoody"),
        ("hoodie", "hoody"),
        ("accessories", "accessory"),
        ("glasses", "glass"),
        ("canvas", "canvas"),
        ("dress", "dress"),
        ("boots", "boot"),
        ("watches", "watch"),
    ],
)
def test_plurals(word: str, singular: str) -> None:
    assert stem(word) == singular


def test_words_drop_accents_apostrophes_and_punctuation() -> None:
    assert words("Kids' Café-Sneakers!!") == ["kids", "cafe", "sneakers"]
    assert words("women’s") == ["womens"]


@pytest.mark.parametrize(
    ("keyword", "gender", "category"),
    [
        ("womns runing shoes", "women", "running-shoes"),
        ("running", None, "running-shoes"),  # a word only one category uses
        ("sneakrs for men", "men", "sneakers"),
        ("jeens", None, "jeans"),
    ],
)
def test_closest_forgives_typos_and_partial_phrases(
    keyword: str, gender: str | None, category: str
) -> None:
    assert VOCAB.read(keyword).category is None
    match = VOCAB.closest(keyword)
    assert (match.gender, match.category) == (gender, category)
    assert match.fuzzy


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_reads_without_error(text: str) -> None:
    match = VOCAB.read(text)
    assert match.category is None or match.category in CATALOG.categories
    assert match.gender in (None, "women", "men", "kids")
    VOCAB.closest(text)
    shown = showable_keyword(text)
    assert shown is None or ("<" not in shown and "{" not in shown and len(shown) <= 40)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("womens running shoes", "womens running shoes"),
        ("+womens +running +shoes", "womens running shoes"),
        ("[women's running shoes]", "women's running shoes"),
        ('"running shoes"', "running shoes"),
        ("shoes & socks", "shoes & socks"),
        ("{keyword}", None),
        ("{KeyWord:Running shoes}", None),
        ("%7Bkeyword%7D", None),
        ("<script>alert(1)</script>", None),
        ("shoes<img src=x>", None),
        ('shoes" onmouseover="x', None),
        ("visit http://evil.example", None),
        ("www.evil.example shoes", None),
        ("call me @ home", None),
        ("1234", None),
        ("   ", None),
        ("", None),
        (None, None),
        (
            "extremely comfortable lightweight cushioned womens trail running shoes",
            "extremely comfortable lightweight",
        ),
    ],
)
def test_showable_keyword(raw: str | None, shown: str | None) -> None:
    assert showable_keyword(raw) == shown


@pytest.mark.parametrize(
    ("template", "keyword", "headline"),
    [
        ("{KeyWord}", "women's running shoes", "Women's Running Shoes"),
        ("Shop {keyword}", "Women's Running SHOES", "Shop women's running shoes"),
        ("{Keyword} on sale", "women's RUNNING shoes", "Women's running shoes on sale"),
        ("{KeyWord}", None, "Women's running shoes"),  # the default
        ("Fixed headline", "anything", "Fixed headline"),
    ],
)
def test_fill_headline(template: str, keyword: str | None, headline: str) -> None:
    assert fill_headline(template, keyword, "Women's running shoes") == headline


def test_synonyms_file_errors_name_the_line() -> None:
    node, errors = parse(
        "categories:\n  running-shoe: [runners]\ngenders: women\nignore: [[x]]\nextra: 1\n",
        "synonyms.yaml",
    )
    assert errors == []
    _, found = read_synonyms(node, CheckEnv(categories=CATALOG.categories))
    messages = [str(e) for e in found]
    assert any(
        "synonyms.yaml:2:3: category 'running-shoe' is not in the catalog" in m for m in messages
    )
    assert any(m.startswith("synonyms.yaml:3:10:") for m in messages)
    assert any(m.startswith("synonyms.yaml:4:10:") for m in messages)
    assert any("unknown synonyms section 'extra'" in m for m in messages)
