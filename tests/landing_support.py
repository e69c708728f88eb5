"""What landing-page tests share: the ad URL table, and reading a landing answer back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from shopwindow.catalog.feed import UNISEX, Catalog, Product, load_catalog
from tests.conftest import DEMO_CATALOG

CATALOG, _ = load_catalog(DEMO_CATALOG)
GRID = re.compile(r'<section class="grid landing-products"[^>]*>(.*?)</section>', re.S)
CARD_ID = re.compile(r'data-product-id="([^"]+)"')
H1 = re.compile(r"<h1>(.*?)</h1>", re.S)

GOOGLE = (
    "utm_source=google&utm_medium=cpc&utm_campaign=ss26_search&gclid=Cj0KCQiA4L67BhDUARIsADWrl7Ek"
)
META = "fbclid=IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMs"


def term(words: str) -> str:
    return "utm_term=" + quote(words)


def google(keyword: str) -> str:
    """A Google Ads search click: tracking template with {keyword} filled in by Google."""
    return f"/?{GOOGLE}&{term(keyword)}"


@dataclass(frozen=True)
class Ad:
    """An ad's final URL and where it must land."""

    url: str
    kind: str  # rule | category | keyword | best-sellers
    rule: str | None = None
    gender: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    in_stock_only: bool = False
    limit: int = 24


WRS = {
    "kind": "rule",
    "rule": "womens-running-shoes",
    "gender": "women",
    "category": "running-shoes",
}
MRS = {"kind": "rule", "rule": "mens-running-shoes", "gender": "men", "category": "running-shoes"}
VELORA = ("brand:velora", "color:white")

# Google search, Meta and email ads as marketers set them up, and where each must land.
ADS: list[Ad] = [
    # Google Ads search: the seeds' "women's running shoes", however the keyword is written
    Ad(google("women's running shoes"), **WRS),
    Ad(google('womens running shoes'), **WRS),
    Ad(google("women's running shoe"), **WRS),
    Ad(google('running shoes for women'), **WRS),
    Ad(google('ladies running trainers'), **WRS),
    Ad(google('+womens +running +shoes'), **WRS),
    Ad(google('[women running shoes]'), **WRS),
    Ad(google('"womens running shoes"'), **WRS),
    Ad(google('WOMENS RUNNING SHOES'), **WRS),
    Ad(google('Women’s Running Shoes'), **WRS),
    Ad("/?utm_source=google&utm_medium=cpc&utm_campaign=womens_running_shoes&gclid=abc", **WRS),
    Ad("/lp/womens-running-shoes?utm_source=google&utm_medium=cpc", **WRS),
    Ad(google('mens running shoes'), **MRS),
    Ad(google('running shoes men'), **MRS),
    Ad(google("men's road running shoes"), **MRS),
    # brand + colour, tier
    Ad(google('white velora sneakers'), "rule", "velora-white-sneakers", None, "sneakers", VELORA),
    Ad(google('velora trainers in white womens'), "rule", "velora-white-sneakers", "women", "sneakers", VELORA),
    Ad(google('luxury boots for men'), "rule", "premium-boots", "men", "boots", ("tier:premium",)),
    Ad(google('premium womens boots'), "rule", "premium-boots", "women", "boots", ("tier:premium",)),
    # Meta (Facebook, Instagram): no keyword, the campaign name and landing path carry the intent
    Ad(f"/?utm_source=facebook&utm_medium=paid_social&utm_campaign=summer_sandals&utm_content=carousel_1&{META}",
       "rule", "summer-sandals", None, "sandals", in_stock_only=True),
    Ad(f"/?utm_source=instagram&utm_medium=paid_social&utm_campaign=mens_rain_jackets&{META}",
       "rule", "waterproof-jackets", "men", "jackets", ("waterproof",)),
    Ad("/?utm_source=fb&utm_medium=social&utm_campaign=womens-sandals",
       "rule", "summer-sandals", "women", "sandals", in_stock_only=True),
    Ad("/lp/summer-sandals?utm_source=instagram&utm_medium=social&utm_content=story",
       "rule", "summer-sandals", None, "sandals", in_stock_only=True),
    Ad(f"/?utm_source=facebook&utm_medium=paid_social&utm_campaign=%7B%7Bcampaign.name%7D%7D&{META}",
       "best-sellers", in_stock_only=True),
    # email
    Ad("/?utm_source=newsletter&utm_medium=email&utm_campaign=new-season-2026",
       "rule", "email-new-season", None, "jackets", in_stock_only=True, limit=12),
    Ad("/?utm_source=klaviyo&utm_medium=email&utm_campaign=new_season_womens&utm_content=hero_button",
       "rule", "email-new-season", "women", "jackets", in_stock_only=True, limit=12),
    Ad("/?utm_source=newsletter&utm_medium=email&utm_campaign=winter_boots_women",
       "category", None, "women", "boots"),
    # campaigns no rule answers: the closest category page, never the generic homepage
    Ad(google('kids hiking boots'), "category", None, "kids", "boots"),
    Ad(google('womns runing shoes'), "category", None, "women", "running-shoes"),
    Ad(f"/?utm_source=bing&utm_medium=cpc&{term('sneakers')}&msclkid=8f3c2b1a9d", "category", None, None, "sneakers"),
    Ad(google('mens tees'), "category", None, "men", "t-shirts"),
    Ad(google('hoodie'), "category", None, None, "hoodies"),
    Ad("/?utm_source=tiktok&utm_medium=paid_social&utm_campaign=dresses_drop&ttclid=E.C.P.abc",
       "category", None, None, "dresses"),
    Ad(google('womens shoes'), "keyword", None, "women", in_stock_only=True),
    Ad(google('acme'), "keyword", None, None, None, ("brand:acme",), in_stock_only=True),
    # nothing usable at all: in-stock best sellers
    Ad("/?gclid=Cj0KCQiA4L67BhDUARIsADWrl7Ek", "best-sellers", in_stock_only=True),
    Ad("/?utm_source=google&utm_medium=cpc&utm_term=%7Bkeyword%7D", "best-sellers", in_stock_only=True),
    Ad(google('zzqx vvbn'), "best-sellers", in_stock_only=True),
    Ad("/lp/nothing-we-know?utm_source=partner", "best-sellers", in_stock_only=True),
]  # fmt: skip

# Deep links with campaign parameters stay what they are.
DEEP_LINKS = [
    ("/p/w-run-001?gclid=Cj0KCQiA4L67BhDUARIsADWrl7Ek&utm_source=google", "Stormward", "product"),
    ("/de/women/?utm_source=google&utm_medium=cpc&utm_term=sneakers", "Women", "storefront"),
    ("/de/women/running-shoes/?utm_source=facebook&fbclid=abc", "running shoes", "storefront"),
]


def expected_products(catalog: Catalog, ad: Ad) -> list[Product]:
    """The products the ad's page must list: a plain scan, ranked as the page ranks them."""
    found = [
        p
        for p in catalog
        if (ad.gender is None or p.gender in (ad.gender, UNISEX))
        and (ad.category is None or p.category == ad.category)
        and (not ad.in_stock_only or p.in_stock)
        and set(ad.tags) <= {*p.tags, f"tier:{p.tier}"}
    ]
    found.sort(key=lambda p: (not p.in_stock, -p.popularity, p.id))
    return found[: ad.limit]


def grid_ids(html: str) -> list[str]:
    grid = GRID.search(html)
    assert grid is not None, "no product grid on the page"
    return CARD_ID.findall(grid.group(1))


def headline(html: str) -> str:
    found = H1.search(html)
    assert found is not None
    return found.group(1).strip()


def check_landing(ad: Ad, status: int, headers: dict[str, str], html: str) -> None:
    """The answer is the page the ad needs: its rule (or fallback) and exactly its products."""
    assert status == 200, ad.url
    landing = headers.get("x-shopwindow-landing", "")
    assert landing.split(";")[0] == ad.kind, (ad.url, landing)
    assert headers.get("x-shopwindow-rules") == ad.rule, (ad.url, headers.get("x-shopwindow-rules"))
    assert "relaxed" not in landing, (ad.url, landing)
    want = [p.id for p in expected_products(CATALOG, ad)]
    assert want, f"{ad.url}: the demo catalog has nothing for this ad"
    assert grid_ids(html) == want, ad.url
    assert headers.get("cache-control") == "private, no-store"
