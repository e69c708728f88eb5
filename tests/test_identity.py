"""A customer's profile is theirs alone: each attack on identify, over HTTP with SQLite and Redis."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from shopwindow import settings as settings_mod
from shopwindow.visitor.cookie import CookieCodec
from shopwindow.visitor.identity import Identity, IdentityRefused, identity_token, user_hash
from tests.conftest import IDENTITY_SECRET, SECRET, LiveServer, identify_event
from tests.profile_fixtures import (
    cli,
    eventually,
    import_store_csv,
    rules_header,
    visitor_of,
    write_journey_rules,
)

Backend = dict[str, Any]
VICTIM_VIEWS = ("w-run-007", "w-run-008")
VICTIM_CART = "w-run-009"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, rules_dir: Path, tmp_path: Path) -> Backend:
    """A profile store that already holds the customer c1 (store purchases) and her browsing."""
    write_journey_rules(rules_dir)
    base: Backend = {"overrides": {"profile_cache_seconds": 0.0, "profile_flush_ms": 10}}
    if request.param == "sqlite":
        backend: Backend = {**base, "flags": []}
    else:
        url = request.getfixturevalue("redis_server").url
        base["overrides"].update(redis=url, redis_timeout_ms=2000)
        backend = {**base, "flags": ["--redis", url]}
    import_store_csv(tmp_path, rules_dir, *backend["flags"])
    return backend


@pytest.fixture
def shop_client(
    make_client: Callable[..., TestClient], backend: Backend
) -> Callable[..., TestClient]:
    def make(**more: Any) -> TestClient:
        return make_client(**{**backend["overrides"], **more})

    return make


def show(rules: Path, backend: Backend, customer: str) -> dict[str, Any] | None:
    code, out, _ = cli(["profile", "show", customer, "--rules", str(rules), *backend["flags"]])
    return orjson.loads(out) if code == 0 else None


def post(client: TestClient, *events: dict[str, Any]) -> Any:
    return client.post("/_sw/events", json=list(events))


def victim_browses(
    shop_client: Callable[..., TestClient], rules: Path, backend: Backend, customer: str = "c1"
) -> dict[str, Any]:
    """The customer signs in on her phone (with the shop's proof), browses and fills her cart."""
    phone = shop_client()
    views = [{"type": "view", "product_id": p} for p in VICTIM_VIEWS]
    cart = {"type": "add_to_cart", "product_id": VICTIM_CART, "price": 61.5}
    assert post(phone, identify_event(customer), *views, cart).status_code == 200
    return eventually(lambda: (p := show(rules, backend, customer)) and p["cart"] and p)


def barrier(client: TestClient, rules: Path, backend: Backend) -> None:
    """Everything this node queued before is written once a proven customer's view is.

    Each node writes its queue in order, so this is how a test waits for writes
    that must not happen without measuring time.
    """
    marker = f"barrier-{time.monotonic_ns()}"
    assert post(client, identify_event(marker)).status_code == 200
    eventually(lambda: show(rules, backend, marker))


def cookie_text(client: TestClient) -> str:
    """What anyone holding the cookie can read without the secret."""
    value = client.cookies.get("sw") or ""
    payload = value.split(".")[1] if value.count(".") == 2 else ""
    raw = base64.urlsafe_b64decode(payload + "==")
    return raw.decode("latin-1")


UNPROVEN = {
    "no proof": lambda cid: {"type": "identify", "customer_id": cid},
    "wrong user_hash": lambda cid: {"type": "identify", "customer_id": cid, "user_hash": "ab" * 32},
    "another customer's user_hash": lambda cid: {
        "type": "identify",
        "customer_id": cid,
        "user_hash": user_hash(IDENTITY_SECRET, "c2"),
    },
    "expired token": lambda cid: {
        "type": "identify",
        "customer_id": cid,
        "token": identity_token(IDENTITY_SECRET, cid, int(time.time()) - 60),
    },
    "hash from another secret": lambda cid: {
        "type": "identify",
        "customer_id": cid,
        "user_hash": user_hash("not-the-shops-identity-secret", cid),
    },
}


# --- reading a customer ----------------------------------------------------------------


@pytest.mark.parametrize("customer", ["c1", "anna@example.com"], ids=["by-id", "email-as-id"])
def test_an_unproven_claim_reads_nothing_of_the_customer(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend, customer: str
) -> None:
    victim_browses(shop_client, rules_dir, backend, customer)
    for reason, claim in UNPROVEN.items():
        attacker = shop_client()
        answer = post(attacker, claim(customer))
        assert answer.status_code == 400, reason
        assert answer.json()["errors"][0]["error"], reason
        seen = visitor_of(attacker.cookies.get("sw"))
        assert seen.customer_id is None, reason
        assert (seen.viewed, seen.cart, seen.full_price) == ([], [], []), reason
        strip = attacker.get(
            "/_sw/fragments/recently-viewed", headers={"accept": "application/json"}
        )
        assert strip.json()["items"] == [], reason
        pickup = attacker.get("/_sw/fragments/store-pickup", headers={"accept": "application/json"})
        assert pickup.json() == {"preferred_store": None}, reason
        assert "store-pickup" not in attacker.get("/de/").text, reason
        popup = attacker.get("/_sw/popup")
        assert popup.status_code in (200, 204), reason
        # The rules see a stranger: the first-order welcome, not the store customer's page.
        assert rules_header(attacker.get("/")) == "first-order-welcome", reason


def test_a_proven_customer_is_linked_and_her_cookie_shows_nothing_readable(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    victim_browses(shop_client, rules_dir, backend)
    laptop = shop_client()
    expires = int(time.time()) + 600
    token = identity_token(IDENTITY_SECRET, "c1", expires)
    answer = post(laptop, {"type": "identify", "customer_id": "c1", "token": token})
    assert answer.status_code == 200, answer.text
    seen = visitor_of(laptop.cookies.get("sw"))
    assert seen.customer_id == "c1"
    assert set(VICTIM_VIEWS) <= set(seen.viewed)
    assert [line[0] for line in seen.cart] == [VICTIM_CART]
    assert "w-run-001" in seen.full_price  # bought in a store at full price
    text = cookie_text(laptop)
    # The id as a JSON string: two bare letters also turn up by chance in the sealed text.
    for secret_bit in ('"c1"', *VICTIM_VIEWS, VICTIM_CART, "w-run-001", "61.5"):
        assert secret_bit not in text, secret_bit
    assert rules_header(laptop.get("/")) == "store-customer"
    pickup = laptop.get("/_sw/fragments/store-pickup", headers={"accept": "application/json"})
    assert pickup.json() == {"preferred_store": "Berlin Mitte"}


# --- writing into a customer ------------------------------------------------------------


def test_an_unproven_claim_writes_nothing_into_the_customer(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    before = victim_browses(shop_client, rules_dir, backend)
    attacker = shop_client()
    post(attacker, {"type": "identify", "customer_id": "c1"})
    order = {
        "type": "purchase",
        "order_id": "EVIL-1",
        "items": [{"product_id": "m-run-001", "price": 999_999, "full_price": True}],
    }
    events = [
        order,
        {"type": "remove_from_cart", "product_id": VICTIM_CART},
        *({"type": "view", "product_id": f"m-run-00{n}"} for n in range(1, 4)),
        {"type": "add_to_cart", "product_id": "m-run-002"},
        {"type": "popup_shown", "rule": "first-order"},
        {"type": "popup_dismissed", "rule": "first-order"},
    ]
    assert post(attacker, *events).status_code == 200
    attacker.get("/_sw/popup")  # serving a popup records a show: on the attacker's cookie only
    barrier(attacker, rules_dir, backend)
    after = show(rules_dir, backend, "c1")
    assert after is not None
    for key in ("orders", "online_orders", "lifetime_value", "products", "cart", "viewed"):
        assert after[key] == before[key], key
    assert after["affinity"] == before["affinity"]
    assert after["popups"] == before["popups"]
    assert after["last_seen"] == before["last_seen"]


# --- an existence oracle ----------------------------------------------------------------


def test_known_and_unknown_ids_answer_the_same(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    victim_browses(shop_client, rules_dir, backend)
    answers = []
    for customer in ("c1", "nobody-at-all"):
        client = shop_client()
        beacon = post(client, {"type": "identify", "customer_id": customer})
        wrong = post(client, {**identify_event("c2"), "customer_id": customer})
        html = client.get("/_sw/fragments/store-pickup")
        data = client.get("/_sw/fragments/store-pickup", headers={"accept": "application/json"})
        answers.append(
            (
                beacon.status_code,
                beacon.json(),
                wrong.json(),
                html.text,
                data.json(),
                rules_header(client.get("/")),
            )
        )
    assert answers[0] == answers[1]


# --- a way out --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sign_out",
    [{"type": "logout"}, {"type": "identify", "customer_id": None}],
    ids=["logout", "identify-null"],
)
def test_a_shared_computer_forgets_the_customer_on_sign_out(
    shop_client: Callable[..., TestClient],
    rules_dir: Path,
    backend: Backend,
    sign_out: dict[str, Any],
) -> None:
    victim_browses(shop_client, rules_dir, backend)
    shared = shop_client()
    assert post(shared, identify_event("c1")).status_code == 200
    linked = visitor_of(shared.cookies.get("sw"))
    assert linked.customer_id == "c1" and linked.viewed
    assert post(shared, sign_out).status_code == 200
    fresh = visitor_of(shared.cookies.get("sw"))
    assert fresh.customer_id is None
    assert fresh.id != linked.id
    assert (fresh.viewed, fresh.cart, fresh.full_price, fresh.gender) == ([], [], [], {})
    assert rules_header(shared.get("/")) == "first-order-welcome"
    # The next person's activity stays theirs.
    post(
        shared,
        {"type": "view", "product_id": "k-run-001"},
        {"type": "add_to_cart", "product_id": "m-run-002"},
    )
    barrier(shared, rules_dir, backend)
    after = show(rules_dir, backend, "c1")
    assert after is not None
    assert "k-run-001" not in after["viewed"]
    assert [line[0] for line in after["cart"]] == [VICTIM_CART]


def test_switching_customers_on_one_device_moves_nothing_between_them(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    victim_browses(shop_client, rules_dir, backend)
    device = shop_client()
    post(device, identify_event("c1"), {"type": "view", "product_id": "w-run-010"})
    # In one beacon: the switch, then the second customer's view.
    post(device, identify_event("c2"), {"type": "view", "product_id": "m-run-003"})
    seen = visitor_of(device.cookies.get("sw"))
    assert seen.customer_id == "c2"
    assert not set(seen.viewed) & {*VICTIM_VIEWS, "w-run-010"}
    assert seen.cart == []
    c2 = eventually(lambda: (p := show(rules_dir, backend, "c2")) and p["viewed"] and p)
    assert c2["viewed"] == ["m-run-003"]
    assert c2["cart"] == []
    c1 = eventually(
        lambda: (p := show(rules_dir, backend, "c1")) and "w-run-010" in p["viewed"] and p
    )
    assert "m-run-003" not in c1["viewed"]


# --- proofs, rotation, old cookies --------------------------------------------------------


def test_proofs_right_wrong_expired_and_from_a_fallback_secret() -> None:
    now = 1_800_000_000
    identity = Identity("new-identity-secret", ["old-identity-secret"])
    assert identity.verify("c1", user_hash("new-identity-secret", "c1"), now=now) == "c1"
    assert identity.verify("c1", user_hash("old-identity-secret", "c1"), now=now) == "c1"
    token = identity_token("old-identity-secret", "c1", now + 300)
    assert identity.verify("c1", None, token, now=now) == "c1"
    refusals = {
        "no proof": (None, None, now),
        "other customer's": (user_hash("new-identity-secret", "c2"), None, now),
        "unknown secret": (user_hash("retired-long-ago", "c1"), None, now),
        "expired token": (None, token, now + 301),
        "token for another": (None, identity_token("new-identity-secret", "c2", now + 60), now),
        "token too long-lived": (
            None,
            identity_token("new-identity-secret", "c1", now + 10**7),
            now,
        ),
        "malformed token": (None, "not-a-token", now),
    }
    for case, (hashed, tok, at) in refusals.items():
        with pytest.raises(IdentityRefused):
            identity.verify("c1", hashed, tok, now=at)
            pytest.fail(case)
    with pytest.raises(IdentityRefused, match="identify is off"):
        Identity("").verify("c1", user_hash("", "c1"), now=now)


def test_without_identity_secret_identify_is_off(
    make_client: Callable[..., TestClient], rules_dir: Path
) -> None:
    client = make_client(identity_secret="")
    answer = post(client, identify_event("c1"))
    assert answer.status_code == 400
    assert "identify is off" in answer.json()["errors"][0]["error"]
    assert visitor_of(client.cookies.get("sw")).customer_id is None


def test_a_server_without_identity_secret_says_at_start_that_identify_is_off(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(env={"SHOPWINDOW_IDENTITY_SECRET": ""})
    assert "identify is off" in server.log.read_text()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post("/_sw/events", json=identify_event("c1"))
    assert answer.status_code == 400 and "identify is off" in answer.text


def test_production_refuses_a_short_identity_secret(rules_dir: Path) -> None:
    env = {
        "SHOPWINDOW_ENV": "production",
        "SHOPWINDOW_SECRET": "s" * 40,
        "SHOPWINDOW_IDENTITY_SECRET": "short",
    }
    with pytest.raises(settings_mod.SettingsError, match="openssl rand -hex 32"):
        settings_mod.load({"rules": str(rules_dir)}, environ=env)


def set_cookie(answer: Any) -> str:
    found = re.search(r"\bsw=([^;]+)", answer.headers.get("set-cookie", ""))
    assert found, "the answer signs a cookie again"
    return found.group(1)


def _signed(codec: CookieCodec, payload: dict[str, Any]) -> str:
    body = b"1." + base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=")
    return (body + b"." + codec._keys.tag(body)).decode()


def test_an_old_cookie_linked_without_proof_reads_as_the_device_alone(
    make_client: Callable[..., TestClient],
) -> None:
    codec = CookieCodec(SECRET, 365)
    now = int(time.time())
    old = _signed(
        codec,
        {
            "v": 1,
            "i": "device-1",
            "s": 3,
            "t": now,
            "a": now,
            "x": "c1",
            "r": ["w-run-001"],
            "k": [["w-run-002", 1, 72.95]],
            "f": ["w-run-003"],
            "q": ["trail shoes"],
            "b": {"hero": "a"},
        },
    )
    seen = codec.decode(old)
    assert seen is not None
    assert seen.customer_id is None
    assert (seen.viewed, seen.cart, seen.full_price) == ([], [], [])
    assert (seen.id, seen.sessions, seen.searches, seen.buckets) == (
        "device-1",
        3,
        ["trail shoes"],
        {"hero": "a"},
    )
    assert seen.changed  # written again without the customer's fields
    client = make_client()
    client.cookies.set("sw", old)
    answer = client.get("/_sw/fragments/store-pickup", headers={"accept": "application/json"})
    assert answer.json() == {"preferred_store": None}
    rewritten = visitor_of(set_cookie(answer))
    assert rewritten.id == "device-1" and rewritten.customer_id is None


def test_a_cookie_signed_with_a_fallback_secret_is_read_and_signed_again(
    make_client: Callable[..., TestClient],
) -> None:
    old_codec = CookieCodec("the-secret-before-rotation", 365)
    client = make_client(secret_fallbacks=["the-secret-before-rotation"])
    post(client, identify_event("c1"), {"type": "search", "query": "trail"})
    # The same visitor as the previous secret would have signed it.
    visitor = visitor_of(client.cookies.get("sw"))
    rotated = make_client(secret_fallbacks=["the-secret-before-rotation"])
    rotated.cookies.set("sw", old_codec.encode(visitor))
    answer = rotated.get("/de/")
    assert answer.status_code == 200
    again = visitor_of(set_cookie(answer))
    assert (again.id, again.customer_id, again.searches) == (visitor.id, "c1", ["trail"])
    # Without the fallback, the same cookie starts a new visitor.
    plain = make_client()
    plain.cookies.set("sw", old_codec.encode(visitor))
    assert visitor_of(set_cookie(plain.get("/de/"))).id != visitor.id


def test_proofs_made_with_the_previous_identity_secret_still_link_during_a_rotation(
    shop_client: Callable[..., TestClient],
) -> None:
    rotated = {"identity_secret": "the-new-identity-secret-" + "0" * 16}
    during = shop_client(**rotated, identity_secret_fallbacks=[IDENTITY_SECRET])
    assert post(during, identify_event("c1")).status_code == 200
    assert visitor_of(during.cookies.get("sw")).customer_id == "c1"
    after = shop_client(**rotated)
    assert post(after, identify_event("c1")).status_code == 400
    assert visitor_of(after.cookies.get("sw")).customer_id is None


def test_staff_search_and_profile_show_find_emails_hashed_with_a_previous_secret(
    shop_client: Callable[..., TestClient], rules_dir: Path, backend: Backend
) -> None:
    new_secret = "the-new-cookie-secret-" + "1" * 20
    token = "staff-token-" + "2" * 24
    auth = {"authorization": f"Bearer {token}"}
    email = {"email": "anna@example.com"}
    without = shop_client(secret=new_secret, staff_token=token)
    assert without.post("/_sw/staff/search", data=email, headers=auth).status_code == 404
    during = shop_client(secret=new_secret, secret_fallbacks=[SECRET], staff_token=token)
    found = during.post("/_sw/staff/search", data=email, headers=auth)
    assert found.status_code == 200 and "Berlin Mitte" in found.text
    # Found under the old secret, the email was stored again under the new one.
    again = without.post("/_sw/staff/search", data=email, headers=auth)
    assert again.status_code == 200 and "Berlin Mitte" in again.text
    # The same for `profile show` (another customer, so the search above re-keyed nothing).
    flags = ["profile", "show", "--email", "ben@example.com", "--rules", str(rules_dir)]
    new_only = {"SHOPWINDOW_SECRET": new_secret}
    assert cli([*flags, *backend["flags"]], env=new_only)[0] != 0
    env = {**new_only, "SHOPWINDOW_SECRET_FALLBACKS": SECRET}
    code, out, _ = cli([*flags, *backend["flags"]], env=env)
    assert code == 0 and orjson.loads(out)["customer_id"] == "c2"
    code, out, _ = cli([*flags, *backend["flags"]], env=new_only)
    assert code == 0 and orjson.loads(out)["customer_id"] == "c2"
