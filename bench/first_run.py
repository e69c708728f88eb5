"""`make first-run-check`: how long a new user waits for a first `make serve` to answer.

Clones this checkout's committed HEAD into a temporary folder, runs `make serve`
there with an empty pip cache, and times it until the demo shop answers `GET /`.
Prints make's output as it goes, each line with the seconds since the start, and
exits 1 past the budget. It downloads every dependency, so it needs the package
index; it is a measurement, never part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        # Any HTTP answer counts, a redirect included: the server is up and deciding.
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", default=str(ROOT), help="the repository to clone")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this long")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS)
    args = parser.parse_args(argv)

    commit = subprocess.run(
        ["git", "-C", args.repo, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"first run of commit {commit} on {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, {platform.machine()}",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="shopwindow-first-run-"))
    port = free_port()
    started = time.monotonic()
    proc: subprocess.Popen[str] | None = None
    try:
        clone = work / "shopwindow"
        subprocess.run(["git", "clone", "--quiet", args.repo, str(clone)], check=True)
        env = {
            **os.environ,
            "PIP_CACHE_DIR": str(work / "pip-cache"),  # empty: every package is downloaded
            "SHOPWINDOW_PORT": str(port),
        }
        env.pop("VIRTUAL_ENV", None)
        proc = subprocess.Popen(
            ["make", "serve"],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=_echo, args=(proc, started), daemon=True).start()
        url = f"http://127.0.0.1:{port}/"
        while time.monotonic() - started < args.timeout:
            if proc.poll() is not None:
                print(f"make serve ended with {proc.returncode} before answering", flush=True)
                return 1
            if answers(url):
                break
            time.sleep(0.5)
        else:
            print(f"no answer within {args.timeout:.0f} s", flush=True)
            return 1
        took = time.monotonic() - started
        verdict = "ok" if took <= args.budget else "OVER BUDGET"
        print(
            f"\nfirst answer from {url} after {took:.1f} s (budget {args.budget:.0f} s): {verdict}"
        )
        return 0 if took <= args.budget else 1
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def _echo(proc: subprocess.Popen[str], started: float) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"[{time.monotonic() - started:6.1f} s] {line.rstrip()}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
