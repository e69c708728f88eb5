"""How `shopwindow serve` runs its HTTP server: explicit limits, timeouts and worker supervision.

uvicorn's httptools protocol reads a request head of any size and waits for it
forever; the protocol here counts the head as it arrives (a 431 or 414 once it
is over the limit, before the rest is buffered) and closes a connection that
has not sent its head in time (slowloris). The application's entry (serve/entry.py)
checks the same limits again inside the app, whatever server runs it. An
answer's head and body leave in one write (CoalescedWrites).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shopwindow.serve.limits import HeadLimits
from shopwindow.settings import Settings

PROTOCOL = "shopwindow.serve.httpserver:LimitedHttpToolsProtocol"
GRACEFUL_SECONDS = 10  # in-flight requests get this long to finish on SIGTERM
WORKER_START_SECONDS = 60  # a new worker loads rules and catalog before it is healthy
# A connection accepted before a shutdown whose request has not been read yet gets
# this long for it to arrive (it is usually already on its way).
SHUTDOWN_GRACE_SECONDS = 2.0


@functools.lru_cache(maxsize=1)
def worker_limits() -> HeadLimits:
    # Read once per worker process, from the settings `serve` handed over.
    return HeadLimits.from_environment()


FLUSH_AT = 64 * 1024  # bytes held back at most before they are written anyway


class CoalescedWrites:
    """A connection's transport whose writes in one turn of the event loop go out as one.

    uvicorn writes an answer's head when it starts and its body when it comes:
    two system calls and, with TCP_NODELAY, two packets for every answer with a
    body. Held until the end of the loop's turn (or FLUSH_AT bytes), they are
    one. Closing writes what is held first; writes to a closing connection are
    dropped, as the transport's own are.
    """

    __slots__ = ("_held", "_loop", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()  # a large answer: flow control sees it at once

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held, self._held, self._size = self._held, [], 0
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # pause_reading, resume_reading, get_extra_info, abort, ...: the transport's own.
        return getattr(self._transport, name)


class HeadTooLarge(Exception):
    pass


# What a connection is waiting for, and so which deadline it is under.
HEAD = 1  # a request's head: head_timeout from the connection or the request's first byte
ANSWER = 2  # the application's answer: no deadline
NEXT = 3  # the next request on a kept-alive connection: keep-alive seconds


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and a deadline to send it.

    The head deadline and the keep-alive deadline share one timer per connection:
    a request moves the deadline (a float), not a timer. The timer fires at most
    every `_tick` seconds (the shorter timeout) and looks: a deadline passed is
    acted on, one still ahead gets the timer again. Any deadline set later is at
    least `_tick` ahead, so the timer never fires late.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = worker_limits()
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True  # between a request's first byte (or the connection) and its body
        self._unparsed = 0  # bytes received while the head was incomplete
        self._refusal: tuple[int, str] | None = None
        self._waiting_for = HEAD
        self._deadline = 0.0  # loop time by which what the connection waits for must come
        self._tick = min(self.limits.head_timeout, float(self.timeout_keep_alive))
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._last_request = False  # the server is shutting down: answer one, then close

    # --- the head and keep-alive deadlines -----------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescedWrites(transport, self.loop)  # type: ignore[assignment]
        self._wait_for(HEAD, self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def _wait_for(self, what: int, seconds: float) -> None:
        self._waiting_for = what
        now = self.loop.time()
        self._deadline = now + seconds
        if self._timer is None or self._deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(min(self._deadline, now + self._tick))

    def _arm(self, at: float) -> None:
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._deadline_check)

    def _deadline_check(self) -> None:
        self._timer = None
        if self._waiting_for == ANSWER or self.transport.is_closing():
            return  # the next deadline arms the timer again
        now = self.loop.time()
        if now < self._deadline:
            self._arm(min(self._deadline, now + self._tick))
        elif self._waiting_for == HEAD:
            self._head_too_slow()
        else:
            self.timeout_keep_alive_handler()

    def _head_too_slow(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its head arrived in time
        self._write_refusal(408, "request head not received in time")

    def on_response_complete(self) -> None:
        # uvicorn's, with the keep-alive deadline on this connection's one timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._wait_for(NEXT, self.timeout_keep_alive)

    # --- the head's size -----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._waiting_for == NEXT:
            self._wait_for(HEAD, self.limits.head_timeout)  # the next request has begun
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # httptools keeps a header line to itself until its end arrives, so a line
            # that never ends is counted here, as raw bytes. (A chunk that also ends the
            # previous request counts whole: the bound is never less than the limit.)
            self._unparsed += len(data)
            if self._unparsed > self.limits.max_header_bytes:
                self._write_refusal(
                    431, f"request head larger than {self.limits.max_header_bytes} bytes"
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True
        self._unparsed = 0
        if self._waiting_for != HEAD:
            self._wait_for(HEAD, self.limits.head_timeout)  # a pipelined request

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(414, f"request line longer than {self.limits.max_header_bytes} bytes")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(431, f"more than {self.limits.max_headers} request headers")
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"request head larger than {self.limits.max_header_bytes} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._waiting_for = ANSWER
        self._in_head = False
        super().on_headers_complete()
        if self._last_request and self.cycle is not None:
            self.cycle.keep_alive = False

    # --- graceful shutdown ---------------------------------------------------------------

    def shutdown(self) -> None:
        """uvicorn closes a connection at once when no request is being answered on it.

        For a kept-alive connection between requests that is right. For one accepted
        moments ago whose request has not been read yet, it loses a request the client
        has already sent: that one gets a short grace to arrive, is answered, and closed.
        """
        if self.cycle is None and not self.transport.is_closing():
            self._last_request = True
            self.loop.call_later(SHUTDOWN_GRACE_SECONDS, self._close_unless_answering)
            return
        super().shutdown()

    def _close_unless_answering(self) -> None:
        busy = self.cycle is not None and not self.cycle.response_complete
        if not busy and not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        # Raising stops the parser; uvicorn then answers through send_400_response.
        self._refusal = (status, reason)
        raise HeadTooLarge(reason)

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._write_refusal(*self._refusal)

    def _write_refusal(self, status: int, reason: str) -> None:
        body = f"{reason}\n".encode()
        head = [
            STATUS_LINE[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"cache-control: no-store\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Every limit and timeout uvicorn runs with, spelled out rather than left to its defaults."""
    limits = HeadLimits.of(settings)
    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "access_log": False,
        "log_level": "info",
        "loop": "uvloop",
        "http": PROTOCOL,
        # Whose X-Forwarded-For to believe is shopwindow's --trusted-proxy, not uvicorn's
        # default (which trusts 127.0.0.1 and rewrites the client address before we see it).
        "proxy_headers": False,
        "server_header": False,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "timeout_worker_healthcheck": WORKER_START_SECONDS,
        # Only used if the http protocol is switched to h11: the same bound on the head.
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "backlog": 2048,
    }


def granian_options(settings: Settings) -> dict[str, Any]:
    """The same limits for granian: head size and deadline, concurrency, failed workers restarted."""
    from granian.http import HTTP1Settings

    limits = HeadLimits.of(settings)
    return {
        "http1_settings": HTTP1Settings(
            header_read_timeout=int(limits.head_timeout * 1000),
            # The read buffer is what bounds the head: granian answers 431 once a head
            # outgrows it, and a larger one would wait for the deadline instead
            # (granian's own floor is 8192 bytes). Bodies are read in pieces.
            max_buffer_size=max(limits.max_header_bytes, 8192),
        ),
        "backpressure": settings.max_connections,
        "respawn_failed_workers": True,
        "workers_kill_timeout": GRACEFUL_SECONDS,
    }
