"""What a request may bring (head size, header count, query length), and redirects kept on the site.

The server enforces the head limits while it reads (see serve/httpserver.py, so an
oversize head never sits in memory); the application's entry (serve/entry.py)
enforces them again for any server and for in-process clients, before anything
is parsed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Message, Scope, Send

from shopwindow.visitor.tracking import carried_query

NOSNIFF = (b"x-content-type-options", b"nosniff")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CONTROL = re.compile(rb"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class HeadLimits:
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_query_bytes: int = 8192
    head_timeout: float = 10.0

    @staticmethod
    def of(values: Any) -> HeadLimits:
        """From Settings, or from the settings' values as a worker process receives them."""
        found: dict[str, Any] = values if isinstance(values, dict) else dict(values.values)
        default = HeadLimits()
        return HeadLimits(
            int(found.get("max_header_bytes", default.max_header_bytes)),
            int(found.get("max_headers", default.max_headers)),
            int(found.get("max_query_bytes", default.max_query_bytes)),
            float(found.get("head_timeout_seconds", default.head_timeout)),
        )

    @staticmethod
    def from_environment() -> HeadLimits:
        """The limits `shopwindow serve` handed to this worker (defaults when run otherwise)."""
        raw = os.environ.get("SHOPWINDOW_SETTINGS_JSON")
        return HeadLimits.of(orjson.loads(raw)) if raw else HeadLimits()

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, reason) when the request's head is over a limit; None when it is fine."""
        query: bytes = scope.get("query_string", b"")
        if len(query) > self.max_query_bytes:
            return 414, f"query string longer than {self.max_query_bytes} bytes"
        if not query.isascii():
            # Raw bytes over 0x7f are not a URL (RFC 3986 wants them %-encoded); uvicorn
            # refuses them itself, other servers pass them on to code expecting text.
            return 400, "query string must be ASCII: percent-encode other bytes"
        headers = scope["headers"]
        if len(headers) > self.max_headers:
            return 431, f"more than {self.max_headers} request headers"
        size = len(scope.get("raw_path") or b"") + len(query) + 4 * len(headers)
        for name, value in headers:
            size += len(name) + len(value)
        if size > self.max_header_bytes:
            return 431, f"request head larger than {self.max_header_bytes} bytes"
        return None


def refusal_response(status: int, reason: str) -> tuple[Message, Message]:
    body = f"{reason}\n".encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"connection", b"close"),
            NOSNIFF,
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class CheckedSend:
    """`send` for an answer whose head is checked on its way out (see outgoing).

    A class, not a closure: a closure defined in a compiled coroutine is held by
    the coroutine's own scope, a reference cycle per request that only the
    garbage collector frees.
    """

    __slots__ = ("scope", "send", "started", "status")

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self.send = send
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            message = outgoing(self.scope, message)
        await self.send(message)


def outgoing(scope: Scope, message: Message) -> Message:
    """An answer's head as it leaves: redirects kept on the site, `nosniff` on every answer."""
    headers: list[tuple[bytes, bytes]] = message.get("headers", [])
    if message["status"] in _REDIRECTS and any(
        # A path on this site ("/de/", not "//host") needs no second look.
        name == b"location" and (value[:1] != b"/" or value[:2] == b"//")
        for name, value in headers
    ):
        headers = [
            (name, _on_site(scope, value) if name == b"location" else value)
            for name, value in headers
        ]
    for name, _value in headers:
        if name == b"x-content-type-options":
            break
    else:
        headers = [*headers, NOSNIFF]  # a new list: the response's own stays as it was
    message["headers"] = headers
    return message


def _on_site(scope: Scope, location: bytes) -> bytes:
    """The router's own redirects name the request's Host; a visitor chooses that header.

    Such a Location is made relative (and refused if it could still leave), so
    `Host: evil.example` cannot turn a trailing-slash redirect into one off the site.
    """
    host = b""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    scheme = str(scope.get("scheme", "http")).encode()
    prefix = scheme + b"://" + host
    if not host or not location.startswith(prefix):
        return location
    rest = location[len(prefix) :]
    if rest[:1] not in (b"", b"/", b"?", b"#"):
        return location  # another host that merely starts like this one
    target = rest if rest.startswith(b"/") else b"/" + rest
    # Relative now, so only a second slash or a backslash up front, or a control
    # character, could still send a browser elsewhere.
    if target.startswith((b"//", b"/\\")) or _CONTROL.search(target):
        return b"/"
    path, sep, query = target.partition(b"?")
    if sep and b"sw_" in query:
        # The visitor's parameters go along (trackers read them on the next page);
        # shopwindow's own preview switches do not.
        target = path + b"?" + carried_query(query.decode("latin-1")).encode("latin-1")
    return target
