"""Campaign names read as campaigns: occasions are no products, colours alone no page, promises kept."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from shopwindow.placements.landing import closest_match, keyword_match
from shopwindow.rules.keywords import KeywordMatch, Vocabulary, descriptive
from shopwindow.rules.languages import packs_for
from shopwindow.visitor.channel import NO_CAMPAIGN, Campaign, campaign_of
from tests.landing_support import CATALOG, google, grid_ids, headline
from tests.test_keywords import demo_synonyms

VOCAB = Vocabulary.of(CATALOG, demo_synonyms(), packs_for(()))


@pytest.mark.parametrize(
    ("name", "occasion"),
    [
        ("Black Friday Early Access", "black-friday"),
        ("Abandoned Cart – Email 1", "abandoned-cart"),
        ("Retargeting – Cart Abandoners", "abandoned-cart"),  # the longer phrase
        ("Retargeting all visitors", "retargeting"),
        ("Back in Stock Alert", "back-in-stock"),
        ("Post-Purchase Thank You", "post-purchase"),
        ("back to school", "back-to-school"),
        ("Cyber Monday Deals", "cyber-monday"),
        ("Win-Back 30 days", "win-back"),
        ("Welcome Series Email 2", "welcome"),
        ("Newsletter March", "newsletter"),
        ("DPA - Catalog Sales", "dynamic-ads"),
        ("DSA all pages", "dynamic-search"),
        ("summer sale", "sale"),
    ],
)
def test_occasions_are_read_as_occasions_not_products(name: str, occasion: str) -> None:
    match = VOCAB.read(name.replace("_", " "))
    assert match.occasion == occasion, match
    assert match.narrowing().usable is False, match
    assert not closest_match(VOCAB, Campaign(name=name), None).narrowing().usable


def test_an_occasion_beside_products_leaves_the_products() -> None:
    match = VOCAB.read("black friday womens running shoes")
    assert (match.gender, match.category, match.attributes) == ("women", "running-shoes", ())
    assert match.occasion == "black-friday"
    assert VOCAB.read("black boots").attributes == ("color:black",)


@pytest.mark.parametrize("keyword", ["red", "leather", "black", "floral", "wool grey", "red women"])
def test_a_colour_or_material_alone_never_narrows(keyword: str) -> None:
    match = VOCAB.read(keyword)
    assert match.attributes and all(descriptive(a) for a in match.attributes)
    assert match.narrowing().attributes == ()
    # Beside a category it does: "red dress" is red dresses.
    with_category = VOCAB.read(f"{keyword} dress")
    assert with_category.narrowing().attributes == with_category.attributes


def test_a_brand_alone_still_narrows() -> None:
    assert VOCAB.read("acme").narrowing().attributes == ("brand:acme",)


def test_campaign_names_are_read_exactly_and_keywords_forgivingly() -> None:
    typo = "womns runing shoes"
    assert closest_match(VOCAB, Campaign(term=typo), None).category == "running-shoes"
    assert closest_match(VOCAB, Campaign(name=typo), None).category is None
    assert closest_match(VOCAB, Campaign(content=typo), None).category is None
    assert closest_match(VOCAB, NO_CAMPAIGN, typo.replace(" ", "-")).category is None
    # Close to a product word is not enough for a campaign name ("Sunset Flow", "Early Access").
    for name in ("Sunset Flow", "Early Access", "main collection", "Cart"):
        assert not closest_match(VOCAB, Campaign(name=name), None).narrowing().usable, name
    assert keyword_match(VOCAB, Campaign(name="mens_rain_jackets"), None) == KeywordMatch(
        "men", "jackets", ("waterproof",)
    )


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        ("womens running shoes", "womens running shoes"),
        ("womens%20running%20shoes", "womens running shoes"),  # sent as %2520
        ("womens+running+shoes", "womens+running+shoes"),  # sent as %2B: no escape left
        ("womens%2520running", "womens%20running"),  # a third encoding stays as it is
        ("20% off", "20% off"),
        ("100%25 cotton", "100% cotton"),
    ],
)
def test_values_are_decoded_at_most_twice(raw: str, read: str) -> None:
    # `raw` is the value after the server's own decoding: this is the second.
    assert campaign_of({"utm_term": raw, "utm_campaign": raw}).term == read


def test_a_colour_the_rule_does_not_name_ranks_first_and_the_headline_keeps_its_promise(
    client: TestClient,
) -> None:
    # Only three women's running shoes are red: they come first, and the headline
    # does not say "Red" over a fourth that is not.
    html = client.get(google("womens red running shoes")).text
    assert headline(html) == "Womens Running Shoes"
    ids = grid_ids(html)
    assert len(ids) == 24
    red = [pid for pid in ids if "color:red" in CATALOG.get(pid).tags]  # type: ignore[union-attr]
    assert ids[: len(red)] == red and len(red) == 3


def test_a_headline_keeps_a_colour_the_first_four_products_have(client: TestClient) -> None:
    html = client.get(google("womens grey running shoes")).text
    assert headline(html) == "Womens Grey Running Shoes"
    first = [CATALOG.get(pid) for pid in grid_ids(html)[:4]]
    assert all(p is not None and "color:grey" in p.tags for p in first)
    # The same page without a colour in the keyword ranks as it always did.
    plain = grid_ids(client.get(google("womens running shoes")).text)
    assert sorted(plain) == sorted(grid_ids(html)) and plain != grid_ids(html)
