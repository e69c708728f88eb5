"""Markets: visitors from listed, unlisted and malformed countries land in the right store and prices."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shopwindow.catalog.feed import load_catalog
from shopwindow.rules.markets import Prices, read_markets
from shopwindow.rules.thenspec import CheckEnv
from shopwindow.rules.yamlsrc import parse
from tests.conftest import DEMO_CATALOG, DEMO_RULES, add_demo_markets

CATALOG, _ = load_catalog(DEMO_CATALOG)
CDN = "127.0.0.1"  # a trusted proxy in these tests: its country header is believed
PRICE = re.compile(r'data-product-id="([^"]+)".*?class="price">([0-9.]+) ([A-Z]{3})<', re.S)


@pytest.fixture
def shop(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> Callable[[str | None], TestClient]:
    """A client whose visitor comes through the CDN from a country (None: no header)."""
    add_demo_markets(rules_dir)

    def visitor(country: str | None) -> TestClient:
        client = make_client(peer=CDN, trusted_proxies=["127.0.0.0/8"])
        if country is not None:
            client.headers["cf-ipcountry"] = country
        return client

    return visitor


def prices_on(html: str) -> dict[str, tuple[float, str]]:
    return {pid: (float(amount), cur) for pid, amount, cur in PRICE.findall(html)}


@pytest.mark.parametrize(
    ("country", "store"),
    [
        ("DE", "/de/"),
        ("AT", "/de/"),  # listed in the DE market
        ("GB", "/gb/"),
        ("US", "/us/"),
        ("BT", "/int/"),  # Bhutan: listed nowhere, the international store
        ("FR", "/int/"),
        ("bt", "/int/"),  # lower case from a CDN
        ("zz", "/de/"),  # a CDN's "unknown": the shop's default country (DE)
        ("XX", "/de/"),
        ("X1", "/de/"),  # malformed: not believed, the shop's default country (DE)
        ("<script>", "/de/"),
        ("", "/de/"),
        (None, "/de/"),
    ],
)
def test_a_visitor_lands_in_their_markets_store(
    shop: Callable[[str | None], TestClient], country: str | None, store: str
) -> None:
    client = shop(country)
    home = client.get("/")
    assert home.status_code == 302
    assert home.headers["location"] == store
    page = client.get(store)
    assert page.status_code == 200


@pytest.mark.parametrize(
    "path", ["/bt/", "/zz/", "/fr/", "/at/", "/de-de/", "/%3Cx%3E/", "/xx/women/"]
)
def test_a_path_that_names_no_market_is_not_found(
    shop: Callable[[str | None], TestClient], path: str
) -> None:
    assert shop("BT").get(path).status_code == 404


def test_each_market_shows_its_own_prices_copy_and_language(
    shop: Callable[[str | None], TestClient],
) -> None:
    pages = {store: shop("DE").get(f"/{store}/women/").text for store in ("de", "gb", "us", "int")}
    de, gb, us, intl = (prices_on(pages[s]) for s in ("de", "gb", "us", "int"))
    assert {cur for _, cur in de.values()} == {"EUR"}
    assert {cur for _, cur in gb.values()} == {"GBP"}
    assert {cur for _, cur in us.values()} == {"USD"}
    assert {cur for _, cur in intl.values()} == {"EUR"}
    # The main feed's prices in DE; GB converted at its rate, ending in .99.
    for pid, (amount, _) in de.items():
        assert amount == CATALOG.products[pid].price
    for pid, (amount, _) in gb.items():
        assert amount == Prices(rate=0.86, ending=0.99).convert(CATALOG.products[pid].price)
        assert f"{amount:.2f}".endswith(".99")
    for amount, _ in intl.values():
        assert amount == int(amount)  # rounded to whole euros
    # The US store reads a feed of its own: its own prices and best sellers.
    us_feed, _ = load_catalog(DEMO_RULES.parent / "demo" / "catalog-us.jsonl")
    for pid, (amount, _) in us.items():
        assert amount == us_feed.products[pid].price
    assert list(us)[:4] != list(de)[:4]
    assert "Kostenloser Versand" in pages["de"] and '<html lang="de">' in pages["de"]
    assert "Free UK delivery" in pages["gb"] and '<html lang="en">' in pages["gb"]
    assert "Free shipping" in pages["us"]
    assert "We ship worldwide" in pages["int"]


def test_the_market_placeholder_and_condition(
    shop: Callable[[str | None], TestClient],
) -> None:
    gb = shop("GB")
    assert gb.get("/").headers["x-shopwindow-rules"] == "uk-welcome"
    assert "Rain-ready" in gb.get("/gb/").text
    # A visitor from elsewhere is sent to their own store, without the UK welcome...
    de = shop("DE")
    assert de.get("/").headers["x-shopwindow-rules"] == "country-home"
    assert "Rain-ready" not in de.get("/de/").text
    # ...but the market is the page's: the UK store welcomes whoever opens it.
    assert "Rain-ready" in de.get("/gb/").text


def test_a_landing_page_shows_the_visitors_market_prices(
    shop: Callable[[str | None], TestClient],
) -> None:
    url = "/?utm_source=google&utm_medium=cpc&utm_term=womens+running+shoes"
    currencies = {}
    for country in ("DE", "GB", "US", "BT"):
        page = shop(country).get(url)
        assert page.status_code == 200
        currencies[country] = {cur for _, cur in prices_on(page.text).values()}
    assert currencies == {"DE": {"EUR"}, "GB": {"GBP"}, "US": {"USD"}, "BT": {"EUR"}}


def test_without_markets_every_country_keeps_its_store(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    assert not (rules_dir / "markets.yaml").exists()
    client = make_client(peer=CDN, trusted_proxies=["127.0.0.0/8"])
    client.headers["cf-ipcountry"] = "BT"
    assert client.get("/").headers["location"] == "/bt/"
    assert client.get("/fr/").status_code == 200
    assert {cur for _, cur in prices_on(client.get("/fr/women/").text).values()} == {"EUR"}


def test_stats_revenue_is_kept_in_the_main_currency(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    from shopwindow.visitor.events import parse_event
    from shopwindow.visitor.sales import in_main_currency

    add_demo_markets(rules_dir)
    client = make_client()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    snap = shop.snapshot
    purchase = {"type": "purchase", "items": [{"product_id": "w-run-001", "price": 86.0}]}

    class Visit:
        country = "GB"
        ctx = {"market": "gb"}

    gbp = parse_event({**purchase, "currency": "gbp"}, snap.catalog)
    assert in_main_currency(shop, Visit(), gbp, 86.0) == 100.0  # 86 GBP at 0.86
    # No currency named: the visitor's market's.
    assert in_main_currency(shop, Visit(), parse_event(purchase, snap.catalog), 86.0) == 100.0
    eur = parse_event({**purchase, "currency": "EUR"}, snap.catalog)
    assert in_main_currency(shop, Visit(), eur, 86.0) == 86.0


MARKET = """
- name: Home
  prefix: de
  countries: [DE]
  currency: EUR
- name: Rest
  prefix: int
  countries: "*"
  currency: EUR
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MARKET.replace("prefix: de", "prefix: De/x"), "prefix must be a lower-case path segment"),
        (MARKET.replace("[DE]", "[DEU]"), "two-letter ISO code"),
        (MARKET.replace('countries: "*"', "countries: [DE]"), "DE is in two markets"),
        (
            MARKET.replace('countries: "*"', "countries: [FR]"),
            'exactly one market lists countries: "*"',
        ),
        (MARKET.replace("prefix: int", "prefix: de"), "prefix 'de' belongs to two markets"),
        (MARKET.replace("currency: EUR\n- ", "currency: euro\n- "), "three-letter code"),
        (MARKET + "  prices: {rate: 0}\n", "rate must be a number above 0"),
        (MARKET + "  prices: {rate: 1.1, step: 1, ending: 0.99}\n", "not both"),
        (MARKET + "  prices: {step: 1}\n", "prices needs a rate"),
        (MARKET + "  colour: red\n", "unknown market field 'colour'"),
    ],
)
def test_a_broken_markets_file_names_file_line_and_column(text: str, message: str) -> None:
    node, errors = parse(text, "markets.yaml")
    assert errors == []
    markets, errors = read_markets(node, CheckEnv())
    assert markets is None
    assert any(message in e.message for e in errors), errors
    assert all(e.file == "markets.yaml" and e.line >= 1 and e.column >= 1 for e in errors)


@pytest.mark.parametrize(
    ("prices", "price", "shown"),
    [
        (Prices(rate=0.86, ending=0.99), 50.0, 42.99),  # 43.00 -> nearest .99 below
        (Prices(rate=0.86, ending=0.99), 58.95, 50.99),  # 50.70 -> 50.99
        (Prices(rate=1.1, step=1), 92.95, 102.0),
        (Prices(rate=1.08, step=0.05), 10.0, 10.8),
        (Prices(rate=0.5, ending=0.95), 1.0, 0.95),  # never below the ending itself
    ],
)
def test_rounding_rules(prices: Prices, price: float, shown: float) -> None:
    assert prices.convert(price) == shown


@pytest.mark.parametrize(
    ("address", "store"),
    [
        ("192.0.2.10", "/de/"),  # DE
        ("2001:db8:a7::10", "/de/"),  # AT
        ("2001:db8::10", "/gb/"),  # GB
        ("203.0.113.10", "/us/"),  # US
        ("198.51.100.10", "/int/"),  # FR: no market of its own
    ],
)
def test_the_demo_geoip_database_has_an_address_for_each_market(
    rules_dir: Path, make_client: Callable[..., TestClient], address: str, store: str
) -> None:
    import ipaddress

    from shopwindow.visitor.geo import GeoIP

    add_demo_markets(rules_dir)
    documentation = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    ip = ipaddress.ip_address(address)
    assert any(ip in ipaddress.ip_network(net) for net in documentation)
    with GeoIP(DEMO_RULES.parent / "demo" / "geoip.mmdb") as geoip:
        assert geoip.country(address) is not None
    assert make_client(peer=address).get("/").headers["location"] == store


def test_a_market_can_read_a_merchant_center_feed_of_its_own(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    feeds = Path(__file__).parent / "feeds"
    (rules_dir / "landing-pages.yaml").unlink()  # its hand-picked ids are the demo feed's
    (rules_dir / "markets.yaml").write_text(
        MARKET.replace("countries: [DE]", "countries: [DE]\n  prices: {rate: 1}")
        + f"- name: US\n  prefix: us\n  countries: [US]\n  currency: USD\n"
        f"  prices: {{feed: {feeds / 'merchant-center.xml'}, rate: 1.08}}\n"
    )
    client = make_client(
        peer=CDN, trusted_proxies=["127.0.0.0/8"], catalog=str(feeds / "merchant-center.tsv")
    )
    client.headers["cf-ipcountry"] = "US"
    assert client.get("/").headers["location"] == "/us/"
    us = prices_on(client.get("/us/women/").text)
    de = prices_on(client.get("/de/women/").text)
    assert us and {cur for _, cur in us.values()} == {"USD"}
    assert {cur for _, cur in de.values()} == {"EUR"}
    assert us["TRL-100"][0] != de["TRL-100"][0]


def test_a_market_feed_that_is_not_there_is_a_rule_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "feed.jsonl").write_text("")
    text = MARKET + "  prices: {feed: %s, rate: 1.1}\n"
    node, _ = parse(text % "feed.jsonl", str(rules / "markets.yaml"))
    assert read_markets(node, CheckEnv())[1] == []
    node, _ = parse(text % "missing.jsonl", str(rules / "markets.yaml"))
    markets, errors = read_markets(node, CheckEnv())
    assert markets is None
    assert [(e.line, e.column) for e in errors] == [(10, 18)]
    assert "market feed 'missing.jsonl' not found" in errors[0].message


def test_sold_out_recommendations_show_each_markets_prices_from_one_worker(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    """A market's view of the shop shares the worker's cache of recommendation lists
    without sharing its prices: each market's answer is cached apart."""
    add_demo_markets(rules_dir)
    client = make_client(peer=CDN, trusted_proxies=["127.0.0.0/8"])
    sold_out = next(p for p in load_catalog(DEMO_CATALOG)[0].products.values() if not p.in_stock)
    url = f"/_sw/fragments/recommendations?product_id={sold_out.id}"
    seen: dict[str, set[str]] = {}
    for country in ("DE", "GB", "DE", "GB", "US"):
        client.headers["cf-ipcountry"] = country
        answer = client.get(url)
        assert answer.status_code == 200
        currencies = {cur for _, cur in prices_on(answer.text).values()}
        assert currencies, answer.text
        seen.setdefault(country, set()).update(currencies)
    assert seen == {"DE": {"EUR"}, "GB": {"GBP"}, "US": {"USD"}}


def test_landing_pages_and_storefronts_keep_each_markets_prices_in_one_worker(
    rules_dir: Path, make_client: Callable[..., TestClient]
) -> None:
    """Each market's view keeps its own derived pages: alternating markets on one
    worker never shows one market's cached prices in another's answer."""
    add_demo_markets(rules_dir)
    client = make_client(peer=CDN, trusted_proxies=["127.0.0.0/8"])
    landing = "/?utm_source=google&utm_medium=cpc&utm_term=womens+running+shoes"
    want = {"DE": "EUR", "GB": "GBP", "US": "USD"}
    for country in ("DE", "GB", "DE", "US", "GB", "DE"):
        client.headers["cf-ipcountry"] = country
        page = client.get(landing)
        assert page.status_code == 200
        assert {cur for _, cur in prices_on(page.text).values()} == {want[country]}, country
        store = client.get(f"/{country.lower()}/women/")
        assert store.status_code == 200
        assert {cur for _, cur in prices_on(store.text).values()} == {want[country]}, country
