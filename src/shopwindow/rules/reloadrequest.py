"""`shopwindow reload`: a small file every worker of the node watches, so one command reaches them all."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import orjson

# A request as a worker sees it: (inode, size, mtime) of the file, None when absent.
Stamp = tuple[int, int, int] | None


def request_path(rules: str) -> Path:
    """Where requests for the shop serving the rules folder `rules` are left.

    Named after the folder's path as given (not where a symlink leads: a flipped
    symlink is the same shop), in the temporary folder both the server and the
    command see.
    """
    key = hashlib.sha256(os.path.abspath(rules).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir(), f"shopwindow-reload-{key}.json")


def request_reload(rules: str, *, accept_catalog: bool = False) -> Path:
    """Ask every worker serving `rules` to re-read rules and catalog now."""
    target = request_path(rules)
    body = orjson.dumps({"accept_catalog": accept_catalog, "at": time.time_ns()})
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".partial")
    with os.fdopen(handle, "wb") as out:
        out.write(body)
    os.replace(partial, target)
    return target


def stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def accepts_catalog(path: Path) -> bool:
    """Whether the request at path takes a feed the shop would otherwise refuse."""
    try:
        return bool(orjson.loads(path.read_bytes()).get("accept_catalog"))
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return False
