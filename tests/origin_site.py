"""A small real origin site for the proxy and nginx tests: scripted pages on a free loopback port.

It answers over real HTTP/1.1 (keep-alive, chunked bodies both ways) and
remembers every request it was sent, headers included, so a test can check
what crossed the proxy. Its `events` log says in which order requests arrived
(their head read) and were answered, without any clock.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return ", ".join(values) if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]


Page = Callable[[Seen], Answer] | Answer


def html(body: str, *headers: tuple[str, str], status: int = 200) -> Answer:
    return status, [("Content-Type", "text/html; charset=utf-8"), *headers], body.encode()


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that left mid-request (the tests abort uploads on purpose) is no error.
        if isinstance(sys.exc_info()[1], ConnectionError | ValueError):
            return
        super().handle_error(request, client_address)


class OriginSite:
    """Pages by path (without the query); anything else is `default`, or a 404."""

    def __init__(
        self, pages: dict[str, Page], host: str = "127.0.0.1", default: Page | None = None
    ) -> None:
        self.pages = pages
        self.default = default
        self.seen: list[Seen] = []
        self.events: list[tuple[str, str]] = []  # ("arrived" | "answered", path), in order
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.events.append(("arrived", path))
                try:
                    self._reply()
                finally:
                    with site._lock:
                        site.events.append(("answered", path))

            def _reply(self) -> None:
                seen = Seen(
                    self.command,
                    self.path,
                    [(k.lower(), v) for k, v in self.headers.items()],
                    self._body(),
                )
                with site._lock:
                    site.seen.append(seen)
                page = site.pages.get(self.path.split("?", 1)[0], site.default)
                if page is None:
                    status, headers, body = html("<h1>Not here</h1>", status=404)
                elif callable(page):
                    status, headers, body = page(seen)
                else:
                    status, headers, body = page
                self.send_response(status)
                names = {k.lower() for k, _ in headers}
                for name, value in headers:
                    self.send_header(name, value)
                chunked = "transfer-encoding" in names
                if not chunked and "content-length" not in names:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "HEAD" or status in (204, 304):
                    return
                if chunked:
                    for start in range(0, len(body), 1000):
                        piece = body[start : start + 1000]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.wfile.write(body)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

        self.server = QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def arrived(self, path: str) -> int:
        with self._lock:
            return sum(1 for event in self.events if event == ("arrived", path))

    def wait_arrived(self, path: str, count: int, timeout: float = 10.0) -> None:
        """Until `count` requests for path have arrived (their head read); bounded."""
        deadline = time.monotonic() + timeout
        while self.arrived(path) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} requests for {path} did not reach the origin")
            time.sleep(0.02)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for s in self.seen if s.path.split("?", 1)[0] == path)

    def last(self, path: str) -> Seen:
        with self._lock:
            return [s for s in self.seen if s.path.split("?", 1)[0] == path][-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
