"""Process life against the real server: graceful shutdown, crashed workers, SIGHUP, broken edits.

SIGTERM lets requests in flight finish and flushes every counter (the on_stop
hooks run in each uvicorn worker); a worker killed with SIGKILL is replaced by
the supervisor while the others keep answering; SIGHUP reloads the rules with
one worker (in place) and with several (uvicorn restarts the workers, which
read the rules afresh); a worker that starts while a broken edit is on disk
starts from the last good rules instead of taking the service down.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from click.testing import CliRunner

from shopwindow.cli.main import main
from tests.conftest import LiveServer
from tests.test_reload import BROKEN, VALID_A, VALID_B, wait_for
from tests.test_stats_http import stats_cli


def workers_of(server: LiveServer) -> set[int]:
    """The supervisor's worker processes (multiprocessing spawns; not its resource tracker).

    Found by each process's parent in /proc/N/stat: the kernel's per-thread `children`
    list can miss a child while others come and go.
    """
    pid = server.proc.pid
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if len(fields) < 2 or int(fields[1]) != pid or fields[0] == "Z":
            continue  # another's process, or killed and not yet collected by the supervisor
        # uvicorn spawns its workers (multiprocessing), granian forks them (the same command)
        if b"resource_tracker" not in command and (
            b"spawn_main" in command or b"shopwindow serve" in command
        ):
            found.add(int(entry.name))
    return found


def wait_for_workers(server: LiveServer, count: int, timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workers_of(server)
        if len(found) == count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers, found {workers_of(server)}")


def locations(url: str, n: int = 20) -> set[str]:
    """Where `/` sends a visitor, over fresh connections (so each worker gets asked)."""
    found = set()
    for _ in range(n):
        with httpx.Client(base_url=url, timeout=10) as http:
            found.add(http.get("/").headers["location"])
    return found


class Traffic:
    """A steady stream of homepage requests on fresh connections, counting what fails."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with httpx.Client(base_url=self.url, timeout=10) as http:
                    response = http.get("/")
                if response.status_code == 302:
                    self.ok += 1
                else:
                    self.failed.append(str(response.status_code))
            except httpx.HTTPError as exc:
                self.failed.append(repr(exc))


# --- graceful shutdown ------------------------------------------------------------------


def slow_purchase(server: LiveServer, cookie: str) -> tuple[socket.socket, bytes]:
    """A beacon whose body is still arriving: the head now, the body later."""
    body = orjson.dumps(
        {
            "type": "purchase",
            "order_id": "in-flight-1",
            "items": [{"product_id": "w-dress-001", "price": 60.0}],
        }
    )
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    head = (
        f"POST /_sw/events HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        f"Cookie: sw={cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:10])
    return sock, body[10:]


def test_sigterm_finishes_requests_in_flight_and_flushes_every_counter(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    # The flushers would wait an hour: only the flush on shutdown can save these counts.
    env = {"SHOPWINDOW_STATS_FLUSH_SECONDS": "3600"}
    server = live_server("--workers", "2", env=env)
    wait_for_workers(server, 2)
    shoppers: list[str] = []
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for n in range(6):
            http.cookies.clear()
            http.post("/_sw/events", json={"type": "view", "product_id": "w-dress-001"})
            home = http.get("/", follow_redirects=False)
            assert home.status_code == 302
            shoppers.append(http.cookies["sw"])
            campaign = {"utm_source": "newsletter", "utm_campaign": f"unplanned-{n}"}
            assert http.get("/", params=campaign).status_code == 200
    sock, rest = slow_purchase(server, shoppers[0])
    try:
        time.sleep(0.5)  # the request is in a worker, waiting for its body
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # shutdown has begun while the body is still on its way
        assert server.proc.poll() is None
        sock.sendall(rest)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert b'"accepted":1' in answer
    assert server.proc.wait(timeout=30) == 0
    # Both workers' exposures, the in-flight purchase, and the unmatched campaigns: all written.
    stats = stats_cli(rules_dir)
    rows = [row for e in stats["experiments"] for row in e["variants"]]
    assert sum(row["exposures"] for row in rows) >= 6, stats
    # The only purchase was the one in flight (a visitor shown two rules converts for both).
    assert sum(row["conversions"] for row in rows) >= 1, stats
    unmatched = CliRunner().invoke(
        main, ["campaigns", "--unmatched", "--rules", str(rules_dir), "--json"]
    )
    assert unmatched.exit_code == 0, unmatched.output
    names = {row["campaign"] for row in orjson.loads(unmatched.output)}
    assert {f"unplanned-{n}" for n in range(6)} <= names, names


def test_a_connection_accepted_just_before_sigterm_still_gets_its_answer(
    live_server: Callable[..., LiveServer],
) -> None:
    """uvicorn closed connections whose request had not been read yet when the shutdown
    began: a request already on its way was lost (seen in rolling SIGHUP restarts)."""
    server = live_server("--server", "uvicorn")  # serve/httpserver.py; granian closes it
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/healthz").status_code == 200  # the connection above is accepted
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the shutdown has begun; the request is only now sent
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b"connection: close" in answer.lower()
    # uvicorn exits by the signal it was stopped with, once it has shut down cleanly.
    assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)


# --- crashed workers ----------------------------------------------------------------------


def test_a_killed_worker_is_replaced_while_the_others_keep_answering(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server("--workers", "2")
    before = wait_for_workers(server, 2)
    victim = min(before)
    with Traffic(server.url) as traffic:
        wait_for(lambda: traffic.ok > 20)
        os.kill(victim, signal.SIGKILL)
        served_at_kill = traffic.ok
        wait_for(lambda: victim not in workers_of(server))
        after = wait_for_workers(server, 2)
        assert victim not in after and len(after - before) == 1
        wait_for(lambda: traffic.ok > served_at_kill + 50)
    assert server.proc.poll() is None
    assert len(traffic.failed) <= 1, traffic.failed  # at most the request the kill cut off
    assert locations(server.url) == {locations(server.url, 1).pop()}


def test_a_worker_restarted_while_a_broken_edit_is_on_disk_keeps_the_service_up(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    """The replacement worker used to refuse the broken rules at start; uvicorn's supervisor
    took that for a startup failure and stopped the whole service."""
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    server = live_server("--workers", "2")
    before = wait_for_workers(server, 2)
    homepage.write_text(BROKEN)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        wait_for(lambda: "rule_errors" in http.get("/readyz").json())
    os.kill(min(before), signal.SIGKILL)
    wait_for(lambda: min(before) not in workers_of(server))
    after = wait_for_workers(server, 2)
    assert min(before) not in after
    time.sleep(1.0)  # long enough for a failed start to stop the supervisor
    assert server.proc.poll() is None, server.log.read_text()[-2000:]
    assert locations(server.url, 30) == {"/a/"}  # every worker serves the last good rules
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for _ in range(10):
            errors = http.get("/readyz").json()["rule_errors"]
            assert any("homepage.yaml:3:5: unknown context key 'contry'" in e for e in errors)
    homepage.write_text(VALID_B)  # the fix is picked up by old and new workers alike
    wait_for(lambda: locations(server.url, 10) == {"/b/"})


# --- SIGHUP -------------------------------------------------------------------------------


def same_size_and_time_edit(path: Path, text: str) -> None:
    """An edit the file watcher cannot see: only SIGHUP picks it up."""
    stat = path.stat()
    assert len(text) == stat.st_size
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_sighup_with_several_workers_reloads_the_rules(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    server = live_server("--workers", "2")
    before = wait_for_workers(server, 2)
    assert locations(server.url) == {"/a/"}
    same_size_and_time_edit(homepage, VALID_A.replace("/a/", "/z/"))
    time.sleep(1.5)  # the watchers have had their chance and see nothing new
    assert locations(server.url) == {"/a/"}
    with Traffic(server.url) as traffic:
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: locations(server.url, 10) == {"/z/"}, timeout=60)
    # uvicorn's supervisor answers SIGHUP by replacing each worker once its successor is up.
    assert wait_for_workers(server, 2).isdisjoint(before)
    assert traffic.failed == [], traffic.failed


def test_sighup_with_a_broken_edit_on_disk_keeps_serving_the_last_good_rules(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    server = live_server("--workers", "2")
    before = wait_for_workers(server, 2)
    homepage.write_text(BROKEN)
    with Traffic(server.url) as traffic:
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: wait_for_workers(server, 2).isdisjoint(before), timeout=60)
    assert server.proc.poll() is None
    assert traffic.failed == [], traffic.failed
    assert locations(server.url) == {"/a/"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert "rule_errors" in http.get("/readyz").json()


def test_sighup_with_one_worker_reloads_in_place(
    live_server: Callable[..., LiveServer], rules_dir: Path
) -> None:
    homepage = rules_dir / "homepage.yaml"
    homepage.write_text(VALID_A)
    server = live_server()
    pid = server.proc.pid
    same_size_and_time_edit(homepage, VALID_A.replace("/a/", "/y/"))
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: locations(server.url, 1) == {"/y/"})
    assert server.proc.pid == pid and server.proc.poll() is None
