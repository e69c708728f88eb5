"""shopwindow: landing-page personalization at the edge.

The request path's modules may also be compiled (setup.py, `make compile`): Python
imports a module's extension file before its source. The source stays the
reference. It is imported instead when SHOPWINDOW_PURE=1, and, in a source
checkout, for any module whose source changed after it was compiled (an edit
takes effect at once; `make compile` brings it back up to speed).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent


def compiled_files(package: Path = _HERE) -> dict[str, Path]:
    """Each module of the package that has a compiled extension file, by name."""
    found: dict[str, Path] = {}
    for path in package.iterdir():
        # The longest suffix first: ".cpython-311-x86_64-linux-gnu.so" before ".so".
        for suffix in sorted(EXTENSION_SUFFIXES, key=len, reverse=True):
            if path.name.endswith(suffix):
                found.setdefault(path.name[: -len(suffix)], path)
                break
    return found


def stale(package: Path = _HERE) -> set[str]:
    """Modules whose source is newer than their compiled file (edited since `make compile`)."""
    out: set[str] = set()
    for name, compiled in compiled_files(package).items():
        source = package / f"{name}.py"
        try:
            if source.stat().st_mtime > compiled.stat().st_mtime:
                out.add(name)
        except OSError:
            continue
    return out


class SourceFinder:
    """Imports the named modules of the package from their .py source."""

    def __init__(self, package: str, directory: Path, names: set[str]) -> None:
        self.package = package
        self.directory = directory
        self.names = frozenset(names)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != self.package or name not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, self.directory / f"{name}.py")


def compiled_modules() -> list[str]:
    """The shopwindow modules imported so far that run compiled."""
    out = []
    for name, module in list(sys.modules.items()):
        if name.startswith(f"{__name__}.") and not str(getattr(module, "__file__", "")).endswith(
            ".py"
        ):
            out.append(name.rpartition(".")[2])
    return sorted(out)


def _choose_sources() -> set[str]:
    compiled = compiled_files()
    if not compiled:
        return set()
    if os.environ.get("SHOPWINDOW_PURE") == "1":
        sources = set(compiled)
    elif (_HERE.parent.parent / "pyproject.toml").is_file():  # a source checkout
        sources = stale()
        if sources:
            logging.getLogger(__name__).warning(
                "shopwindow: %s changed since compiled; running the source (make compile)",
                ", ".join(sorted(sources)),
            )
    else:
        return set()
    if sources:
        sys.meta_path.insert(0, SourceFinder(__name__, _HERE, sources))
    return sources


_SOURCES = _choose_sources()


def build() -> str:
    """How this copy runs its request path, for the startup line and the benchmark."""
    compiled = set(compiled_files()) - _SOURCES
    if not compiled:
        if os.environ.get("SHOPWINDOW_PURE") == "1":
            return "pure Python (SHOPWINDOW_PURE=1)"
        return "pure Python"
    text = f"compiled: {len(compiled)} modules"
    if _SOURCES:
        text += f", {len(_SOURCES)} from source (changed since compiled)"
    return text
