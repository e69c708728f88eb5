"""The published OpenAPI description of /_sw/*: true to the app, and fuzzed with schemathesis.

schemathesis generates requests from the description (bounded, derandomized) and
sends them in process (ASGI): no answer may be a server error or show a traceback,
and each must be one the description lists. Against a real server it runs every
check it has: what the description allows is accepted, what it forbids is refused.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi import checks as openapi_checks
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from shopwindow.app import create_app
from tests.conftest import DEMO_RULES, LiveServer, build_settings

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


def fuzzed_app() -> Any:
    # Counts go to a throwaway file, not beside the demo rules.
    store = Path(tempfile.mkdtemp(prefix="shopwindow-openapi-")) / "stats.sqlite3"
    settings = build_settings(
        DEMO_RULES, stats_token="t0k3n", stats_flush_seconds=0.05, profile_db=str(store)
    )
    return create_app(settings, watch=False)


APP = fuzzed_app()
schema = schemathesis.openapi.from_asgi("/_sw/openapi.json", APP)


def app_paths(app: Any) -> set[str]:
    found: set[str] = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if isinstance(route, Mount) and path.startswith("/_sw/"):
            found.add(path + "/{path}")
        elif isinstance(route, Route) and path.startswith("/_sw/"):
            found.add(path)
    return found


def test_the_description_lists_exactly_the_apps_sw_routes(client: TestClient) -> None:
    spec = orjson.loads(client.get("/_sw/openapi.json").content)
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == app_paths(client.app)


def test_the_description_lists_every_method_each_route_answers(client: TestClient) -> None:
    spec = orjson.loads(client.get("/_sw/openapi.json").content)
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/_sw/"):
            described = {m.upper() for m in spec["paths"][route.path]}
            answered = set(route.methods or ()) - {"HEAD"} | ({"HEAD"} & described)
            assert described == answered, route.path


def test_every_operation_has_an_id_and_answers_listed(client: TestClient) -> None:
    spec = orjson.loads(client.get("/_sw/openapi.json").content)
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for item in spec["paths"].values():
        for operation in item.values():
            assert operation["responses"], operation["operationId"]


def no_traceback(ctx: Any, response: Any, case: Any) -> bool:
    assert not TRACEBACK.search(response.text), response.text[:500]
    return True


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_never_get_a_server_error(case: Any) -> None:
    response = case.call(headers={"Authorization": "Bearer t0k3n"})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    assert not TRACEBACK.search(response.text), response.text[:500]
    case.validate_response(
        response,
        checks=[
            schemathesis.checks.not_a_server_error,
            openapi_checks.status_code_conformance,
            openapi_checks.content_type_conformance,
        ],
    )


@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
def test_the_description_is_json_everyone_may_cache(client: TestClient, accept: str) -> None:
    response = client.get("/_sw/openapi.json", headers={"accept": accept})
    assert response.headers["content-type"] == "application/json"
    assert "public" in response.headers["cache-control"]


# --- every schemathesis check, against a real server ----------------------------------

ST_CONFIG = """
# 413 (too large) and 414/431 (URL or headers too long) refuse data as 400 does.
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429, 431]

# A schema-valid event may name a product the catalog lacks: 400, saying so for each
# (test_a_valid_event_is_refused_only_for_an_unknown_product checks that it is the only reason).
[[operations]]
include-path = "/_sw/events"
checks.positive_data_acceptance.expected-statuses = [200, 400, 413]
"""


@pytest.mark.slow
def test_every_schemathesis_check_passes_against_a_real_server(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server(
        env={
            "SHOPWINDOW_STATS_TOKEN": "t0k3n",
            "SHOPWINDOW_STAFF_TOKEN": "t0k3n",
            "SHOPWINDOW_PROFILE_DB": str(tmp_path / "shopwindow.sqlite3"),
        }
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(ST_CONFIG)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{server.url}/_sw/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "10",
            "--generation-deterministic",
            "--header",
            "Authorization: Bearer t0k3n",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Tested: 17" in proc.stdout or "passed" in proc.stdout


@pytest.fixture(scope="module")
def app_client() -> Iterator[TestClient]:
    with TestClient(APP, client=("203.0.113.9", 50000), follow_redirects=False) as client:
        yield client


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_a_valid_event_is_refused_only_for_an_unknown_product(
    app_client: TestClient, data: st.DataObject
) -> None:
    case = data.draw(schema["/_sw/events"]["POST"].as_strategy())
    try:
        body = orjson.dumps(case.body)
    except TypeError:  # lone surrogates, integers past 64 bits: no JSON a browser sends
        reject()
    response = app_client.post("/_sw/events", content=body)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        events = case.body if isinstance(case.body, list) else [case.body]
        # An identify's proof is made by the shop's backend: a generated one is refused
        # (the schema says its shape; only the secret can say it is right).
        identifies = {n for n, e in enumerate(events) if e.get("type") == "identify"}
        errors = response.json()["errors"]
        assert errors and all(
            e["error"].startswith("unknown product_id") or e["index"] in identifies for e in errors
        ), errors


# --- what browsers, CDNs and sw.js send is never refused -------------------------------


@pytest.mark.parametrize(
    "accept",
    ["*/*", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "AAA", "", "application/json"],
)
def test_any_accept_is_answered(app_client: TestClient, accept: str) -> None:
    for path in ("/_sw/fragments/recently-viewed", "/_sw/fragments/store-pickup"):
        response = app_client.get(path, headers={"accept": accept})
        assert response.status_code == 200, (path, accept)
    popup = app_client.get(
        "/_sw/popup?trigger=exit&signal=something-new", headers={"accept": accept}
    )
    assert popup.status_code in (200, 204)


def test_a_long_utm_term_is_accepted(app_client: TestClient) -> None:
    term = "red running shoes " * 40  # 720 characters, as a broad-match ad may send
    for path in ("/_sw/fragments/landing-products", "/"):
        response = app_client.get(path, params={"utm_source": "google", "utm_term": term})
        assert response.status_code < 400, (path, response.status_code)


def test_a_chunked_stats_login_with_the_right_token_logs_in(app_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"tok"
        yield b"en=t0k3n"

    response = app_client.post(
        "/_sw/stats/report",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 303
    assert response.headers["location"] == "/_sw/stats/report"
    assert "sw_stats=" in response.headers["set-cookie"]
    wrong = app_client.post(
        "/_sw/stats/report",
        content=iter([b"token=nope"]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert wrong.status_code == 401
    huge = app_client.post(
        "/_sw/stats/report",
        content=iter([b"token=" + b"x" * 5000]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413


def test_the_event_schema_names_every_event_type(client: TestClient) -> None:
    from shopwindow.visitor.events import EVENT_TYPES

    spec = orjson.loads(client.get("/_sw/openapi.json").content)
    kinds = spec["components"]["schemas"]["Event"]["oneOf"]
    described = [t for kind in kinds for t in kind["properties"]["type"]["enum"]]
    # identify is described twice: with a proven customer id, and with null (signing out)
    assert sorted(set(described)) == sorted(EVENT_TYPES)
