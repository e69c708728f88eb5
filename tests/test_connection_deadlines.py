"""A kept-alive connection's deadlines on the real server: the next request's head, and idleness.

The head deadline and the keep-alive deadline share one timer per connection
(serve/httpserver.py); each must still hold on its own, and a connection that
keeps asking in time must stay open past both.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from tests.conftest import LiveServer

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def answer_of(sock: socket.socket) -> bytes:
    """One answer (head and a Content-Length body), or what came before the server closed."""
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            lengths = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if lengths and len(body) >= lengths[0]:
                return data
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return data
        if not chunk:
            return data
        data += chunk


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def serve(live_server: Callable[..., LiveServer], head: int, keep_alive: int) -> LiveServer:
    return live_server(
        env={
            "SHOPWINDOW_SERVER": "uvicorn",
            "SHOPWINDOW_HEAD_TIMEOUT_SECONDS": str(head),
            "SHOPWINDOW_KEEP_ALIVE_SECONDS": str(keep_alive),
        }
    )


def test_an_idle_kept_alive_connection_closes_after_keep_alive_seconds(
    live_server: Callable[..., LiveServer],
) -> None:
    server = serve(live_server, head=4, keep_alive=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(REQUEST)
        assert status_of(answer_of(sock)) == 200
        answered = time.monotonic()
        assert closed(sock)  # silently: nothing more is written
        # Closed by the keep-alive deadline, not by the longer head deadline.
        assert time.monotonic() - answered < 3


def test_the_next_request_on_a_kept_alive_connection_has_the_head_deadline(
    live_server: Callable[..., LiveServer],
) -> None:
    server = serve(live_server, head=1, keep_alive=10)
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(REQUEST)
        assert status_of(answer_of(sock)) == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and then nothing (slowloris)
        started = time.monotonic()
        assert status_of(answer_of(sock)) == 408
        assert time.monotonic() - started < 5  # the head deadline, not keep-alive's 10 s
        assert closed(sock)
    assert "Traceback" not in server.log.read_text()


def test_a_connection_that_keeps_asking_in_time_stays_open_past_both_deadlines(
    live_server: Callable[..., LiveServer],
) -> None:
    server = serve(live_server, head=1, keep_alive=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        until = time.monotonic() + 3
        answers = 0
        while time.monotonic() < until:
            sock.sendall(REQUEST)
            assert status_of(answer_of(sock)) == 200, answers
            answers += 1
            time.sleep(0.3)
        assert answers >= 5


def test_bytes_that_begin_no_request_do_not_hold_a_kept_alive_connection(
    live_server: Callable[..., LiveServer],
) -> None:
    server = serve(live_server, head=1, keep_alive=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(REQUEST)
        assert status_of(answer_of(sock)) == 200
        # The parser skips a blank line before a request: no request has begun, yet the
        # idle deadline is over. The head deadline holds it instead.
        sock.sendall(b"\r\n")
        started = time.monotonic()
        assert status_of(answer_of(sock)) == 408
        assert time.monotonic() - started < 5
        assert closed(sock)
