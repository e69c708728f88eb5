"""XSS: payloads through utm_*, keywords, searches, product names and rule texts, into every answer.

Every page, fragment and popup is checked as HTML (no payload markup, no
attribute broken out of, no unfilled marker); every JSON answer is checked for
the JS context (valid JSON with no raw <, >, & or line separators, so it is
safe even inlined in a <script>) and must still carry the text as data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from tests.conftest import DEMO_CATALOG
from tests.hostile import forged_cookie, html_problems

# Each payload, and what of it must never appear in an answer as markup.
PAYLOADS: dict[str, tuple[str, ...]] = {
    "<script>alert(1)</script>": ("<script>alert",),
    '"><img src=x onerror=alert(1)>': ("<img src=x",),
    "'><svg/onload=alert(1)>": ("<svg",),
    "</title><script>alert(2)</script>": ("<script>alert", "</title><script"),
    '" onmouseover="alert(4)': ('onmouseover="alert',),
    "' onfocus='alert(5)' autofocus='": ("onfocus='alert",),
    "javascript:alert(6)": ('href="javascript', 'src="javascript'),
    "<!--sw:personal--><!--sw:headline--><b>x</b>": ("<!--sw:", "<b>x</b>"),
    "</script><script>alert(7)</script>": ("<script>alert",),
    "\u2028\u2029</script><script>alert(8)</script>": ("<script>alert",),
    "<a href=//evil.example>win</a>": ("<a href=//evil",),
    "&lt;script&gt;alert(9)&lt;/script&gt;": ("<script>alert", "&lt;script&gt;alert(9)"),
}
JSON_UNSAFE = (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode())
VIEWED = ["w-run-001", "w-run-004", "w-run-002", "m-jkt-002"]
SOLD_OUT = "w-run-004"


def assert_html_clean(name: str, body: str, payload: str) -> None:
    for forbidden in PAYLOADS[payload]:
        assert forbidden not in body, (name, payload, forbidden)
    # Parsed as a browser would: nothing that runs, and every marker filled, none injected.
    assert html_problems(body) == [], (name, payload, html_problems(body))


def assert_json_clean(name: str, raw: bytes) -> Any:
    for unsafe in JSON_UNSAFE:
        assert unsafe not in raw, (name, unsafe, raw[:300])
    return orjson.loads(raw)


def answers(client: TestClient, cookie: str, words: str) -> Iterator[tuple[str, Any]]:
    """Every page, fragment, popup and JSON answer a visitor can get, with `words` in the URL."""
    headers = {"cookie": f"sw={cookie}"}
    as_json = {**headers, "accept": "application/json"}
    ad = {"utm_source": "google", "utm_medium": "cpc", "utm_term": words, "utm_content": words}
    gets: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
        ("home", "/", {}, headers),
        ("home with words", "/", {"x": words, "sw_country": words}, headers),
        ("landing", "/", ad, headers),
        ("landing json", "/", ad, as_json),
        ("landing path", "/lp/running-shoes", {"utm_term": words}, headers),
        ("store", "/de/", {"q": words}, headers),
        ("store women", "/de/women/", {}, headers),
        ("store category", "/de/women/running-shoes/", {}, headers),
        ("product", "/p/w-run-001", {"q": words}, headers),
        ("sold out product", f"/p/{SOLD_OUT}", {}, headers),
        ("popup", "/_sw/popup", {"trigger": "exit", "product": SOLD_OUT}, headers),
        ("popup json", "/_sw/popup", {"trigger": "exit"}, as_json),
        ("recently viewed", "/_sw/fragments/recently-viewed", {"exclude": words}, headers),
        ("recently viewed json", "/_sw/fragments/recently-viewed", {}, as_json),
        ("recommendations", "/_sw/fragments/recommendations", {"product_id": SOLD_OUT}, headers),
        (
            "recommendations json",
            "/_sw/fragments/recommendations",
            {"product_id": SOLD_OUT},
            as_json,
        ),
        (
            "recommendations unknown",
            "/_sw/fragments/recommendations",
            {"product_id": words},
            as_json,
        ),
        ("landing products", "/_sw/fragments/landing-products", ad, headers),
        ("readyz", "/readyz", {}, {}),
    ]
    for name, path, params, sent in gets:
        client.cookies.clear()
        yield name, client.get(path, params=params, headers=sent)
    client.cookies.clear()
    events = [{"type": "search", "query": words}, {"type": words, "product_id": words}]
    yield "events", client.post("/_sw/events", json=events, headers=headers)


def check_every_answer(client: TestClient, payload: str, cookie: str) -> int:
    checked = 0
    for name, response in answers(client, cookie, payload):
        assert response.status_code < 500, (name, response.text[:300])
        for header, value in response.headers.items():
            assert "<" not in value and "\n" not in value, (name, header, value)
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            assert_json_clean(name, response.content)
        elif response.content:
            assert_html_clean(name, response.text, payload)
        checked += 1
    return checked


@pytest.fixture
def hostile_catalog(tmp_path: Path) -> Callable[[str], Path]:
    """The demo catalog with payloads for names, tags and the tails of urls and images."""

    def write(payload: str) -> Path:
        rows = []
        for line in DEMO_CATALOG.read_text().splitlines():
            row = json.loads(line)
            if row["id"] in VIEWED or (row["gender"] == "women" and len(rows) % 3 == 0):
                row["name"] = f"{row['name']} {payload}"
                row["url"] = f"{row['url']}?v={payload}"
                row["image"] = f"{row['image']}#{payload}"
                row["tags"] = [*row.get("tags", []), payload]
            rows.append(json.dumps(row))
        path = tmp_path / "hostile-catalog.jsonl"
        path.write_text("\n".join(rows) + "\n")
        return path

    return write


def cart_cookie(searches: list[str]) -> str:
    return forged_cookie(
        viewed=VIEWED,
        searches=searches,
        cart=[["w-run-001", 1, 92.95], ["m-jkt-002", 2, 120.0]],
        gender={"women": 9.0},
        category={"running-shoes": 9.0},
        sessions=3,
    )


RULE_TEXT_PAYLOADS = [p for p in PAYLOADS if "{" not in p]


def write_rules(rules_dir: Path, payload: str) -> None:
    text = json.dumps(payload)  # a YAML double-quoted scalar
    (rules_dir / "homepage.yaml").write_text(
        f"- id: home\n  then:\n    path: /de/women/\n    headline: {text}\n    hero: {text}\n"
    )
    (rules_dir / "landing-pages.yaml").write_text(
        "- id: lp\n  when: {campaign.present: true}\n  then:\n"
        f"    headline: {json.dumps(payload + ' {keyword}')}\n    default_headline: {text}\n"
        f"    hero: {text}\n    products: {{from_keyword: true, limit: 8}}\n"
    )
    (rules_dir / "popups.yaml").write_text(
        "- id: pop\n  then:\n"
        f"    title: {json.dumps(payload + ' {search}')}\n    body: {json.dumps('{search} ' + payload)}\n"
        f"    cta: {text}\n    cta_url: '/s?q={{search}}'\n    show_cart: true\n    search_products: 4\n"
    )
    (rules_dir / "out-of-stock.yaml").write_text(
        "- id: oos\n  when: {product.in_stock: false}\n  then:\n"
        f"    title: {text}\n    lists:\n      - {{name: similar, count: 4, title: {text}}}\n"
        "      - {name: popular, count: 4}\n"
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_catalog_names_and_urls_are_escaped_in_every_answer(
    make_client: Callable[..., TestClient],
    hostile_catalog: Callable[[str], Path],
    payload: str,
) -> None:
    client = make_client(catalog=str(hostile_catalog(payload)))
    assert check_every_answer(client, payload, cart_cookie([payload[:60]])) >= 19


@pytest.mark.parametrize("payload", RULE_TEXT_PAYLOADS)
def test_rule_texts_are_escaped_in_every_answer(
    make_client: Callable[..., TestClient], rules_dir: Path, payload: str
) -> None:
    write_rules(rules_dir, payload)
    client = make_client()
    cookie = cart_cookie(["running shoes"])
    assert check_every_answer(client, payload, cookie) >= 19
    page = client.get("/de/women/", headers={"cookie": f"sw={cookie}"})
    assert page.headers["x-shopwindow-rules"] == "home"  # the rule's headline is on it
    popup = client.get(
        "/_sw/popup?trigger=exit",
        headers={"cookie": f"sw={cookie}", "accept": "application/json"},
    )
    assert payload in popup.json()["title"]  # the text is kept as data, only escaped


@pytest.mark.parametrize("payload", PAYLOADS)
def test_search_words_are_escaped_in_popups(
    make_client: Callable[..., TestClient], rules_dir: Path, payload: str
) -> None:
    (rules_dir / "popups.yaml").write_text(
        "- id: pop\n  then:\n    title: 'Still looking for {search}?'\n"
        "    body: '{search}: in stock now'\n    cta: Go\n    cta_url: '/s?q={search}'\n"
    )
    client = make_client()
    posted = client.post("/_sw/events", json={"type": "search", "query": payload})
    assert posted.status_code in (200, 400)
    cookie = client.cookies.get("sw") or cart_cookie([payload[:60]])
    client.cookies.clear()
    headers = {"cookie": f"sw={cookie}"}
    html = client.get("/_sw/popup?trigger=exit", headers=headers)
    assert html.status_code == 200
    assert_html_clean("popup", html.text, payload)
    raw = client.get("/_sw/popup?trigger=exit", headers={**headers, "accept": "application/json"})
    assert_json_clean("popup json", raw.content)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_utm_values_and_keywords_are_escaped_in_every_answer(
    client: TestClient, payload: str
) -> None:
    assert check_every_answer(client, payload, cart_cookie([payload[:60]])) >= 19


def test_rule_errors_on_readyz_are_json_safe(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    client = make_client()
    shop = client.app.state.shop  # type: ignore[attr-defined]
    (rules_dir / "homepage.yaml").write_text(
        '- id: x\n  when: {"</script><script>alert(1)</script>": 1}\n  then: {path: /}\n'
    )
    assert shop.reload_if_changed(True) is False
    raw = client.get("/readyz").content
    body = assert_json_clean("readyz", raw)
    assert any("</script><script>alert(1)</script>" in e for e in body["rule_errors"])


def test_stats_decisions_are_json_safe(make_client: Callable[..., TestClient]) -> None:
    client = make_client(stats_token="t0k3n", decision_log_rate=1.0, stats_flush_seconds=0.05)
    payload = "/<script>alert(1)</script>"
    client.get(payload.replace("/", "/de/", 1) + "/")
    client.get("/", params={"utm_source": "x", "utm_term": payload})
    raw = client.get("/_sw/stats/decisions", headers={"authorization": "Bearer t0k3n"}).content
    assert_json_clean("decisions", raw)


def test_a_catalog_tag_outside_latin1_does_not_break_landing_pages(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    """A tag such as 'farbe:蓝' in the feed used to make each landing page naming it a 500:
    the X-Shopwindow-Landing header describing the filter could not be encoded."""
    rows = []
    for line in DEMO_CATALOG.read_text().splitlines():
        row = json.loads(line)
        if row["category"] == "running-shoes":
            row["tags"] = [*row["tags"], "farbe:蓝", "note:a\r\nset-cookie: x=1"]
        rows.append(json.dumps(row))
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(rows) + "\n")
    client = make_client(catalog=str(catalog))
    for term in ("蓝 running shoes", "running shoes"):
        response = client.get("/", params={"utm_source": "google", "utm_term": term})
        assert response.status_code == 200, term
        described = response.headers["x-shopwindow-landing"]
        assert described.isascii() and described.isprintable(), described
