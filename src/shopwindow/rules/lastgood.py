"""The last rule files that compiled, kept beside the running service for workers that start later.

A running worker keeps its last good rules compiled in memory when an edit breaks
them, and their files here: a new catalog is compiled with them while the edit
on disk stays broken (stock and prices keep flowing).
A worker that starts while the broken edit is on disk (a crashed worker being
replaced, a SIGHUP restart with several workers) has nothing in memory: without
this copy it would refuse to start, and uvicorn's supervisor then stops the
whole service. With it, the new worker starts from the same last good rules as
its siblings and reports the broken edit like they do.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path

import orjson

from shopwindow.rules.rulefiles import Fingerprint, fingerprint

log = logging.getLogger("shopwindow")

ENV = "SHOPWINDOW_LAST_GOOD_RULES"
RULE_SUFFIXES = (".yaml", ".yml")


class LastGoodRules:
    """The files in memory, and (under `serve`) in one JSON file {name: text} every worker shares."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._files: dict[str, str] | None = None

    @staticmethod
    def for_this_run() -> LastGoodRules:
        """A fresh copy for this `serve` (never one left by an earlier run), removed at exit."""
        existing = os.environ.get(ENV)
        if existing:
            return LastGoodRules(existing)
        folder = tempfile.mkdtemp(prefix="shopwindow-rules-")
        atexit.register(shutil.rmtree, folder, True)
        path = os.path.join(folder, "last-good.json")
        os.environ[ENV] = path  # worker processes inherit it
        return LastGoodRules(path)

    @staticmethod
    def from_environment() -> LastGoodRules:
        return LastGoodRules(os.environ.get(ENV) or None)

    def save(self, folder: str, compiled: Fingerprint) -> None:
        """Keep the folder's rule files, if they are still the ones that compiled."""
        try:
            files = {
                entry.name: entry.read_text(encoding="utf-8")
                for entry in sorted(Path(folder).iterdir())
                if entry.suffix in RULE_SUFFIXES and entry.is_file()
            }
            if fingerprint(folder) != compiled:
                return  # edited meanwhile: the next reload saves what it compiles
            self._files = files
            if self.path is None:
                return
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(self.path), suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(orjson.dumps(files))
            os.replace(temporary, self.path)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("last good rules not saved to %s: %s", self.path, exc)

    def restore(self) -> str | None:
        """The saved files in a new private folder (the caller removes it), or None."""
        files = self._files
        if files is None and self.path is not None:
            try:
                files = orjson.loads(Path(self.path).read_bytes())
            except (OSError, orjson.JSONDecodeError):
                return None
        if not files:
            return None
        folder = tempfile.mkdtemp(prefix="shopwindow-last-good-")
        for name, text in files.items():
            if os.path.basename(name) == name and name.endswith(RULE_SUFFIXES):
                Path(folder, name).write_text(text, encoding="utf-8")
        return folder
