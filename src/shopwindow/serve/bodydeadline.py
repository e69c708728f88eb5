"""Deadlines on reading a request body: a client that stops sending gets 408 and its connection closed.

The server bounds the head (serve/httpserver.py); the body is read by the endpoint,
so the bound sits around `receive`: each piece must arrive within the idle time
and the whole body within the total. Past either, the client is answered 408
(when no answer has started yet) and the endpoint sees the client gone, as
after a disconnect. A request that ends that way, or because the client left
mid-upload, is logged as one line, not as a failed request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from shopwindow.serve.limits import refusal_response

log = logging.getLogger("shopwindow.body")

_GONE: Message = {"type": "http.disconnect"}


@dataclass(frozen=True, slots=True)
class BodyLimits:
    idle: float = 10.0
    total: float = 60.0


def carries_body(scope: Scope) -> bool:
    """Whether the request announces a body (Content-Length above 0, or chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


class BodyDeadline:
    """`receive` and `send` for one request whose body is read under deadlines."""

    __slots__ = (
        "_receive",
        "_send",
        "clock",
        "ends",
        "expired",
        "finished",
        "gone",
        "idle",
        "started",
        "total",
    )

    def __init__(
        self,
        receive: Receive,
        send: Send,
        limits: BodyLimits,
        clock: Callable[[], float],
    ) -> None:
        self._receive = receive
        self._send = send
        self.clock = clock
        self.idle = limits.idle
        self.total = limits.total
        self.ends = clock() + limits.total
        self.expired = ""  # which deadline passed, once one has
        self.finished = False  # the whole body has arrived: no deadline any more
        self.gone = False  # the client disconnected before its body was complete
        self.started = False

    async def receive(self) -> Message:
        if self.expired:
            return _GONE
        if self.finished or self.started:
            return await self._receive()
        left = self.ends - self.clock()
        wait = min(self.idle, left)
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                message = await self._receive()
        except TimeoutError:
            self.expired = "idle" if wait < left else "total"
            await self._refuse()
            return _GONE
        if message["type"] == "http.request":
            if not message.get("more_body", False):
                self.finished = True
        elif message["type"] == "http.disconnect":
            self.gone = True
        return message

    async def send(self, message: Message) -> None:
        if self.expired:
            return  # the 408 went out in the endpoint's place
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _refuse(self) -> None:
        if self.started:
            return
        self.started = True
        reason = (
            "request body not received in time"
            if self.expired == "total"
            else "request body stopped arriving"
        )
        for message in refusal_response(408, reason):
            await self._send(message)


async def read_with_deadline(
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    scope: Scope,
    receive: Receive,
    send: Send,
    limits: BodyLimits,
    clock: Callable[[], float],
) -> None:
    """Run `app` for a request with a body; a client too slow or gone is one log line."""
    deadline = BodyDeadline(receive, send, limits, clock)
    try:
        await app(scope, deadline.receive, deadline.send)
    except Exception as exc:
        # Whatever the endpoint (or the origin client streaming the body on) made of
        # a missing body, the cause is the client: not a server error to trace.
        if not (deadline.expired or deadline.gone or isinstance(exc, ClientDisconnect)):
            raise
        if deadline.expired:
            log.info(
                "%s %s: request body %s, answered 408",
                scope.get("method"),
                scope.get("path"),
                "not complete in time" if deadline.expired == "total" else "stopped arriving",
            )
        else:
            log.info(
                "%s %s: client left before its request body was complete",
                scope.get("method"),
                scope.get("path"),
            )
