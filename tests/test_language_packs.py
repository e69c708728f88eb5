"""Language packs: each language's keywords read right, alone and with every pack on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shopwindow import settings as settings_mod
from shopwindow.rules.keywords import MIN_ALONE_CHARS, Vocabulary, words
from shopwindow.rules.languages import ENGLISH, FOLDER, PACKS, pack, packs_for
from tests.test_keywords import CATALOG, demo_synonyms

SYNONYMS = demo_synonyms()
ALL = Vocabulary.of(CATALOG, SYNONYMS, packs_for(PACKS))
ENGLISH_ONLY = Vocabulary.of(CATALOG, SYNONYMS, packs_for(()))

Row = tuple[str, str | None, str | None, tuple[str, ...]]  # keyword, gender, category, attributes

# Each pack's own table: what its shoppers type and what it must read as.
TABLES: dict[str, list[Row]] = {
    "de": [
        ("damen laufschuhe", "women", "running-shoes", ()),
        ("laufschuhe für herren", "men", "running-shoes", ()),
        ("Laufschuhe fuer Herren", "men", "running-shoes", ()),
        ("kinder stiefel", "kids", "boots", ()),
        ("handtasche damen", "women", "bags", ()),
        ("wasserdichte jacke herren", "men", "jackets", ("waterproof",)),
        ("rote kleider für damen", "women", "dresses", ("color:red",)),
        ("schwarze sneaker damen", "women", "sneakers", ("color:black",)),
        ("Mädchen Sandalen", "kids", "sandals", ()),
        ("madchen sandalen", "kids", "sandals", ()),
        ("herren jeans", "men", "jeans", ()),
        ("socken", None, "socks", ()),
    ],
    "fr": [
        ("sac à main femme", "women", "bags", ()),
        ("sac a main femme", "women", "bags", ()),
        ("sac femme", "women", "bags", ()),
        ("chaussures de running femme", "women", "running-shoes", ()),
        ("baskets homme", "men", "sneakers", ()),
        ("veste imperméable homme", "men", "jackets", ("waterproof",)),
        ("robe rouge femme", "women", "dresses", ("color:red",)),
        ("bottes enfant", "kids", "boots", ()),
        ("sandales pour filles", "kids", "sandals", ()),
        ("doudoune noire homme", "men", "jackets", ("color:black",)),
        ("chaussettes", None, "socks", ()),
    ],
    "es": [
        ("zapatillas running mujer", "women", "running-shoes", ()),
        ("zapatillas de running para mujer", "women", "running-shoes", ()),
        ("bolso mujer", "women", "bags", ()),
        ("botas de niños", "kids", "boots", ()),
        ("botas de ninos", "kids", "boots", ()),
        ("chaqueta impermeable hombre", "men", "jackets", ("waterproof",)),
        ("vestido rojo", None, "dresses", ("color:red",)),
        ("zapatillas hombre", "men", "sneakers", ()),
        ("sandalias niña", "kids", "sandals", ()),
        ("sudadera con capucha mujer", "women", "hoodies", ()),
        ("calcetines", None, "socks", ()),
    ],
    "it": [
        ("scarpe da corsa donna", "women", "running-shoes", ()),
        ("borsa donna", "women", "bags", ()),
        ("giacca impermeabile uomo", "men", "jackets", ("waterproof",)),
        ("sneakers bambini", "kids", "sneakers", ()),
        ("stivali uomo", "men", "boots", ()),
        ("vestito rosso", None, "dresses", ("color:red",)),
        ("felpa con cappuccio uomo", "men", "hoodies", ()),
        ("sandali bambina", "kids", "sandals", ()),
        ("magliette uomo", "men", "t-shirts", ()),
        ("scarpe da ginnastica donna", "women", "sneakers", ()),
        ("calzini", None, "socks", ()),
    ],
    "nl": [
        ("hardloopschoenen dames", "women", "running-shoes", ()),
        ("handtas dames", "women", "bags", ()),
        ("tas dames", "women", "bags", ()),
        ("waterdichte jas heren", "men", "jackets", ("waterproof",)),
        ("laarzen voor kinderen", "kids", "boots", ()),
        ("sneakers heren", "men", "sneakers", ()),
        ("rode jurk", None, "dresses", ("color:red",)),
        ("zwarte spijkerbroek heren", "men", "jeans", ("color:black",)),
        ("sandalen meisjes", "kids", "sandals", ()),
        ("sokken", None, "socks", ()),
    ],
}
# Occasions in each language: read as when, never as a product.
OCCASIONS: dict[str, list[tuple[str, str]]] = {
    "de": [("Sommerschlussverkauf", "sale"), ("Weihnachten Geschenke", "holiday")],
    "fr": [("soldes d'hiver", "sale"), ("panier abandonné", "abandoned-cart")],
    "es": [("rebajas de verano", "sale"), ("carrito abandonado", "abandoned-cart")],
    "it": [("saldi estivi", "sale"), ("carrello abbandonato", "abandoned-cart")],
    "nl": [("uitverkoop zomer", "sale"), ("weer op voorraad", "back-in-stock")],
}


def _read(vocabulary: Vocabulary, keyword: str) -> tuple[object, ...]:
    match = vocabulary.read(keyword)
    return (match.gender, match.category, tuple(sorted(match.attributes)))


@pytest.mark.parametrize(
    ("language", "row"), [(lang, row) for lang, rows in TABLES.items() for row in rows]
)
def test_each_pack_reads_its_own_keywords(language: str, row: Row) -> None:
    keyword, gender, category, attributes = row
    alone = Vocabulary.of(CATALOG, SYNONYMS, packs_for([language]))
    want = (gender, category, tuple(sorted(attributes)))
    assert _read(alone, keyword) == want, (language, keyword)
    assert _read(ALL, keyword) == want, ("every pack on", keyword)


@pytest.mark.parametrize(
    ("language", "keyword", "occasion"),
    [(lang, kw, occ) for lang, rows in OCCASIONS.items() for kw, occ in rows],
)
def test_each_pack_knows_its_occasions(language: str, keyword: str, occasion: str) -> None:
    match = Vocabulary.of(CATALOG, SYNONYMS, packs_for([language])).read(keyword)
    assert match.occasion == occasion
    assert match.narrowing().usable is False, match


def test_every_pack_has_a_table_of_its_own() -> None:
    assert set(TABLES) == set(OCCASIONS) == set(PACKS)
    for rows in TABLES.values():
        assert len(rows) >= 10


def test_packs_are_off_until_switched_on() -> None:
    assert ENGLISH_ONLY.read("damen laufschuhe").category is None
    assert ENGLISH_ONLY.read("sac à main femme").category is None


@pytest.mark.parametrize(
    "keyword",
    ["main collection", "de", "da", "DPA", "DSA", "de search brand", "da shopping", "la", "sac"],
)
def test_short_words_and_stop_words_never_narrow_alone(keyword: str) -> None:
    match = ALL.read(keyword)
    assert (match.gender, match.category, match.narrowing().attributes) == (None, None, ())
    assert ALL.closest(keyword).category is None


def test_english_keywords_read_the_same_with_every_pack_on() -> None:
    for keyword in (
        "womens running shoes",
        "mens rain jackets",
        "white velora sneakers",
        "kids hiking boots",
        "luxury boots for men",
        "light blue jeans",
        "gray hoodies",
        "handbags",
    ):
        assert _read(ALL, keyword) == _read(ENGLISH_ONLY, keyword), keyword


def test_pack_files_are_well_formed() -> None:
    for code in (ENGLISH, *PACKS):
        data = yaml.safe_load((FOLDER / f"{code}.yaml").read_text(encoding="utf-8"))
        assert set(data) <= {"stop_words", "genders", "categories", "attributes", "occasions"}
        for section in ("genders", "categories", "attributes", "occasions"):
            for value, phrases in (data.get(section) or {}).items():
                assert phrases, (code, section, value)
                for phrase in phrases:
                    assert words(str(phrase)), (code, section, phrase)
        loaded = pack(code)
        assert loaded.occasions or loaded.categories
    # Short words exist (tas, sac, jas) and are read only beside a known word.
    assert any(len(w) < MIN_ALONE_CHARS for p in pack("nl").categories.values() for w in p)


def test_the_setting_comes_from_the_file_the_environment_and_the_flag(tmp_path: Path) -> None:
    (tmp_path / "shopwindow.toml").write_text('languages = ["de", "fr"]\n')
    rules = {"rules": str(tmp_path)}
    assert settings_mod.load(rules, environ={}).languages == ["de", "fr"]
    env = {"SHOPWINDOW_LANGUAGES": "es,it"}
    assert settings_mod.load(rules, environ=env).languages == ["es", "it"]
    assert settings_mod.load({**rules, "languages": ["nl"]}, environ=env).languages == ["nl"]
    with pytest.raises(settings_mod.SettingsError, match="no language pack 'xx'"):
        settings_mod.load(rules, environ={"SHOPWINDOW_LANGUAGES": "de,xx"})
