"""An answer's head and body leave in one write: CoalescedWrites, under uvicorn's protocol."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

from shopwindow.serve.httpserver import FLUSH_AT, CoalescedWrites

from .conftest import LiveServer


class Wire:
    """What the connection's real transport was asked to do."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _run(body: Callable[[CoalescedWrites, Wire], None]) -> Wire:
    wire = Wire()

    async def main() -> None:
        writes = CoalescedWrites(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
        body(writes, wire)
        await asyncio.sleep(0)  # the end of this turn of the loop

    asyncio.run(main())
    return wire


def test_writes_in_one_turn_go_out_as_one() -> None:
    def answer(writes: CoalescedWrites, wire: Wire) -> None:
        writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        writes.write(b"")
        writes.write(b"ok")
        assert wire.writes == []  # held until the turn ends

    wire = _run(answer)
    assert wire.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]


def test_closing_writes_what_is_held_first() -> None:
    def answer(writes: CoalescedWrites, wire: Wire) -> None:
        writes.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        writes.close()
        assert wire.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and wire.closed
        writes.write(b"late")  # to a closed connection: dropped, as the transport's own are

    wire = _run(answer)
    assert wire.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]


def test_a_large_answer_is_not_held_back() -> None:
    chunk = b"x" * (FLUSH_AT // 2)

    def answer(writes: CoalescedWrites, wire: Wire) -> None:
        writes.write(chunk)
        writes.write(chunk)
        assert wire.writes == [chunk + chunk]  # written at once, for flow control to see
        writes.write(b"tail")

    wire = _run(answer)
    assert wire.writes == [chunk + chunk, b"tail"]
    assert _run(lambda writes, wire: None).writes == []


def test_the_rest_is_the_transports_own() -> None:
    def answer(writes: CoalescedWrites, wire: Wire) -> None:
        assert writes.get_extra_info("peername") == "info:peername"
        assert not writes.is_closing()

    _run(answer)


def _writes(pid: int) -> int:
    """Write system calls the process has made so far (all its threads)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/PID/io")


def test_a_served_answer_is_one_write(live_server: Callable[..., LiveServer]) -> None:
    """Over a real connection, each answer with a body costs the server one write, not two."""
    # CoalescedWrites is part of the uvicorn setup (granian writes an answer once itself).
    server = live_server("--server", "uvicorn")
    host, n = "127.0.0.1", 200
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, server.port), timeout=5) as sock:
        sock.sendall(request)
        assert sock.recv(65536).endswith(b"\r\n\r\nok")
        before = _writes(server.proc.pid)
        for _ in range(n):
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b"\r\n\r\nok"):
                answer += sock.recv(65536)
        written = _writes(server.proc.pid) - before
    assert n <= written < n * 1.25, f"{written} writes for {n} answers"
