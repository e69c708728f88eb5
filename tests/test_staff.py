"""The store associate's view over HTTP: only with the staff token, read-only, every access logged."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from shopwindow.catalog.feed import load_catalog
from shopwindow.profiles import staff
from tests.conftest import DEMO_CATALOG, identify_event
from tests.profile_fixtures import cli, eventually, import_store_csv

TOKEN = "staff-token-3f9a1c"
CATALOG, _ = load_catalog(DEMO_CATALOG)
STAFF_PATHS = [
    ("GET", "/_sw/staff"),
    ("GET", "/_sw/staff/customers/c1"),
    ("POST", "/_sw/staff/search"),
]
Backend = dict[str, Any]


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


AS_ANNA = basic("anna.k", TOKEN)


def ask(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    if method == "POST":
        return client.post(path, data={"email": "anna@example.com"}, headers=headers)
    return client.get(path, headers=headers)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Backend:
    base: Backend = {"overrides": {"profile_flush_ms": 10}, "flags": []}
    if request.param == "redis":
        url = request.getfixturevalue("redis_server").url
        base["overrides"].update(redis=url, redis_timeout_ms=2000)
        base["flags"] = ["--redis", url]
    return base


@pytest.fixture
def staff_client(
    make_client: Callable[..., TestClient], rules_dir: Path, tmp_path: Path, backend: Backend
) -> TestClient:
    """A shop whose profile store holds the store export; the staff token is set."""
    import_store_csv(tmp_path, rules_dir, *backend["flags"])
    return make_client(staff_token=TOKEN, **backend["overrides"])


# --- access control ---------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), STAFF_PATHS)
def test_without_a_configured_token_the_staff_view_does_not_exist(
    make_client: Callable[..., TestClient], method: str, path: str
) -> None:
    client = make_client()
    for headers in ({}, AS_ANNA, {"authorization": "Bearer "}, basic("x", "")):
        answer = ask(client, method, path, headers)
        assert answer.status_code == 404, (headers, answer.text)
        assert "customer" not in answer.text.lower()


@pytest.mark.parametrize(("method", "path"), STAFF_PATHS)
def test_no_credentials_are_a_401_wrong_ones_a_403(
    make_client: Callable[..., TestClient], method: str, path: str
) -> None:
    client = make_client(staff_token=TOKEN)
    for headers in ({}, {"authorization": "Bearer"}, {"authorization": "Basic !!notbase64"}):
        answer = ask(client, method, path, headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"].startswith('Basic realm="shopwindow staff"')
        assert answer.headers["cache-control"] == "no-store"
    for headers in (
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Bearer {TOKEN[:-1]}"},
        basic("anna.k", "wrong"),
        basic(TOKEN, "anna.k"),
    ):
        answer = ask(client, method, path, headers)
        assert answer.status_code == 403, headers
        assert "anna@example.com" not in answer.text


def test_the_token_is_compared_in_constant_time(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every comparison goes through hmac.compare_digest on equal-length digests, so neither
    a wrong character's position nor a wrong length changes how long it takes."""
    compared: list[tuple[int, int]] = []
    real = staff.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(staff.hmac, "compare_digest", spy)
    client = make_client(staff_token=TOKEN)
    for given in ("w", "wrong" * 50, TOKEN[:-1] + "z", TOKEN):
        client.get("/_sw/staff", headers={"authorization": f"Bearer {given}"})
    assert compared == [(32, 32)] * 4


def test_bearer_and_basic_auth_both_open_it(make_client: Callable[..., TestClient]) -> None:
    client = make_client(staff_token=TOKEN)
    bearer = client.get(
        "/_sw/staff", headers={"authorization": f"Bearer {TOKEN}", "x-staff-name": "Ben (Mitte)"}
    )
    assert bearer.status_code == 200
    assert "signed in as Ben (Mitte)" in bearer.text
    form = client.get("/_sw/staff", headers=AS_ANNA)
    assert form.status_code == 200 and "signed in as anna.k" in form.text
    assert 'method="post" action="/_sw/staff/search"' in form.text
    for name, value in staff.HEADERS.items():
        assert form.headers[name.lower()] == value
    assert "set-cookie" not in form.headers


# --- what it shows ----------------------------------------------------------------------


def shopper_identifies_and_browses(client: TestClient) -> None:
    """Anna, who bought in Berlin and Hamburg, logs in online, browses, fills her cart, orders."""
    events = [
        identify_event("c1"),
        {"type": "view", "product_id": "w-dress-004"},
        {"type": "view", "product_id": "w-bag-002"},
        {"type": "add_to_cart", "product_id": "w-bag-002"},
        {
            "type": "purchase",
            "order_id": "WEB-1001",
            "items": [{"product_id": "w-tee-003", "price": 52.95}],
        },
    ]
    assert client.post("/_sw/events", json=events).status_code == 200
    client.cookies.clear()  # the associate's browser is not the shopper's


def name(product_id: str) -> str:
    product = CATALOG.get(product_id)
    assert product is not None
    return product.name.replace("'", "&#39;")


def test_an_offline_customer_who_identified_online_shows_both_histories(
    staff_client: TestClient, backend: Backend, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = staff_client
    shopper_identifies_and_browses(client)
    caplog.set_level(logging.INFO, logger="shopwindow.staff")

    def page() -> str | None:
        answer = client.get("/_sw/staff/customers/c1", headers=AS_ANNA)
        assert answer.status_code == 200, answer.text
        return answer.text if "WEB-1001" in answer.text or "online</span>" in answer.text else None

    text = eventually(page)
    # Online: what she browsed (newest first), her cart and her affinity.
    viewed = text[text.index('id="viewed"') : text.index('id="affinity"')]
    assert viewed.index(name("w-bag-002")) < viewed.index(name("w-dress-004"))
    cart = text[text.index('id="cart"') : text.index('id="offer"')]
    assert name("w-bag-002") in cart
    assert re.search(r"women \d+%", text)
    # In store: each receipt with its store, next to the online order.
    orders = text[text.index('id="orders"') :]
    assert orders.count('data-channel="offline"') == 3  # two receipts in Berlin, one in Hamburg
    assert orders.count('data-channel="online"') == 1
    assert '<span class="store">Berlin Mitte</span>' in orders
    assert '<span class="store">Hamburg Altona</span>' in orders
    for product in ("w-run-001", "w-run-002", "w-run-003", "w-run-004", "w-tee-003"):
        assert name(product) in orders
    assert "(discounted)" in orders  # w-run-002 was bought on sale
    assert "Berlin Mitte</b>preferred store" in text
    assert "<b>4</b>orders (1 online, 3 in store)" in text
    # Read-only: the associate's look is no exposure, sets no cookie.
    answer = client.get("/_sw/staff/customers/c1", headers=AS_ANNA)
    assert "set-cookie" not in answer.headers and "x-shopwindow-rules" not in answer.headers

    logged = [r.getMessage() for r in caplog.records if "staff access" in r.getMessage()]
    assert logged and all(
        m.startswith("staff access: anna.k opened customer c1 via customer id") for m in logged
    )
    code, out, _ = cli(
        [
            "staff",
            "access",
            "--customer",
            "c1",
            "--json",
            "--rules",
            str(rules_dir),
            *backend["flags"],
        ]
    )
    assert code == 0, out
    entries = json.loads(out)
    assert len(entries) == len(logged)
    assert {(e["who"], e["customer_id"], e["via"]) for e in entries} == {
        ("anna.k", "c1", "customer id")
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0]["time"])


def test_the_same_picture_as_json_and_in_the_terminal(
    staff_client: TestClient, backend: Backend, rules_dir: Path
) -> None:
    client = staff_client
    shopper_identifies_and_browses(client)

    def picture() -> dict[str, Any] | None:
        answer = client.get(
            "/_sw/staff/customers/c1", headers={**AS_ANNA, "accept": "application/json"}
        )
        body: dict[str, Any] = answer.json()
        return body if body["cart"] and len(body["orders"]) == 4 else None

    body = eventually(picture)
    assert [p["id"] for p in body["viewed"]][:2] == ["w-bag-002", "w-dress-004"]
    assert [o["store"] for o in body["orders"]] == [
        None,
        "Hamburg Altona",
        "Berlin Mitte",
        "Berlin Mitte",
    ]
    assert body["offline_orders"] == 3 and body["online_orders"] == 1
    assert body["preferred_store"] == "Berlin Mitte"
    assert (
        body["offer"] is not None and body["offer"]["rule"] == "bag-discount"
    )  # a bag in her cart

    code, text, _ = cli(
        [
            "profile",
            "show",
            "ANNA@example.com ",
            "--format",
            "text",
            "--rules",
            str(rules_dir),
            *backend["flags"],
        ]
    )
    assert code == 0, text
    assert text.startswith("customer c1\n")
    assert "preferred store: Berlin Mitte" in text
    assert "in store: Hamburg Altona" in text and "online  total 52.95" in text
    assert "w-bag-002" in text.split("cart:")[1].split("orders")[0]
    assert "bag-discount" in text.split("open offer")[1]
    code, raw, _ = cli(["profile", "show", "c1", "--rules", str(rules_dir), *backend["flags"]])
    record = json.loads(raw)
    assert record["offline_orders"] == 3 and len(record["order_history"]) == 4
    assert record["open_offer"]["rule"] == "bag-discount"


def test_search_by_email_travels_in_the_body_only_and_is_never_logged(
    staff_client: TestClient, rules_dir: Path, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    client = staff_client
    caplog.set_level(logging.DEBUG)
    found = client.post("/_sw/staff/search", data={"email": " Anna@Example.com"}, headers=AS_ANNA)
    assert found.status_code == 200
    assert "Customer c1" in found.text and "Berlin Mitte" in found.text
    nobody = client.post("/_sw/staff/search", data={"email": "eve@example.com"}, headers=AS_ANNA)
    assert nobody.status_code == 404 and "No customer with that email." in nobody.text
    in_url = client.post(
        "/_sw/staff/search?email=anna@example.com", data={"email": "x@y.z"}, headers=AS_ANNA
    )
    assert in_url.status_code == 400
    assert (
        client.get("/_sw/staff/search?email=anna@example.com", headers=AS_ANNA).status_code == 405
    )
    for page in (found, nobody, in_url):
        assert "example.com" not in page.text.lower()
    # What the service logs (the test's own HTTP client logs the URLs it was given).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("shopwindow"))
    assert "anna@" not in ours.lower() and "eve@" not in ours.lower()
    assert "example.com" not in ours.lower()
    assert "staff access: anna.k opened customer c1 via email search" in ours
    assert "staff access: anna.k opened customer (no match) via email search" in ours
    if not backend["flags"]:
        raw = (rules_dir / "shopwindow.sqlite3").read_bytes()
        assert b"anna@" not in raw.lower() and b"eve@" not in raw.lower()
    code, out, _ = cli(["staff", "access", "--rules", str(rules_dir), *backend["flags"]])
    assert code == 0
    assert "anna.k  customer c1  via email search" in out
    assert re.search(r"^\S+T\S+\+0[12]:00  anna.k  customer c1", out, re.M)  # the shop's zone
    assert "anna.k  customer (no match)  via email search" in out


def test_a_form_posted_from_another_site_is_refused(staff_client: TestClient) -> None:
    for headers in (
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},
    ):
        answer = staff_client.post(
            "/_sw/staff/search", data={"email": "anna@example.com"}, headers={**AS_ANNA, **headers}
        )
        assert answer.status_code == 403, headers
        assert "c1" not in answer.text
    same = staff_client.post(
        "/_sw/staff/search",
        data={"email": "anna@example.com"},
        headers={**AS_ANNA, "origin": "http://testserver", "sec-fetch-site": "same-origin"},
    )
    assert same.status_code == 200


@pytest.mark.parametrize(
    "customer_id",
    ["nobody-42", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "a" * 65, "c1%00"],
)
def test_unknown_or_malformed_customer_ids_are_a_404(
    staff_client: TestClient, customer_id: str
) -> None:
    answer = staff_client.get(f"/_sw/staff/customers/{customer_id}", headers=AS_ANNA)
    assert answer.status_code == 404
    assert "<script>" not in answer.text
    as_json = staff_client.get(
        "/_sw/staff/customers/nobody-42", headers={**AS_ANNA, "accept": "application/json"}
    )
    assert as_json.status_code == 404 and as_json.json()["error"] == "no customer found"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"email=",
        b"email=no-at-sign",
        b"\xff\xfe",
        b"email=" + b"a" * 5000,
        b"a=1&b=2&c=3&d=4&e=5",
    ],
)
def test_bad_search_forms_get_a_clear_answer_never_a_500(
    staff_client: TestClient, body: bytes
) -> None:
    answer = staff_client.post(
        "/_sw/staff/search",
        content=body,
        headers={**AS_ANNA, "content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code in (400, 413)
