"""Shared fixtures: settings over a copy of the demo shop, an in-process client, a real server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient

from shopwindow import settings as settings_mod
from shopwindow.app import create_app
from shopwindow.settings import PROJECT_ROOT, Settings

STRICT = os.environ.get("SHOPWINDOW_STRICT") == "1"
DEMO_RULES = PROJECT_ROOT / "rules"
DEMO_CATALOG = PROJECT_ROOT / "demo" / "catalog.jsonl"
TEMPLATES = PROJECT_ROOT / "templates"
SECRET = "test-secret-for-shopwindow"
# The key the shop's backend signs customer ids with (visitor/identity.py); tests prove ids with it.
IDENTITY_SECRET = "test-identity-secret-for-shopwindow-0123456789abcdef"


def identify_event(customer_id: str) -> dict[str, str]:
    """An identify beacon event with the proof a shop's backend would add."""
    from shopwindow.visitor.identity import user_hash

    return {
        "type": "identify",
        "customer_id": customer_id,
        "user_hash": user_hash(IDENTITY_SECRET, customer_id),
    }


# CI runs are repeatable: the same examples every run (tests keep their own bounded
# max_examples). Chosen by HYPOTHESIS_PROFILE=ci, as .ci/run sets, or CI=true.
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else ""
)
if _PROFILE:
    hypothesis_settings.load_profile(_PROFILE)


# The demo shop's own files: no test may write to them (a stats store beside the demo
# rules would show a test run's fake exposures in the demo's `shopwindow stats`).
DEMO_FOLDERS = (DEMO_RULES, PROJECT_ROOT / "demo", TEMPLATES)


def demo_files() -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under rules/, demo/ and templates/, by path."""
    found: dict[str, tuple[int, int]] = {}
    for folder in DEMO_FOLDERS:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                st = path.stat()
                found[str(path.relative_to(PROJECT_ROOT))] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="session", autouse=True)
def demo_files_untouched() -> Iterator[None]:
    """Fails the run when any test created, changed or removed a file of the demo shop."""
    before = demo_files()
    yield
    after = demo_files()
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    if changed:
        pytest.fail(f"the run changed the demo shop's files: {', '.join(changed)}", pytrace=False)


def require(binary: str) -> str:
    """Path of a real component the test needs; skip without it, or fail under SHOPWINDOW_STRICT=1."""
    path = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if path is None:
        message = f"{binary} is not installed (apt-get install it; .ci/run does)"
        if STRICT:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A writable copy of the demo rules folder (its settings file points at the demo catalog).

    Without the demo's markets: one store per country, as in a shop that declares
    none. Market tests add them back with `add_demo_markets`.
    """
    target = tmp_path / "rules"
    shutil.copytree(DEMO_RULES, target, ignore=shutil.ignore_patterns("*.sqlite3*", "markets.yaml"))
    toml = target / "shopwindow.toml"
    if toml.exists():
        text = toml.read_text()
        text = text.replace('"../demo/', f'"{PROJECT_ROOT}/demo/').replace(
            '"../templates"', f'"{TEMPLATES}"'
        )
        toml.write_text(text)
    return target


def add_demo_markets(rules: Path) -> None:
    """The demo's markets.yaml in a rules copy (a market's own feed is named relative to it)."""
    text = (DEMO_RULES / "markets.yaml").read_text()
    (rules / "markets.yaml").write_text(text.replace("../demo/", f"{PROJECT_ROOT}/demo/"))


def build_settings(rules: Path, **overrides: Any) -> Settings:
    env = {"SHOPWINDOW_SECRET": SECRET, "SHOPWINDOW_IDENTITY_SECRET": IDENTITY_SECRET}
    cli = {
        k: v
        for k, v in overrides.items()
        if k in settings_mod.BY_NAME and settings_mod.BY_NAME[k].flag
    }
    settings = settings_mod.load({"rules": str(rules), **cli}, environ=env)
    rest = {k: v for k, v in overrides.items() if k not in cli}
    return settings.replace(**rest) if rest else settings


@pytest.fixture
def make_settings(rules_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return build_settings(rules_dir, **overrides)

    return make


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """An in-process client; `peer` sets the TCP peer address the app sees."""
    clients: list[TestClient] = []

    def make(peer: str = "203.0.113.9", **overrides: Any) -> TestClient:
        app = create_app(make_settings(**overrides), watch=False)
        client = TestClient(app, client=(peer, 50000), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


class LiveServer:
    """`shopwindow serve` in a subprocess on a free port, as an operator would run it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "SHOPWINDOW_SECRET": SECRET,
            "SHOPWINDOW_IDENTITY_SECRET": IDENTITY_SECRET,
            **env,
        }
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"shopwindow-{self.port}.log"
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shopwindow", "serve", "--port", str(self.port), *args],
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the server and its workers
        )
        self.wait_ready()

    def signal(self, sig: int) -> None:
        """Send a signal to the whole server (the supervisor and every worker process)."""
        os.killpg(self.proc.pid, sig)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # no worker outlives its test
        self._log_file.close()


@pytest.fixture
def live_server(rules_dir: Path) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(
        *args: str, env: dict[str, str] | None = None, rules: Path | None = None
    ) -> LiveServer:
        server = LiveServer(["--rules", str(rules or rules_dir), *args], env or {})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class RedisServer:
    """A real redis-server on a free loopback port, with its own folder; stopped after the test."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(require("redis-server"), tmp_path / "redis")
    yield server
    server.stop()


def http_scope(
    method: str,
    path: str,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    server: str = "testserver",
) -> dict[str, Any]:
    """An HTTP request's ASGI scope, as a server hands it to the app."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": headers or [],
        "client": ("203.0.113.9", 5000),
        "server": (server, 80),
    }


def steady_visitor_cookie(rule_id: str = "gender-home") -> str:
    """A fresh visitor's cookie whose id is outside the demo split's holdout.

    The demo holds 10% of visitors out of `gender-home`; tests of the journey
    itself start from such a visitor so they do not depend on a random id.
    """
    import time as _time

    from shopwindow.visitor.cookie import CookieCodec, Visitor

    visitor = Visitor.fresh(int(_time.time()))
    visitor.id = steady_visitor_id(rule_id)
    return CookieCodec(SECRET, 365).encode(visitor)


def steady_visitor_id(rule_id: str = "gender-home") -> str:
    from shopwindow.rules.rules import bucket_of

    n = 0
    while bucket_of(f"{rule_id}:holdout", f"steady-visitor-{n}") < 2000:
        n += 1
    return f"steady-visitor-{n}"


# MaxMind's own test databases (good, wrong-type and corrupt ones), from the maxminddb
# source distribution: fetched once from the package index into a git-ignored cache.
MAXMIND_CACHE = PROJECT_ROOT / "tests" / ".cache" / "maxminddb"


def _fetch_maxmind_test_data() -> Path | None:
    import importlib.metadata
    import tarfile
    import tempfile

    ready = MAXMIND_CACHE / "test-data" / "GeoIP2-Country-Test.mmdb"
    if ready.exists():
        return MAXMIND_CACHE
    version = importlib.metadata.version("maxminddb")
    with tempfile.TemporaryDirectory() as tmp:
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", f"maxminddb=={version}", "--no-binary",
             ":all:", "--no-deps", "-q", "-d", tmp],
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        archives = list(Path(tmp).glob("maxminddb-*.tar.gz"))
        if fetched.returncode != 0 or not archives:
            return None
        MAXMIND_CACHE.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=MAXMIND_CACHE.parent))
        with tarfile.open(archives[0]) as sdist:
            for member in sdist.getmembers():
                parts = Path(member.name).parts
                wanted = len(parts) > 4 and parts[1:3] == ("tests", "data")
                if wanted and parts[3] in ("test-data", "bad-data") and parts[-1].endswith(".mmdb"):
                    source = sdist.extractfile(member)
                    if source is None:
                        continue
                    target = staging.joinpath(*parts[3:])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(source.read())
        shutil.rmtree(MAXMIND_CACHE, ignore_errors=True)
        staging.rename(MAXMIND_CACHE)
    return MAXMIND_CACHE if ready.exists() else None


@pytest.fixture(scope="session")
def maxmind_data() -> Path:
    """The folder holding MaxMind's test-data/ and bad-data/ databases."""
    found = _fetch_maxmind_test_data()
    if found is None:
        message = "MaxMind's test databases could not be fetched (pip download maxminddb)"
        if STRICT:
            pytest.fail(message)
        pytest.skip(message)
    return found
