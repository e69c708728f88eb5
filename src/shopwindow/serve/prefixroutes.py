"""Routes under a prefix the shop's settings name (landing_prefix), matched against the running shop's."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import URLPath
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, NoMatchFound, request_response
from starlette.types import Receive, Scope, Send

from shopwindow.settings import Settings


class PrefixedPaths(BaseRoute):
    """`{prefix}{value}`: one path segment after a prefix read from the settings, GET and HEAD only.

    A subclass names its prefix (`prefix_of`), the path parameter the segment
    becomes (`param`) and the route's name in metrics (`path`), whatever the prefix.
    """

    path: str
    param: str

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint
        self.app = request_response(endpoint)

    def prefix_of(self, settings: Settings) -> str:
        raise NotImplementedError

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        prefix = self.prefix_of(scope["app"].state.shop.settings)
        path: str = scope["path"]
        if not path.startswith(prefix):
            return Match.NONE, {}
        value = path[len(prefix) :].strip("/")
        if not value or "/" in value:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": {self.param: value}}
        if scope["method"] not in ("GET", "HEAD"):
            return Match.PARTIAL, child
        return Match.FULL, child

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"}
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
