"""Real nginx on loopback, started and stopped by PID: the edge example for tests, an origin for benchmarks.

`edge_site()` renders examples/nginx/ with the addresses of running shopwindow
nodes and an origin, so the integration test drives the very files operators
copy. `origin_site()` is nginx serving a static demo shop with slots: the
baseline that origin proxy mode is measured against.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from shopwindow.settings import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "nginx"
EDGE_FILES = ("shopwindow.conf", "shopwindow-proxy.conf", "shopwindow-countries.conf")
DEMO_PAGES = ("/", "/de/", "/de/women/", "/p/w-run-001.html", "/about/")


def find_binary() -> str | None:
    """nginx on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """One nginx master (daemon off) with its own prefix, config, pid file and error log."""

    def __init__(
        self,
        prefix: Path,
        files: Mapping[str, str],
        port: int,
        *,
        binary: str | None = None,
        workers: int = 1,
    ) -> None:
        binary = binary or find_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.prefix = prefix
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        conf = prefix / "conf"
        for folder in (conf, prefix / "logs", prefix / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (conf / name).write_text(text)
        (conf / "nginx.conf").write_text(main_config(prefix, workers))
        self.error_log = prefix / "logs" / "error.log"
        self._out = (prefix / "logs" / "nginx.out").open("wb")
        self.proc = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(conf / "nginx.conf"), "-e", str(self.error_log)],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._out.close()
                raise RuntimeError(f"nginx exited: {self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        parts = []
        for path in (self.error_log, self.prefix / "logs" / "nginx.out"):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main_config(prefix: Path, workers: int = 1) -> str:
    # Started as root, nginx would hand its workers to `nobody`, who cannot read a
    # private temporary folder; they run as the user who started it instead.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
master_process on;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include site.conf;
}}
"""


def edge_site(
    port: int,
    shopwindow: Sequence[str],
    origin: str,
    countries: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """examples/nginx with these addresses ("127.0.0.1:8001") and nginx listening on port."""
    files = {name: (EXAMPLE / name).read_text() for name in EDGE_FILES}
    site = files.pop("shopwindow.conf")
    site = _servers(site, "shopwindow", shopwindow)
    site = _servers(site, "origin", [origin])
    site, listens = re.subn(r"(?m)^(\s*)listen\s+80;", rf"\1listen 127.0.0.1:{port};", site)
    if listens != 1:
        raise ValueError("examples/nginx/shopwindow.conf: expected one `listen 80;`")
    files["site.conf"] = site
    if countries is not None:
        files["shopwindow-countries.conf"] = "".join(
            f"{network} {country};\n" for network, country in countries.items()
        )
    return files


def _servers(conf: str, upstream: str, addresses: Sequence[str]) -> str:
    block = re.search(rf"(?ms)^upstream {upstream} \{{\n(.*?)^\}}", conf)
    if block is None:
        raise ValueError(f"examples/nginx/shopwindow.conf: no upstream {upstream}")
    body = block.group(1)
    first = re.search(r"(?m)^(\s*)server\s+\S+?(;|\s[^;]*;)", body)
    if first is None:
        raise ValueError(f"examples/nginx/shopwindow.conf: upstream {upstream} has no server")
    indent, params = first.group(1), first.group(2)
    servers = "".join(f"{indent}server {address}{params}\n" for address in addresses)
    rest = re.sub(r"(?m)^\s*server\s+[^;]*;\n", "", body)
    return conf[: block.start(1)] + servers + rest + conf[block.end(1) :]


def static_site(port: int, root: Path) -> dict[str, str]:
    """nginx serving a folder of pages as the shop's origin would."""
    return {
        "site.conf": f"""server {{
    listen 127.0.0.1:{port};
    root {root};
    default_type text/html;
    types {{ text/html html; text/css css; image/svg+xml svg; }}
    charset utf-8;
    location / {{
        try_files $uri $uri/index.html =404;
        add_header Cache-Control "public, max-age=60";
    }}
}}
"""
    }


def write_demo_site(root: Path, products: int = 48) -> list[str]:
    """A small static shop whose pages declare shopwindow's slots; returns their paths."""
    card = (
        '<li class="card"><a href="/p/{id}.html"><img src="/img/{n}.svg" alt="" width="160" '
        'height="120"><span class="name">Runner {n} women\'s running shoe</span>'
        '<span class="price">{price:.2f} EUR</span></a></li>\n'
    )
    grid = "".join(
        card.format(id=f"w-run-{n:03d}", n=n, price=49 + n * 1.5) for n in range(products)
    )

    def page(title: str, main: str) -> str:
        return f"""<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>{title} | Demo shop</title>
<link rel="stylesheet" href="/shop.css">
<script>window.shop = {{"currency": "EUR", "template": '<div data-sw-slot="hero"></div>'}};</script>
</head><body>
<header><nav><a href="/de/">Home</a> <a href="/de/women/">Women</a> <a href="/about/">About</a></nav></header>
<section class="hero" data-sw-slot="hero"><h1>{title}</h1><p>New season, new shoes.</p></section>
<main>{main}</main>
<div data-sw-slot="recently-viewed"></div>
<aside data-sw-slot="recommendations"></aside>
<footer><p>Demo shop - static pages served as the origin.</p></footer>
</body></html>
"""

    pages = {
        "index.html": page("Welcome", f"<ul class='grid'>{grid}</ul>"),
        "de/index.html": page("Willkommen", f"<ul class='grid'>{grid}</ul>"),
        "de/women/index.html": page("Damen", f"<ul class='grid'>{grid}</ul>"),
        "p/w-run-001.html": page("Runner 1", "<p>A light running shoe.</p>" * 20),
        "about/index.html": "<!doctype html><html><body><h1>About us</h1></body></html>\n",
        "shop.css": "body { font-family: sans-serif }\n" * 20,
    }
    for name, text in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(DEMO_PAGES)


@contextlib.contextmanager
def origin_site(folder: Path, *, workers: int = 1, port: int | None = None) -> Iterator[Nginx]:
    """nginx serving the demo shop's static pages on a free loopback port (the benchmark's origin).

    Measure `server.url + path` for path in DEMO_PAGES directly, then the same
    paths through `shopwindow serve --origin server.url`.
    """
    root = folder / "site"
    write_demo_site(root)
    port = port or free_port()
    server = Nginx(folder / "nginx", static_site(port, root), port, workers=workers)
    try:
        yield server
    finally:
        server.stop()
