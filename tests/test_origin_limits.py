"""Slow and stuck clients on a real server in origin mode: body deadlines, shares of the origin connections."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import LiveServer
from tests.origin_site import Answer, OriginSite, Seen, html

HOLD_SECONDS = 30.0  # the slow page's bound; the test releases it long before


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def site(release: threading.Event) -> Iterator[OriginSite]:
    def slow_page(seen: Seen) -> Answer:
        release.wait(HOLD_SECONDS)
        return html("<html><body>slow</body></html>")

    def upload(seen: Seen) -> Answer:
        return 201, [("Content-Type", "text/plain")], b"stored %d bytes" % len(seen.body)

    site = OriginSite(
        {
            "/slow-page": slow_page,
            "/upload": upload,
            "/about/": html("<html><body><h1>About</h1></body></html>"),
        }
    )
    yield site
    release.set()
    site.close()


def open_upload(
    server: LiveServer, path: str, client: str, sent: bytes = b"x" * 10
) -> socket.socket:
    """A request whose body starts but does not finish (Content-Length says 1000)."""
    kind = "application/x-www-form-urlencoded" if "stats" in path else "application/json"
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    conn.sendall(
        f"POST {path} HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: {client}\r\n"
        f"Content-Type: {kind}\r\nContent-Length: 1000\r\n\r\n".encode()
        + sent
    )
    return conn


def open_get(server: LiveServer, path: str, client: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    conn.sendall(
        f"GET {path} HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: {client}\r\n\r\n".encode()
    )
    return conn


def read_answer(conn: socket.socket) -> tuple[int, bytes]:
    """Status and everything the server sent until it closed the connection (or a bounded wait)."""
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and b"content-length" in data.lower():
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    except TimeoutError:
        pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data


def closed_by_server(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        return False


def get(server: LiveServer, path: str, client: str) -> tuple[int, bytes]:
    with open_get(server, path, client) as conn:
        return read_answer(conn)


def test_slow_uploads_and_a_slow_page_leave_room_for_everyone_else(
    live_server: Callable[..., LiveServer], site: OriginSite, release: threading.Event
) -> None:
    server = live_server(
        "--origin",
        site.url,
        "--trusted-proxy",
        "127.0.0.1",
        env={
            "SHOPWINDOW_MAX_CONNECTIONS": "10",
            "SHOPWINDOW_ORIGIN_CLIENT_REQUESTS": "2",
            "SHOPWINDOW_ORIGIN_PATH_REQUESTS": "2",
            "SHOPWINDOW_ORIGIN_CONNECTIONS": "8",
        },
    )
    held: list[socket.socket] = []
    try:
        # One address starts two uploads that never finish: both reach the origin.
        held += [open_upload(server, "/upload", "198.51.100.1") for _ in range(2)]
        site.wait_arrived("/upload", 2)
        # A third from the same address is over its share: 503 at once, connection closed.
        with open_upload(server, "/upload", "198.51.100.1") as third:
            status, data = read_answer(third)
            assert status == 503
            assert b"retry-after: 1" in data.lower()
            assert closed_by_server(third)
        # Two shoppers wait for one slow origin page; a third is over the path's share.
        held += [open_get(server, "/slow-page", f"198.51.100.{n}") for n in (2, 3)]
        site.wait_arrived("/slow-page", 2)
        status, data = get(server, "/slow-page", "198.51.100.4")
        assert status == 503
        assert b"retry-after" in data.lower()
        # Everyone else is served while all of that is still open.
        status, data = get(server, "/about/", "198.51.100.9")
        assert status == 200
        assert b"<h1>About</h1>" in data
        events = list(site.events)
        about = events.index(("arrived", "/about/"))
        assert ("answered", "/upload") not in events[:about]
        assert ("answered", "/slow-page") not in events[:about]
        assert site.arrived("/upload") == 2 and site.arrived("/slow-page") == 2
        # Released, the slow page answers its waiting shoppers, and its share is free again.
        release.set()
        for conn in held[2:]:
            assert read_answer(conn)[0] == 200
        assert get(server, "/slow-page", "198.51.100.4")[0] == 200
    finally:
        for conn in held:
            conn.close()


@pytest.fixture
def deadline_server(live_server: Callable[..., LiveServer], site: OriginSite) -> LiveServer:
    return live_server(
        "--origin",
        site.url,
        env={
            "SHOPWINDOW_BODY_IDLE_SECONDS": "0.3",
            "SHOPWINDOW_BODY_TOTAL_SECONDS": "1.5",
            "SHOPWINDOW_STATS_TOKEN": "report-token-for-tests",
        },
    )


@pytest.mark.parametrize(
    "path",
    ["/_sw/events", "/_sw/stats/report", "/upload"],
    ids=["beacon", "stats-login", "proxied-upload"],
)
def test_a_body_that_stops_arriving_is_answered_408_and_closed(
    deadline_server: LiveServer, path: str
) -> None:
    with open_upload(deadline_server, path, "198.51.100.1") as conn:
        status, data = read_answer(conn)
        assert status == 408, data
        assert b"request body stopped arriving" in data
        assert closed_by_server(conn)
    # The server goes on serving; the log has one line for it, no traceback.
    assert get(deadline_server, "/healthz", "198.51.100.1")[0] == 200
    log = deadline_server.log.read_text()
    assert f"POST {path}: request body stopped arriving, answered 408" in log
    assert "Traceback" not in log


def test_a_body_that_trickles_past_the_total_deadline_is_answered_408(
    deadline_server: LiveServer,
) -> None:
    stop = threading.Event()
    with open_upload(deadline_server, "/_sw/events", "198.51.100.1", b"[") as conn:

        def trickle() -> None:
            # One byte well within the idle time, until the server answers.
            while not stop.wait(0.1):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            status, data = read_answer(conn)
        finally:
            stop.set()
            sender.join(5)
        assert status == 408, data
        assert b"request body not received in time" in data


@pytest.mark.parametrize("path", ["/_sw/events", "/upload"], ids=["beacon", "proxied-upload"])
def test_an_aborted_upload_is_one_log_line(
    live_server: Callable[..., LiveServer], site: OriginSite, path: str
) -> None:
    server = live_server("--origin", site.url)
    conn = open_upload(server, path, "198.51.100.1")
    if path == "/upload":
        site.wait_arrived("/upload", 1)
    conn.close()
    line = f"POST {path}: client left before its request body was complete"
    deadline = threading.Event()
    for _ in range(100):  # bounded: the line appears once the server notices the close
        if line in server.log.read_text():
            break
        deadline.wait(0.05)
    log = server.log.read_text()
    assert log.count(line) == 1, log
    assert "Traceback" not in log
    assert get(server, "/about/", "198.51.100.1")[0] == 200
