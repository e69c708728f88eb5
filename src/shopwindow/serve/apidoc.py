"""GET /_sw/openapi.json: the OpenAPI 3 description of the /_sw/ endpoints.

The description is written by hand (src/shopwindow/openapi.json); tests keep it
true: its paths are the app's /_sw/ routes, generated requests against it never
get a server error, and every schemathesis check passes against a real server
(what it allows is accepted, what it forbids is refused).
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SPEC_PATH = "/_sw/openapi.json"
SPEC = resources.files("shopwindow").joinpath("openapi.json").read_bytes()


async def openapi_endpoint(request: Request) -> Response:
    return Response(
        SPEC, media_type="application/json", headers={"Cache-Control": "public, max-age=3600"}
    )


routes = [Route(SPEC_PATH, openapi_endpoint, methods=["GET"])]
