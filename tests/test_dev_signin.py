"""The demo's "sign in as a sample customer": --dev only, sample ids only, the shop's own proof."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable

import httpx
from starlette.testclient import TestClient

from shopwindow.profiles.devsignin import PATH, SAMPLE_CUSTOMERS
from shopwindow.settings import PROJECT_ROOT
from shopwindow.visitor.identity import user_hash
from tests.conftest import IDENTITY_SECRET, LiveServer
from tests.profile_fixtures import visitor_of

EXAMPLE = PROJECT_ROOT / "examples" / "identity" / "identify.py"


def event_in(page: str) -> dict[str, object]:
    found = re.search(r"JSON\.stringify\((\{.*?\})\)", page)
    assert found, page
    event: dict[str, object] = json.loads(found.group(1))
    return event


def test_the_dev_sign_in_signs_a_sample_customer_as_a_shops_backend_would(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(dev=True)
    listing = client.get(PATH)
    assert listing.status_code == 200
    for customer in SAMPLE_CUSTOMERS:
        assert f"?customer={customer}" in listing.text
    customer = next(iter(SAMPLE_CUSTOMERS))
    page = client.get(PATH, params={"customer": customer})
    event = event_in(page.text)
    assert event == {
        "type": "identify",
        "customer_id": customer,
        "user_hash": user_hash(IDENTITY_SECRET, customer),
    }
    assert client.post("/_sw/events", json=event).status_code == 200
    assert visitor_of(client.cookies.get("sw")).customer_id == customer
    out = event_in(client.get(PATH, params={"customer": ""}).text)
    assert client.post("/_sw/events", json=out).status_code == 200
    assert visitor_of(client.cookies.get("sw")).customer_id is None


def test_no_endpoint_signs_other_ids_and_without_dev_there_is_none(
    make_client: Callable[..., TestClient],
) -> None:
    dev = make_client(dev=True)
    for other in ("c1", "C-104233x", "<script>"):
        answer = dev.get(PATH, params={"customer": other})
        assert answer.status_code == 404
        assert "user_hash" not in answer.text
    plain = make_client()
    assert plain.get(PATH).status_code == 404
    assert plain.get(PATH, params={"customer": "C-104233"}).status_code == 404


def test_the_python_example_makes_proofs_the_server_accepts(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    env = {**os.environ, "SHOPWINDOW_IDENTITY_SECRET": IDENTITY_SECRET}
    for extra in ([], ["--token"]):
        made = subprocess.run(
            [sys.executable, str(EXAMPLE), "C-555", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        event = json.loads(made.stdout)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            answer = client.post("/_sw/events", json=event)
            assert answer.status_code == 200, answer.text
            wrong = client.post("/_sw/events", json={**event, "customer_id": "C-556"})
            assert wrong.status_code == 400
