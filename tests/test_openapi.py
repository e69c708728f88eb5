"""The published OpenAPI description of /_sw/*: true to the app, and fuzzed with schemathesis.

schemathesis generates requests from the description (bounded, derandomized in
CI) and sends them in process (ASGI): no answer may be a server error or show a
traceback, and each must be one the description lists.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from shopwindow.app import create_app
from tests.conftest import DEMO_RULES, build_settings

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
